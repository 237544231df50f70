// The bundle as the standalone executable compiles it (scripts/package/executables.ts): two parts,
// read as Latin-1 at start, so anything but ASCII must stop the build rather than be garbled.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Script } from 'node:vm';
import { joinBundle, splitBundle } from '../../scripts/bundle-layout.mjs';
import { bundleScripts } from '../../scripts/package/executables';

const plugin = '#!/usr/bin/env node\nmodule.exports = { dir: __dirname, answer: __kpsLibraries().lib.answer };\n';
const libraries = 'module.exports = { lib: { answer: 42 } };\n';

test('run with Node, the bundle is one CommonJS module that loads its libraries on first use', () => {
  const module = { exports: {} as Record<string, unknown> };
  const body = joinBundle(plugin, libraries).replace(/^#!.*/, '');
  new Script(`(function (exports, require, module, __filename, __dirname) {${body}\n})`).runInThisContext()(module.exports, () => undefined, module, '/x/kubectl-pullsecret', '/x');
  assert.deepEqual(module.exports, { dir: '/x', answer: 42 });
});

test('the executable gets two CommonJS functions, the plugin taking the loader, its shebang line left out', () => {
  const scripts = bundleScripts(joinBundle(plugin, libraries));
  assert.match(scripts.plugin, /^\(function \(exports, require, module, __filename, __dirname, __kpsLibraries\) \{\nmodule\.exports/);
  const librariesModule = { exports: {} as Record<string, unknown> };
  new Script(scripts.libraries).runInThisContext()(librariesModule.exports, () => undefined, librariesModule, '/x/kubectl-pullsecret', '/x');
  const module = { exports: {} as Record<string, unknown> };
  new Script(scripts.plugin).runInThisContext()(module.exports, () => undefined, module, '/x/kubectl-pullsecret', '/x', () => librariesModule.exports);
  assert.deepEqual(module.exports, { dir: '/x', answer: 42 });
});

test('splitting gives back the two parts', () => {
  assert.deepEqual(splitBundle(joinBundle(plugin, libraries)), { plugin: plugin.replace(/\n$/, ''), libraries: libraries.replace(/\n$/, '') });
});

test('a bundle not laid out in two parts is refused', () => {
  assert.throws(() => bundleScripts(plugin), /^Error: the bundle is not laid out as scripts\/bundle-layout\.mjs says: rebuild it with npm run build$/);
});

test('a bundle that is not ASCII is refused, naming the character and where it is', () => {
  assert.throws(() => bundleScripts(joinBundle('const s = "café";', libraries)), /^Error: the bundle is not ASCII \(U\+E9 at offset 14\)/);
});
