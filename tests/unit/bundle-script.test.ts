// The bundle as the standalone executable compiles it (scripts/package/executables.ts): read as
// Latin-1 at start, so anything but ASCII must stop the build rather than be garbled.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Script } from 'node:vm';
import { bundleScript } from '../../scripts/package/executables';

test('the bundle becomes a CommonJS function, its shebang line left out', () => {
  const script = bundleScript('#!/usr/bin/env node\nmodule.exports = { dir: __dirname, answer: 42 };\n');
  assert.match(script, /^\(function \(exports, require, module, __filename, __dirname\) \{\nmodule\.exports/);
  const module = { exports: {} as Record<string, unknown> };
  new Script(script).runInThisContext()(module.exports, () => undefined, module, '/x/kubectl-pullsecret', '/x');
  assert.deepEqual(module.exports, { dir: '/x', answer: 42 });
});

test('a bundle that is not ASCII is refused, naming the character and where it is', () => {
  assert.throws(() => bundleScript('const s = "café";'), /^Error: the bundle is not ASCII \(U\+E9 at offset 14\)/);
});
