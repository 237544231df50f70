// What `list` loads at start. Importing @kubernetes/client-node (every model and API class) costs
// more than the rest of `list` together (`npm run bench -- startup`), so the verbs that only read
// must not import it statically; it may still be loaded on demand (dynamic import), e.g. for an
// exec credential plugin. Checked on esbuild's own import graph of the sources.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { build, type Metafile } from 'esbuild';
// The standalone executable's libraries' part: importing any one of them evaluates them all.
import { LIBRARY_PACKAGES } from '../../scripts/bundle-layout.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

async function importGraph(): Promise<Metafile> {
  const result = await build({
    entryPoints: [path.join(root, 'cmd', 'main.ts')],
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return result.metafile;
}

/** Every input reachable from `from` through static imports only, with the chain that reached it. */
function staticClosure(metafile: Metafile, from: string[]): Map<string, string[]> {
  const reached = new Map<string, string[]>(from.map((file) => [file, [file]]));
  const queue = [...from];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const edge of metafile.inputs[file]?.imports ?? []) {
      if (edge.kind === 'dynamic-import' || edge.external || reached.has(edge.path)) continue;
      reached.set(edge.path, [...reached.get(file)!, edge.path]);
      queue.push(edge.path);
    }
  }
  return reached;
}

describe('startup: what the read-only verbs and sync load', () => {
  // sync writes with plain JSON requests, so that a sync of thousands of namespaces starts as
  // quickly as list; only --watch loads the client (its Watch), and the webhook node-forge (its
  // certificates), through dynamic imports.
  for (const verb of ['list', 'version', 'sync']) {
    test(`${verb} does not import ${LIBRARY_PACKAGES.join(', ')} statically`, async () => {
      const metafile = await importGraph();
      const reached = staticClosure(metafile, ['cmd/main.ts', `cmd/${verb}.ts`]);
      assert.ok(reached.has('lib/connect.ts') || verb === 'version', 'the graph was read');
      const library = [...reached].find(([file]) => LIBRARY_PACKAGES.some((name) => file.includes(`node_modules/${name}/`)));
      assert.equal(library, undefined, `reached through: ${library?.[1].join(' -> ')}`);
    });
  }

  // The controller's memory: importing client-node (every model and API class) alone raised a
  // process's RSS by about 70 MB; the controller watches with plain requests (lib/connect).
  test('the controller (sync --watch, lib/watch.ts) does not import @kubernetes/client-node statically', async () => {
    const reached = staticClosure(await importGraph(), ['lib/watch.ts']);
    assert.ok(reached.has('lib/connect.ts'), 'the graph was read');
    const client = [...reached].find(([file]) => file.includes('node_modules/@kubernetes/client-node/'));
    assert.equal(client, undefined, `reached through: ${client?.[1].join(' -> ')}`);
  });

  test('the writing verbs still get the generated client (the check above can fail)', async () => {
    const reached = staticClosure(await importGraph(), ['cmd/add.ts']);
    assert.ok([...reached.keys()].some((file) => file.includes('node_modules/@kubernetes/client-node/')));
  });
});

describe('startup: prom-client is for the controller only', () => {
  test('no verb reaches prom-client through static imports (sync --watch loads it on demand)', async () => {
    const reached = staticClosure(await importGraph(), ['cmd/main.ts']);
    const promClient = [...reached].find(([file]) => file.includes('node_modules/prom-client/'));
    assert.equal(promClient, undefined, `reached through: ${promClient?.[1].join(' -> ')}`);
  });
});
