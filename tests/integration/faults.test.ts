// Concurrency and faults against the real control plane: competing writers, two controllers at
// once, the API server killed in the middle of a sync, etcd compaction under a watch, Ctrl-C.
// The invariants checked everywhere: no imagePullSecrets entry lost, none duplicated, no
// ServiceAccount pointing at a secret that was not written, and the next run converges.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import {
  admin,
  assertOk,
  clusterCommand,
  clusterDir,
  createServiceAccount,
  createTestNamespace,
  deleteNamespaces,
  pullSecretNames,
  readSecret,
  run,
  startPlugin,
  waitFor,
} from './harness';

const created: string[] = [];
after(async () => {
  await deleteNamespaces(created);
});

let counter = 0;
/** A source made by add in its own namespace, with a name unique to this test. */
async function source(prefix: string): Promise<{ name: string; home: string }> {
  const home = await createTestNamespace(`${prefix}-home`);
  created.push(home);
  const name = `${prefix}-${process.pid}-${++counter}`;
  const added = await run(['add', name, '-n', home, '--server', 'faults.registry.example', '--username', 'ci', '--password-stdin', '--no-attach'], {
    stdin: 'FAKE-faults-pw',
  });
  assert.equal(added.code, 0, added.stderr);
  return { name, home };
}

/** n labelled namespaces with `default` plus extra ServiceAccounts. */
async function namespaces(prefix: string, n: number, label: string, extraAccounts: string[] = []): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const namespace = await createTestNamespace(prefix, { labels: { [label]: 'yes' } });
    created.push(namespace);
    names.push(namespace);
    for (const account of extraAccounts) await createServiceAccount(namespace, account);
  }
  return names;
}

/** No ServiceAccount names the secret unless the secret is there; no entry twice. */
async function assertConsistent(targets: string[], name: string, accounts: string[]): Promise<void> {
  for (const namespace of targets) {
    const exists = (await readSecret(namespace, name)) !== undefined;
    for (const account of accounts) {
      const refs = await pullSecretNames(namespace, account);
      assert.equal(new Set(refs).size, refs.length, `${namespace}/${account} has a duplicate entry: ${refs}`);
      if (refs.includes(name)) assert.ok(exists, `${namespace}/${account} references ${name}, which was never written`);
    }
  }
}

async function assertConverged(targets: string[], name: string, accounts: string[]): Promise<void> {
  for (const namespace of targets) {
    assert.ok(await readSecret(namespace, name), `copy in ${namespace}`);
    for (const account of accounts) assert.ok((await pullSecretNames(namespace, account)).includes(name), `${namespace}/${account}`);
  }
}

const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

