// Turns the bundle into one standalone executable per target with Node's single-executable
// applications (SEA): the bundle becomes a "preparation blob", which postject injects into a copy
// of the official Node.js binary of each platform. What each format needs around the injection:
// - Linux: strip the base first (stripping after injecting damages the blob's note).
// - macOS: the Developer ID signature is removed before and an ad-hoc one added after (macho.ts).
// - Windows: the Authenticode signature is removed before (injection would leave it corrupt).
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { exec } from './exec';
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

/**
 * Generates a blob with `generator`, a Node binary of exactly the bases' version. The snapshot
 * stays off. A code cache (V8 bytecode of the bundle, about 50 ms less compiling at every start)
 * is only valid for the platform that made it, so only the generator's own target gets one; the
 * others share a portable blob. V8's random seed is fixed so the cache, and the archive holding
 * it, come out the same on every build (the seed is not part of the cache's validity check).
 */
export async function makeBlob(generator: string, bundle: string, workDir: string, codeCache: boolean): Promise<string> {
  const name = codeCache ? 'sea-prep-code-cache' : 'sea-prep';
  const blob = path.join(workDir, `${name}.blob`);
  const config = path.join(workDir, `${name}.json`);
  // Relative paths: the blob records the main script's path as given, and a build directory in
  // it would differ between machines (and say where the release was built).
  const settings = { main: path.relative(workDir, bundle), output: path.basename(blob), disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: codeCache };
  writeFileSync(config, `${JSON.stringify(settings, null, 2)}\n`);
  await exec(generator, ['--random-seed=1', '--experimental-sea-config', config], { cwd: workDir });
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
