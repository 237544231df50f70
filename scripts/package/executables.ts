// Turns the bundle into one standalone executable per target with Node's single-executable
// applications (SEA): the bundle becomes a "preparation blob", which postject injects into a copy
// of the official Node.js binary of each platform. What each format needs around the injection:
// - Linux: strip the base first (stripping after injecting damages the blob's note).
// - macOS: the Developer ID signature is removed before and an ad-hoc one added after (macho.ts).
// - Windows: the Authenticode signature is removed before (injection would leave it corrupt).
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIBRARIES_LOADER, splitBundle } from '../bundle-layout.mjs';
import { exec, spawnCollect } from './exec';
import { removeSignature, signAdHoc } from './macho';
import { targetId, type Target } from './targets';

/** The fuse Node looks for to know a blob was injected (postject flips it to :1). */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** Where the blob goes: an ELF note, a PE resource, or this Mach-O segment (section __NODE_SEA_BLOB). */
export const SEA_RESOURCE = 'NODE_SEA_BLOB';
export const MACHO_SEGMENT = 'NODE_SEA';
/** The identifier of the ad-hoc signature, as codesign would name the executable. */
export const SIGNING_IDENTIFIER = 'kubectl-pullsecret';

const postjectCli = createRequire(import.meta.url).resolve('postject/dist/cli.js');

const seaMain = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sea-main.cjs');
/**
 * The blob's assets, as sea-main.cjs reads them: the bundle's two parts (scripts/bundle-layout.mjs),
 * each with its code cache where the blob is a target's own.
 */
const ASSETS = {
  plugin: 'kubectl-pullsecret.js',
  pluginCache: 'kubectl-pullsecret.code-cache',
  libraries: 'libraries.js',
  librariesCache: 'libraries.code-cache',
} as const;

/** A kubeconfig whose server refuses connections: the warm-up runs `list` to its error, offline. */
const WARM_UP_KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{name: warm-up, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: warm-up, user: {token: warm-up}}]
contexts: [{name: warm-up, context: {cluster: warm-up, user: warm-up}}]
current-context: warm-up
`;

/** Names of the blobs in the work directory (`<name>.blob`): the portable one, and one target's own. */
export const PORTABLE_BLOB = 'sea-prep';
export const blobName = (target: Target) => `sea-prep-${targetId(target)}`;

/** A command that runs one target's own Node binary on this machine. */
export interface NodeRunner {
  command: string;
  args: string[];
}

/**
 * How to run target's Node binary here, to make the code cache that only that binary accepts:
 * the host's own natively, linux/arm64 under qemu-aarch64 (Debian's qemu-user, with the arm64
 * libraries); undefined for the others (darwin cannot run here, and windows would need a wine
 * prefix set up at every build), which share the portable blob.
 */
export function nodeRunner(target: Target, base: string, host: Target): NodeRunner | undefined {
  if (target === host) return { command: base, args: [] };
  if (target.os === 'linux' && target.arch === 'arm64') return { command: 'qemu-aarch64', args: ['-L', '/usr/aarch64-linux-gnu', base] };
  return undefined;
}

/**
 * V8's code caches of the bundle's two parts after a warm-up run of `list -n default` (argv
 * parsing, the verb, the kubeconfig, the requests and the error path), the libraries' taken once
 * they are loaded at its end, made by the target's own Node binary through sea-main.cjs, so that
 * they are exactly what the executable compiles. V8's random seed is fixed so the caches, and the
 * archive holding them, come out the same on every build. `assetsDir` holds the scripts; the
 * caches are written beside them.
 */
async function warmCodeCaches(runner: NodeRunner, assetsDir: string): Promise<void> {
  const kubeconfig = path.join(assetsDir, 'warm-up.kubeconfig');
  writeFileSync(kubeconfig, WARM_UP_KUBECONFIG);
  const env = { PATH: process.env.PATH, HOME: assetsDir, KUBECONFIG: kubeconfig, KPS_SEA_ASSETS: assetsDir };
  // It ends with "cannot reach the API server" (exit 1), as intended; only the caches matter.
  const run = await spawnCollect(runner.command, [...runner.args, '--random-seed=1', seaMain, 'list', '-n', 'default'], { env, cwd: assetsDir });
  for (const cache of [ASSETS.pluginCache, ASSETS.librariesCache]) {
    if (!existsSync(path.join(assetsDir, cache))) throw new Error(`the warm-up run wrote no ${cache} (${runner.command} exited ${run.code}): ${run.stderr.trim()}`);
  }
}

/**
 * The bundle's two parts as the executable compiles them, each a function of CommonJS's five
 * parameters; the plugin's takes the libraries' loader as a sixth, and its shebang line is left
 * out. sea-main.cjs reads them as Latin-1, a plain copy of their bytes, so they must be ASCII
 * (esbuild's default charset): decoding the bundle as UTF-8 and wrapping it at every start made
 * two more copies of it and cost several milliseconds.
 */
export function bundleScripts(bundle: string): { plugin: string; libraries: string } {
  const offending = /[^\x00-\x7f]/.exec(bundle);
  if (offending) throw new Error(`the bundle is not ASCII (U+${offending[0].codePointAt(0)!.toString(16).toUpperCase()} at offset ${offending.index}): build it with esbuild's default charset`);
  const { plugin, libraries } = splitBundle(bundle);
  return {
    plugin: `(function (exports, require, module, __filename, __dirname, ${LIBRARIES_LOADER}) {${plugin.replace(/^#!.*/, '')}\n})`,
    libraries: `(function (exports, require, module, __filename, __dirname) {${libraries}\n})`,
  };
}