describe('concurrency and faults', () => {
  test('sync while another writer edits the same ServiceAccounts: nothing lost, nothing doubled', async () => {
    const { name, home } = await source('busy');
    const label = `kps-busy-${process.pid}`;
    const targets = await namespaces('busy', 6, label, ['builder', 'deployer']);
    const accounts = ['default', 'builder', 'deployer'];
    // The other writer appends its own entries (guarded, like any careful client) while sync runs.
    let stop = false;
    const written = new Map<string, string[]>();
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const namespace = targets[i % targets.length]!;
        const account = accounts[i % accounts.length]!;
        const sa = await admin.core.readNamespacedServiceAccount({ name: account, namespace });
        const entry = `other-${i}`;
        const ops = sa.imagePullSecrets
          ? [{ op: 'test', path: '/metadata/resourceVersion', value: sa.metadata!.resourceVersion }, { op: 'add', path: '/imagePullSecrets/-', value: { name: entry } }]
          : [{ op: 'test', path: '/metadata/resourceVersion', value: sa.metadata!.resourceVersion }, { op: 'add', path: '/imagePullSecrets', value: [{ name: entry }] }];
        try {
          await admin.core.patchNamespacedServiceAccount({ name: account, namespace, body: ops }, jsonPatch);
          written.set(`${namespace}/${account}`, [...(written.get(`${namespace}/${account}`) ?? []), entry]);
        } catch {
          // Lost a race with sync: fine, the writer simply tries the next one.
        }
      }
    })();
    try {
      for (let round = 0; round < 3; round++) {
        const synced = await run(['sync', name, '-n', home, '-l', `${label}=yes`, '--concurrency', '4']);
        assert.equal(synced.code, 0, synced.stdout + synced.stderr);
      }
    } finally {
      stop = true;
      await writer;
    }
    await assertConsistent(targets, name, accounts);
    await assertConverged(targets, name, accounts);
    for (const [key, entries] of written) {
      const [namespace, account] = key.split('/') as [string, string];
      const refs = await pullSecretNames(namespace, account);
      for (const entry of entries) assert.ok(refs.includes(entry), `the other writer's ${entry} on ${key} was lost: ${refs}`);
    }
    assert.ok(written.size > 0, 'the other writer got some writes in');
    await run(['remove', name, '-A']);
  });

  test('two sync --watch controllers at once converge without duplicates', async () => {
    const { name, home } = await source('twin');
    const label = `kps-twin-${process.pid}`;
    const args = ['sync', name, '-n', home, '-l', `${label}=yes`, '--watch'];
    const first = startPlugin(args);
    const second = startPlugin(args);
    try {
      await first.waitForLine(/watching/, 30_000);
      await second.waitForLine(/watching/, 30_000);
      const targets = await namespaces('twin', 4, label, ['builder']);
      await waitFor('both controllers to serve the new namespaces', async () => {
        for (const namespace of targets) {
          for (const account of ['default', 'builder']) if (!(await pullSecretNames(namespace, account)).includes(name)) return false;
        }
        return true;
      }, 20_000);
      await assertConsistent(targets, name, ['default', 'builder']);
      assert.equal(first.exited(), undefined, 'the first controller is still running');
      assert.equal(second.exited(), undefined, 'the second controller is still running');
    } finally {
      await first.stop();
      await second.stop();
      await run(['remove', name, '-A']);
    }
  });

  test('the API server killed in the middle of a sync: failures reported, nothing half-written, the next sync converges', async () => {
    const { name, home } = await source('killed');
    const label = `kps-killed-${process.pid}`;
    const targets = await namespaces('killed', 25, label, ['builder', 'deployer']);
    const accounts = ['default', 'builder', 'deployer'];
    // Pull the plug a moment after the writes begin. On an idle machine the writes can outrun a
    // late kill (the API server drains what is in flight while it shuts down): then undo the run
    // and try again, killing sooner.
    const attempt = async (delayMs: number) => {
      const sync = startPlugin(['sync', name, '-n', home, '-l', `${label}=yes`, '--concurrency', '1'], { env: { KPS_TEST_PAUSE_BEFORE_APPLY_MS: '1500' } });
      try {
        await waitFor('the plan to be made', async () => /paused before applying/.test(sync.stderr()), 30_000);
        await new Promise((r) => setTimeout(r, 1500 + delayMs));
        await clusterCommand('stop', 'kube-apiserver');
        return { sync, exit: await sync.exit };
      } finally {
        await sync.stop();
        await clusterCommand('start', 'kube-apiserver');
        // As in the compaction test below: spare later tests the controller manager's back-off.
        await clusterCommand('stop', 'kube-controller-manager');
        await clusterCommand('start', 'kube-controller-manager');
      }
    };
    let result = await attempt(250);
    for (const delayMs of [60, 0]) {
      if (result.exit.code !== 0) break;
      assertOk(await run(['remove', name, '-A']), 'undo the run that finished before the kill');
      assertOk(await run(['add', name, '-n', home, '--server', 'faults.registry.example', '--username', 'ci', '--password-stdin', '--no-attach'], { stdin: 'FAKE-faults-pw' }));
      result = await attempt(delayMs);
    }
    const { sync, exit } = result;
    assert.equal(exit.code, 1, sync.lines.join('\n') + sync.stderr());
    const output = sync.lines.join('\n');
    assert.match(sync.stderr(), /^error: \S+ failed: .*(cannot reach the API server|not applied)/m);
    assert.match(output, /^summary: .*failed/m);
    assert.match(sync.stderr(), /^error: \d+ of \d+ changes failed; [^;]+$/m);
    // Every object reported done is really there.
    for (const line of sync.lines) {
      const done = /^(secret|serviceaccount)\/(\S+) (created|attached)\b.*\(namespace (\S+)\)$/.exec(line);
      if (!done) continue;
      const [, kind, object, , namespace] = done;
      if (kind === 'secret') assert.ok(await readSecret(namespace!, object!), line);
      else assert.ok((await pullSecretNames(namespace!, object!)).includes(name), line);
    }
    await assertConsistent(targets, name, accounts);
    const again = await run(['sync', name, '-n', home, '-l', `${label}=yes`]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    await assertConverged(targets, name, accounts);
    await run(['remove', name, '-A']);
  });

  test('Ctrl-C in the middle of a sync stops promptly and reports what was done', async () => {
    const { name, home } = await source('sigint');
    const label = `kps-sigint-${process.pid}`;
    const targets = await namespaces('sigint', 25, label, ['builder', 'deployer']);
    // Ctrl-C just after the writes begin (on an idle machine all of them take a few hundred ms;
    // if they still beat the signal, undo and interrupt sooner).
    const attempt = async (delayMs: number) => {
      const sync = startPlugin(['sync', name, '-n', home, '-l', `${label}=yes`, '--concurrency', '1'], { env: { KPS_TEST_PAUSE_BEFORE_APPLY_MS: '1000' } });
      await waitFor('the plan to be made', async () => /paused before applying/.test(sync.stderr()), 30_000);
      await new Promise((r) => setTimeout(r, 1000 + delayMs));
      const interrupted = Date.now();
      const exit = await sync.stop('SIGINT');
      assert.ok(Date.now() - interrupted < 5_000, 'stopped promptly');
      return { sync, exit };
    };
    let result = await attempt(20);
    if (result.exit.code === 0) {
      assertOk(await run(['sync', name, '-n', home, '-l', `${label}=no-such-value`, '--prune']), 'undo the run that finished first');
      result = await attempt(0);
    }
    const { sync, exit } = result;
    assert.equal(exit.code, 130, sync.stderr());
    const output = sync.lines.join('\n');
    assert.match(output, /skipped: interrupted before it was applied/);
    assert.match(output, /^summary: /m);
    assert.match(sync.stderr(), /^error: interrupted/m);
    await assertConsistent(targets, name, ['default', 'builder', 'deployer']);
    const again = await run(['sync', name, '-n', home, '-l', `${label}=yes`]);
    assert.equal(again.code, 0, again.stderr);
    await assertConverged(targets, name, ['default', 'builder', 'deployer']);
    await run(['remove', name, '-A']);
  });

  test('sync --watch across an etcd compaction (410 Gone on re-watch) re-lists and keeps serving new namespaces', async () => {
    const { name, home } = await source('compact');
    const label = `kps-compact-${process.pid}`;
    const controller = startPlugin(['sync', name, '-n', home, '-l', `${label}=yes`, '--watch']);
    try {
      await controller.waitForLine(/watching/, 30_000);
      // Move etcd's revision on (objects the controller does not watch), then compact up to it:
      // the controller's resourceVersions are now older than anything etcd still has.
      for (let i = 0; i < 5; i++) {
        await admin.core.createNamespacedConfigMap({ namespace: home, body: { metadata: { name: `bump-${i}` }, data: { i: String(i) } } });
      }
      await compactEtcd();
      // Restarting the API server ends every watch; re-watching from the old versions gets 410.
      await clusterCommand('stop', 'kube-apiserver');
      await clusterCommand('start', 'kube-apiserver');
      // The controller manager backs off for up to a minute after losing the API server; restart
      // it so the new namespace's default ServiceAccount (its job, not ours) comes promptly.
      await clusterCommand('stop', 'kube-controller-manager');
      await clusterCommand('start', 'kube-controller-manager');
      const from = controller.lines.length;
      await controller.waitForLine(/re-listed/, 60_000, 0);
      const [namespace] = await namespaces('compact', 1, label);
      await waitFor(`the default ServiceAccount of ${namespace} to carry ${name}`, async () => (await pullSecretNames(namespace!, 'default')).includes(name), 60_000);
      assert.equal(controller.exited(), undefined, 'the controller kept running');
      assert.ok(controller.lines.length > from);
    } finally {
      await controller.stop();
      await run(['remove', name, '-A']);
    }
  });
});

/** Compacts etcd at its current revision through its v3 HTTP gateway (the test cluster's own etcd). */
async function compactEtcd(): Promise<void> {
  const argv = readFileSync(path.join(clusterDir, 'etcd.cmd'), 'utf8').split('\0');
  const url = argv.find((arg) => arg.startsWith('--listen-client-urls='))!.split('=')[1]!;
  const post = async (endpoint: string, body: object) => {
    const response = await fetch(`${url}${endpoint}`, { method: 'POST', body: JSON.stringify(body) });
    assert.ok(response.ok, `etcd ${endpoint}: ${response.status}`);
    return (await response.json()) as { header?: { revision?: string } };
  };
  const { header } = await post('/v3/kv/range', { key: Buffer.from('/registry/namespaces').toString('base64'), limit: 1 });
  await post('/v3/kv/compaction', { revision: header!.revision, physical: true });
}
