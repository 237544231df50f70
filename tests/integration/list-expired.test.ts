// A paginated LIST whose continue token expires between two pages (issue 14), against the real
// API server: etcd is compacted while the plugin waits after its first page (the test seams
// KPS_TEST_PAGE_SIZE and KPS_TEST_PAUSE_AFTER_FIRST_PAGE in lib/cluster.ts), so the next page
// really gets `410 Expired: The provided continue parameter is too old`. The plugin must list
// again in full and finish with the complete, right result.
//
// Compaction is done as the API server's own compactor does it (k8s.io/apiserver
// storage/etcd3/compact.go): the revision is written to etcd's `compact_rev_key`, then etcd is
// compacted. The key matters: since ListFromCacheSnapshot (beta, on by default since 1.34) the
// watch cache serves continued pages from its snapshots, and drops those only when the API
// server learns of a compaction through that key (its watch cache checks every 15 s). A bare
// etcd compaction would leave the cache answering, and the token would never expire.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ApiException } from '@kubernetes/client-node';
import {
  admin,
  addLoginSource,
  assertOk,
  clusterDir,
  createTestNamespace,
  deleteNamespaces,
  pullSecretNames,
  readSecret,
  removeEverywhere,
  run,
  startPlugin,
  tempDir,
  waitFor,
  type RunResult,
} from './harness';

const created: string[] = [];
const scratch = tempDir();
after(async () => {
  await deleteNamespaces(created);
  scratch.cleanup();
});

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
let counter = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;

/** A request to the test cluster's etcd through its v3 HTTP gateway. */
async function etcd(endpoint: string, body: object): Promise<{ header?: { revision?: string } }> {
  const argv = readFileSync(path.join(clusterDir, 'etcd.cmd'), 'utf8').split('\0');
  const url = argv.find((arg) => arg.startsWith('--listen-client-urls='))!.split('=')[1]!;
  const response = await fetch(`${url}${endpoint}`, { method: 'POST', body: JSON.stringify(body) });
  assert.ok(response.ok, `etcd ${endpoint}: ${response.status} ${await response.clone().text()}`);
  return (await response.json()) as { header?: { revision?: string } };
}

/**
 * Compacts etcd past everything read so far, and tells the API server so as its own compactor
 * would: a write first (so every list already served is older than the revision named), that
 * revision in compact_rev_key, then the compaction at the revision of that put.
 */
async function compactLikeTheApiServer(namespace: string): Promise<void> {
  await admin.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: unique('bump') } } });
  const { header } = await etcd('/v3/kv/range', { key: b64('compact_rev_key') });
  const put = await etcd('/v3/kv/put', { key: b64('compact_rev_key'), value: b64(header!.revision!) });
  await etcd('/v3/kv/compaction', { revision: put.header!.revision, physical: true });
}

type Resource = 'namespaces' | 'secrets' | 'serviceaccounts';

/** Reads one page of 1 of a resource across the cluster, as admin (continue: the next page). */
function page(resource: Resource, continueToken?: string) {
  const options = { limit: 1, ...(continueToken ? { _continue: continueToken } : {}) };
  if (resource === 'namespaces') return admin.core.listNamespace(options);
  if (resource === 'secrets') return admin.core.listSecretForAllNamespaces(options);
  return admin.core.listServiceAccountForAllNamespaces(options);
}

/**
 * Continue tokens of the test's own, taken before the compaction: once each answers 410, the API
 * server serves no page older than the compaction for that resource, the plugin's included.
 */
async function probes(resources: Resource[]): Promise<Map<Resource, string>> {
  const tokens = new Map<Resource, string>();
  for (const resource of resources) {
    const token = (await page(resource)).metadata?._continue;
    assert.ok(token, `a LIST of ${resource} with limit 1 has a second page`);
    tokens.set(resource, token);
  }
  return tokens;
}