/**
 * Generates the blob `<name>.blob` with `generator`, a Node binary of exactly the bases' version.
 * Its main script is sea-main.cjs, which runs the bundle from its assets. Given the runner of a
 * target's Node binary, the blob also carries the code caches made with it: valid only for that
 * target, so such a blob serves that target alone; without one, the blob is portable. Node's own
 * code cache and snapshot stay off (see sea-main.cjs for why its cache does not help).
 */
export async function makeBlob(generator: string, bundle: string, workDir: string, name: string, cacheRunner?: NodeRunner): Promise<string> {
  const blob = path.join(workDir, `${name}.blob`);
  const config = path.join(workDir, `${name}.json`);
  copyFileSync(seaMain, path.join(workDir, 'sea-main.cjs'));
  // The assets under their own names, in a directory of this blob's.
  const assetsDir = path.join(workDir, name);
  mkdirSync(assetsDir, { recursive: true });
  const scripts = bundleScripts(readFileSync(bundle, 'utf8'));
  writeFileSync(path.join(assetsDir, ASSETS.plugin), scripts.plugin);
  writeFileSync(path.join(assetsDir, ASSETS.libraries), scripts.libraries);
  const keys: string[] = [ASSETS.plugin, ASSETS.libraries];
  if (cacheRunner) {
    await warmCodeCaches(cacheRunner, assetsDir);
    keys.push(ASSETS.pluginCache, ASSETS.librariesCache);
  }
  // Relative paths: the blob records the main script's path as given, and a build directory in
  // it would differ between machines (and say where the release was built).
  const assets = Object.fromEntries(keys.map((key) => [key, path.join(name, key)]));
  const settings = { main: 'sea-main.cjs', output: path.basename(blob), disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false, assets };
  writeFileSync(config, `${JSON.stringify(settings, null, 2)}\n`);
  await exec(generator, ['--experimental-sea-config', config], { cwd: workDir });
  return blob;
}

/** Builds target's executable at `output` from its base binary and the blob. */
export async function buildExecutable(target: Target, base: string, blob: string, output: string): Promise<void> {
  const injectArgs = [postjectCli, output, SEA_RESOURCE, blob, '--sentinel-fuse', SEA_FUSE];
  switch (target.os) {
    case 'linux': {
      copyFileSync(base, output);
      chmodSync(output, 0o755);
      // Plain strip cannot read another architecture's ELF; Debian's cross binutils can.
      const strip = target.arch === 'arm64' ? 'aarch64-linux-gnu-strip' : 'strip';
      await exec(strip, [output]);
      await exec(process.execPath, injectArgs);
      break;
    }
    case 'darwin': {
      writeFileSync(output, removeSignature(readFileSync(base)));
      await exec(process.execPath, [...injectArgs, '--macho-segment-name', MACHO_SEGMENT]);
      writeFileSync(output, signAdHoc(readFileSync(output), SIGNING_IDENTIFIER));
      break;
    }
    case 'windows': {
      await exec('osslsigncode', ['remove-signature', '-in', base, '-out', output]);
      await exec(process.execPath, injectArgs);
      break;
    }
  }
  chmodSync(output, 0o755);
}
