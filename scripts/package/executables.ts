// Turns the bundle into one standalone executable per target with Node's single-executable
// applications (SEA): the bundle becomes a "preparation blob", which postject injects into a copy
// of the official Node.js binary of each platform. What each format needs around the injection:
// - Linux: strip the base first (stripping after injecting damages the blob's note).
// - macOS: the Developer ID signature is removed before and an ad-hoc one added after (macho.ts).
// - Windows: the Authenticode signature is removed before (injection would leave it corrupt).
import { chmodSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec, spawnCollect } from './exec';
import { removeSignature, signAdHoc } from './macho';
import type { Target } from './targets';

/** The fuse Node looks for to know a blob was injected (postject flips it to :1). */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** Where the blob goes: an ELF note, a PE resource, or this Mach-O segment (section __NODE_SEA_BLOB). */
export const SEA_RESOURCE = 'NODE_SEA_BLOB';
export const MACHO_SEGMENT = 'NODE_SEA';
/** The identifier of the ad-hoc signature, as codesign would name the executable. */
export const SIGNING_IDENTIFIER = 'kubectl-pullsecret';

const postjectCli = createRequire(import.meta.url).resolve('postject/dist/cli.js');

const seaMain = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sea-main.cjs');
/** Asset keys, as sea-main.cjs reads them. */
const BUNDLE_ASSET = 'kubectl-pullsecret.js';
const CODE_CACHE_ASSET = 'kubectl-pullsecret.code-cache';

/** A kubeconfig whose server refuses connections: the warm-up runs `list` to its error, offline. */
const WARM_UP_KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{name: warm-up, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: warm-up, user: {token: warm-up}}]
contexts: [{name: warm-up, context: {cluster: warm-up, user: warm-up}}]
current-context: warm-up
`;

/**
 * V8's code cache of the bundle after a warm-up run of `list -n default` (argv parsing, the verb,
 * the kubeconfig, the requests and the error path), made by `generator` through sea-main.cjs, so
 * that it is exactly what the executable compiles. V8's random seed is fixed so the cache, and
 * the archive holding it, come out the same on every build.
 */
async function warmCodeCache(generator: string, bundle: string, workDir: string): Promise<string> {
  const cache = path.join(workDir, CODE_CACHE_ASSET);
  const kubeconfig = path.join(workDir, 'warm-up.kubeconfig');
  writeFileSync(kubeconfig, WARM_UP_KUBECONFIG);
  const env = { PATH: process.env.PATH, HOME: workDir, KUBECONFIG: kubeconfig, KPS_BUNDLE: bundle, KPS_WRITE_CODE_CACHE: cache };
  // It ends with "cannot reach the API server" (exit 1), as intended; only the cache matters.
  await spawnCollect(generator, ['--random-seed=1', seaMain, 'list', '-n', 'default'], { env, cwd: workDir });
  if (!existsSync(cache)) throw new Error('the warm-up run wrote no code cache');
  return cache;
}

/**
 * Generates a blob with `generator`, a Node binary of exactly the bases' version. Its main script
 * is sea-main.cjs, which runs the bundle from an asset; with `codeCache`, a second asset holds the
 * bundle's code cache, which is valid only for the platform that made it, so only the
 * generator's own target gets that blob and the others share a portable one. Node's own code
 * cache and snapshot stay off (see sea-main.cjs for why its cache does not help).
 */
export async function makeBlob(generator: string, bundle: string, workDir: string, codeCache: boolean): Promise<string> {
  const name = codeCache ? 'sea-prep-code-cache' : 'sea-prep';
  const blob = path.join(workDir, `${name}.blob`);
  const config = path.join(workDir, `${name}.json`);
  copyFileSync(seaMain, path.join(workDir, 'sea-main.cjs'));
  // Relative paths: the blob records the main script's path as given, and a build directory in
  // it would differ between machines (and say where the release was built).
  const assets: Record<string, string> = { [BUNDLE_ASSET]: path.relative(workDir, bundle) };
  if (codeCache) assets[CODE_CACHE_ASSET] = path.relative(workDir, await warmCodeCache(generator, bundle, workDir));
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