async function waitUntilExpired(tokens: Map<Resource, string>): Promise<void> {
  for (const [resource, token] of tokens) {
    await waitFor(`a continued LIST of ${resource} to get 410 after the compaction`, async () => {
      try {
        await page(resource, token);
        return false;
      } catch (error) {
        if (error instanceof ApiException && error.code === 410) return true;
        throw error;
      }
    }, 60_000);
  }
}

/** apiserver_request_total of LISTs answered 410, by resource. */
async function expiredLists(): Promise<Map<string, number>> {
  const result = await run(['get', '--raw', '/metrics'], { command: 'kubectl' });
  assertOk(result, 'kubectl get --raw /metrics');
  const counts = new Map<string, number>();
  for (const line of result.stdout.split('\n')) {
    if (!line.startsWith('apiserver_request_total{') || !line.includes('verb="LIST"') || !line.includes('code="410"')) continue;
    const resource = /resource="([^"]*)"/.exec(line)![1]!;
    counts.set(resource, (counts.get(resource) ?? 0) + Number(line.slice(line.lastIndexOf('}') + 1)));
  }
  return counts;
}

const PAUSED = /^paused after the first page of (\S+)$/;
const EXPIRED = /^(\S+): continue expired \(410\), listing again in full$/;

/**
 * Runs the plugin with pages of 1 and a pause after each LIST's first page; once it has paused
 * on each of `resources`, compacts etcd, waits until the API server serves no older page, and
 * lets it go on. Returns its result, with the seams' own lines taken out of stderr and returned
 * apart, and the 410s the API server counted meanwhile.
 */
async function runAcrossCompaction(args: string[], resources: Resource[], bumpIn: string) {
  const gate = path.join(scratch.dir, unique('gate'));
  const plugin = startPlugin(args, { env: { KPS_TEST_PAGE_SIZE: '1', KPS_TEST_PAUSE_AFTER_FIRST_PAGE: gate } });
  try {
    const pausedOn = () => new Set(plugin.stderr().split('\n').flatMap((line) => PAUSED.exec(line)?.[1] ?? []));
    await waitFor(`the plugin to pause after the first page of ${resources.join(', ')}`, async () => {
      if (plugin.exited()) throw new Error(`exited before pausing:\n${plugin.lines.join('\n')}\n${plugin.stderr()}`);
      return resources.every((resource) => pausedOn().has(resource));
    }, 30_000);
    const tokens = await probes(resources);
    const before = await expiredLists();
    await compactLikeTheApiServer(bumpIn);
    const started = Date.now();
    await waitUntilExpired(tokens);
    const noticedMs = Date.now() - started;
    writeFileSync(gate, '');
    const exit = await plugin.exit;
    const afterCounts = await expiredLists();
    const seamLines = plugin.stderr().split('\n').filter((line) => PAUSED.test(line) || EXPIRED.test(line));
    const result: RunResult = {
      code: exit.code ?? 128,
      stdout: plugin.lines.length ? `${plugin.lines.join('\n')}\n` : '',
      stderr: plugin.stderr().split('\n').filter((line) => line !== '' && !seamLines.includes(line)).map((line) => `${line}\n`).join(''),
    };
    const expired = new Set(seamLines.flatMap((line) => EXPIRED.exec(line)?.[1] ?? []));
    const served410 = Object.fromEntries(resources.map((r) => [r, (afterCounts.get(r) ?? 0) - (before.get(r) ?? 0)]));
    return { result, expired, served410, noticedMs };
  } finally {
    if (!existsSync(gate)) writeFileSync(gate, '');
    await plugin.stop();
    rmSync(gate, { force: true });
  }
}

