// Renders the krew manifest template (plugin.yaml) for a release and checks the result the way
// krew will read it: each platform's sha256 must be that of the archive its uri names.
import { loadYaml } from '@kubernetes/client-node';

interface Platform {
  selector?: { matchLabels?: Record<string, string> };
  uri?: string;
  sha256?: string;
  bin?: string;
}

interface PluginManifest {
  metadata?: { name?: string };
  spec?: { version?: string; platforms?: Platform[] };
}

/**
 * Replaces {{version}} and {{sha256 ARCHIVE}}; an archive the template names but `sha256s`
 * lacks, or any other placeholder, is an error rather than a manifest krew would reject later.
 */
export function renderManifest(template: string, version: string, sha256s: ReadonlyMap<string, string>): string {
  const rendered = template.replace(/\{\{\s*(version|sha256\s+([^\s}]+))\s*\}\}/g, (_match, what: string, archive?: string) => {
    if (what === 'version') return version;
    const sha256 = sha256s.get(archive!);
    if (!sha256) throw new Error(`plugin.yaml names ${archive}, which was not built`);
    return sha256;
  });
  const leftover = /\{\{[^}]*\}\}/.exec(rendered);
  if (leftover) throw new Error(`plugin.yaml has an unknown placeholder ${leftover[0]}`);
  checkManifest(rendered, version, sha256s);
  return rendered;
}

function checkManifest(text: string, version: string, sha256s: ReadonlyMap<string, string>): void {
  const manifest = loadYaml<PluginManifest>(text);
  if (manifest.spec?.version !== version) throw new Error(`manifest version ${manifest.spec?.version} is not ${version}`);
  const platforms = manifest.spec?.platforms ?? [];
  if (platforms.length === 0) throw new Error('the manifest has no platforms');
  for (const platform of platforms) {
    const labels = JSON.stringify(platform.selector?.matchLabels ?? {});
    const archive = platform.uri?.split('/').pop() ?? '';
    if (!archive.endsWith('.tar.gz')) throw new Error(`platform ${labels}: uri ${platform.uri} does not name a .tar.gz`);
    if (!platform.uri?.includes(`/${version}/`)) throw new Error(`platform ${labels}: uri ${platform.uri} is not for ${version}`);
    if (platform.sha256 !== sha256s.get(archive)) throw new Error(`platform ${labels}: sha256 is not that of ${archive}`);
  }
}
