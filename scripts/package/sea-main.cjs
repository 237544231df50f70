// The standalone executable's entry point (the SEA "main"): it compiles the bundle, which the
// blob carries as an asset, and runs it.
//
// Why not make the bundle the main script: the code cache Node makes for a SEA main holds only
// what V8 compiles before running anything (each module's wrapper), so every function a command
// calls is still compiled at every start. The cache carried here is V8's own, taken at the end of
// a warm-up run of `list` at build time (scripts/package/executables.ts), so it holds what
// commands actually run: yargs, the verb, the requests. It is valid only for the Node binary that
// made it, so only the executables whose Node runs on the build machine carry one (linux/amd64,
// and linux/arm64 under qemu); elsewhere, or if V8 rejects it, the bundle is compiled at start.
//
// Run by plain Node at build time (not as a SEA) with KPS_BUNDLE and KPS_WRITE_CODE_CACHE, it
// compiles the bundle the same way, runs the command in argv, and writes the cache at exit.
'use strict';
const { Script } = require('node:vm');

const BUNDLE_ASSET = 'kubectl-pullsecret.js';
const CODE_CACHE_ASSET = 'kubectl-pullsecret.code-cache';

/**
 * The bundle, already a function of CommonJS's five parameters and ASCII (bundleScript in
 * executables.ts): read as Latin-1, a plain copy of its bytes, with no UTF-8 decoding and no
 * wrapping at start. The script's name is recorded in the cache, so it is the same wherever the
 * cache is made.
 */
function compile(source, cachedData) {
  return new Script(source, { filename: BUNDLE_ASSET, cachedData });
}

const sea = require('node:sea');
if (sea.isSea()) {
  let cachedData;
  try {
    cachedData = new Uint8Array(sea.getRawAsset(CODE_CACHE_ASSET));
  } catch {
    // This platform's executable carries no cache.
  }
  // getRawAsset: the bytes where the executable holds them, not a copy (V8 only reads them).
  const script = compile(Buffer.from(sea.getRawAsset(BUNDLE_ASSET)).toString('latin1'), cachedData);
  // For the release tests: a rejected cache costs only speed, so nothing else would notice.
  if (process.env.KPS_TEST_REPORT_CODE_CACHE) {
    process.stderr.write(`code cache: ${cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted'}\n`);
  }
  script.runInThisContext()(exports, require, module, process.execPath, require('node:path').dirname(process.execPath));
} else {
  const fs = require('node:fs');
  const bundle = process.env.KPS_BUNDLE;
  const cacheFile = process.env.KPS_WRITE_CODE_CACHE;
  if (!bundle || !cacheFile) throw new Error('run as a SEA, or at build time with KPS_BUNDLE and KPS_WRITE_CODE_CACHE set');
  const script = compile(fs.readFileSync(bundle, 'latin1'), undefined);
  process.on('exit', () => fs.writeFileSync(cacheFile, script.createCachedData()));
  script.runInThisContext()(exports, require, module, bundle, require('node:path').dirname(bundle));
}
