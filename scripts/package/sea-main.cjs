// The standalone executable's entry point (the SEA "main"): it compiles the bundle, which the
// blob carries as assets, and runs it. The bundle comes in two parts (scripts/bundle-layout.mjs):
// the plugin's code, compiled at every start, and the large libraries, compiled only when a
// command first needs them.
//
// Why not make the bundle the main script: the code cache Node makes for a SEA main holds only
// what V8 compiles before running anything (each module's wrapper), so every function a command
// calls is still compiled at every start. The caches carried here are V8's own, taken at the end
// of a warm-up run of `list` at build time (scripts/package/executables.ts), so they hold what
// commands actually run: yargs, the verb, the requests, and the libraries' loading. They are valid
// only for the Node binary that made them, so only the executables whose Node runs on the build
// machine carry them (linux/amd64, and linux/arm64 under qemu); elsewhere, or if V8 rejects one,
// that part is compiled from its source.
//
// Run by plain Node at build time (not as a SEA) with KPS_SEA_ASSETS naming a directory that
// holds the assets, it compiles them the same way, runs the command in argv, loads the libraries
// at exit, and writes both caches into that directory.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const sea = require('node:sea');
const { Script } = require('node:vm');

/** Asset keys; the build writes the same names (ASSETS in executables.ts). */
const PLUGIN = 'kubectl-pullsecret.js';
const LIBRARIES = 'libraries.js';
const cacheOf = (key) => key.replace(/\.js$/, '.code-cache');

const building = !sea.isSea();
const assetsDir = process.env.KPS_SEA_ASSETS;
if (building && !assetsDir) throw new Error('run as a SEA, or at build time with KPS_SEA_ASSETS set');
// __filename of both parts: the executable's own path (at build time, the plugin's script).
const filename = building ? path.join(assetsDir, PLUGIN) : process.execPath;
// For the release tests: a rejected cache costs only speed, so nothing else would notice.
const report = !building && process.env.KPS_TEST_REPORT_CODE_CACHE ? (line) => process.stderr.write(`${line}\n`) : () => undefined;

/** The scripts compiled so far, by asset key: a build-time run writes their caches at exit. */
const compiled = new Map();

/**
 * Compiles one part: a function of CommonJS's parameters, ASCII (bundleScripts in
 * executables.ts), so read as Latin-1, a plain copy of its bytes, with no UTF-8 decoding and no
 * wrapping at start. In the executable, getRawAsset gives the bytes where the executable holds
 * them, not a copy (V8 only reads them). The script's name is recorded in the cache, so it is the
 * same wherever the cache is made.
 */
function compile(key, what) {
  let cachedData;
  if (!building) {
    try {
      cachedData = new Uint8Array(sea.getRawAsset(cacheOf(key)));
    } catch {
      // This platform's executable carries no cache.
    }
  }
  const source = building ? fs.readFileSync(path.join(assetsDir, key), 'latin1') : Buffer.from(sea.getRawAsset(key)).toString('latin1');
  const script = new Script(source, { filename: key, cachedData });
  report(`${what}: ${cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted'}`);
  compiled.set(key, script);
  return script;
}

let libraries;
/** The libraries' exports, evaluated on first use: the plugin's code calls this for them. */
function loadLibraries() {
  if (libraries === undefined) {
    const librariesModule = { exports: {} };
    compile(LIBRARIES, 'libraries code cache').runInThisContext()(librariesModule.exports, require, librariesModule, filename, path.dirname(filename));
    libraries = librariesModule.exports;
  }
  return libraries;
}

if (building) {
  // The libraries are loaded at the end if the command did not, so that their cache holds that.
  process.on('exit', () => {
    loadLibraries();
    for (const [key, script] of compiled) fs.writeFileSync(path.join(assetsDir, cacheOf(key)), script.createCachedData());
  });
}
compile(PLUGIN, 'code cache').runInThisContext()(exports, require, module, filename, path.dirname(filename), loadLibraries);