const describeRun = (args: string[], result: RunResult) =>
  `kubectl-pullsecret ${args.join(' ')}: exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;

describe('a continue token that expires between two pages', () => {
  test('list -A -o json: each LIST that got 410 on its second page is made again in full; the output is the same as without the compaction', async (t) => {
    const home = await createTestNamespace('expired-list');
    created.push(home);
    const names = [unique('one'), unique('two'), unique('three')];
    try {
      for (const name of names) await addLoginSource(name, home, 'expired.registry.example', `FAKE-expired-pw-${name}`);
      // JSON rather than the table, whose AGE column moves on during the pause.
      const args = ['list', '-A', '-o', 'json'];
      const plain = await run(args);
      assertOk(plain, 'list -A');
      for (const name of names) assert.match(plain.stdout, new RegExp(`"name": "${name}"`), 'the sources are listed');

      const { result, expired, served410, noticedMs } = await runAcrossCompaction(args, ['secrets', 'serviceaccounts'], home);
      t.diagnostic(`the API server served no older page ${noticedMs} ms after the compaction`);
      assert.equal(result.code, 0, describeRun(args, result));
      assert.equal(result.stderr, '', describeRun(args, result));
      // The API server saw the plugin's expired pages (one 410 of each is the test's own probe).
      assert.deepEqual([...expired].sort(), ['secrets', 'serviceaccounts'], describeRun(args, result));
      for (const [resource, count] of Object.entries(served410)) assert.ok(count >= 2, `410s served for LIST ${resource}: ${count}`);
      // Compared in this test's namespace: namespaces other tests left may be going away meanwhile.
      const ours = (stdout: string) => (JSON.parse(stdout) as { items: { namespace: string }[] }).items.filter((item) => item.namespace === home);
      assert.deepEqual(ours(result.stdout), ours(plain.stdout), 'list -A across the compaction printed something else');
    } finally {
      for (const name of names) await removeEverywhere(name);
    }
  });

  test('sync: namespaces, our secrets and ServiceAccounts all listed again in full; every copy made and attached, and a second sync has nothing to do', async () => {
    const [home, ...targets] = await Promise.all(['expired-home', 'expired-a', 'expired-b', 'expired-c'].map((prefix) => createTestNamespace(prefix)));
    created.push(home!, ...targets);
    const name = unique('synced');
    // A second source, so that our secrets take more than one page too.
    const other = unique('other');
    try {
      const source = await addLoginSource(name, home!, 'expired.registry.example', 'FAKE-expired-sync-pw', ['--no-attach']);
      await addLoginSource(other, home!, 'other.registry.example', 'FAKE-expired-other-pw', ['--no-attach']);
      const args = ['sync', name, '-n', home!, '--namespaces', targets.join(',')];
      const { result, expired, served410 } = await runAcrossCompaction(args, ['namespaces', 'secrets', 'serviceaccounts'], home!);
      assert.equal(result.code, 0, describeRun(args, result));
      assert.equal(result.stderr, '', describeRun(args, result));
      assert.deepEqual([...expired].sort(), ['namespaces', 'secrets', 'serviceaccounts'], describeRun(args, result));
      for (const [resource, count] of Object.entries(served410)) assert.ok(count >= 2, `410s served for LIST ${resource}: ${count}`);
      assert.deepEqual(result.stdout.split('\n').filter(Boolean).sort(), [
        ...targets.map((namespace) => `secret/${name} created: registries expired.registry.example (namespace ${namespace})`),
        ...targets.map((namespace) => `serviceaccount/default attached ${name} (namespace ${namespace})`),
        'summary: 3 created, 3 attached',
      ].sort(), describeRun(args, result));
      for (const namespace of targets) {
        const copy = await readSecret(namespace, name);
        assert.deepEqual(copy?.data, source.data, `the copy in ${namespace}`);
        assert.deepEqual(await pullSecretNames(namespace, 'default'), [name], `default in ${namespace}`);
        assert.equal(await readSecret(namespace, other), undefined, `${other} was not asked for in ${namespace}`);
      }
      const again = await run(args);
      assertOk(again, 'second sync');
      assert.equal(again.stdout, 'summary: nothing to do\n');
    } finally {
      await removeEverywhere(name);
      await removeEverywhere(other);
    }
  });
});
