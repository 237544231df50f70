// `kubectl pullsecret sync` (one-shot) against the real local control plane: sources made by
// `add`, copied into namespaces this file creates, every outcome read back as the admin. Tests
// that must sync every source (--all) still write only into namespaces made here (--namespaces),
// and every test removes what it made (remove NAME -A), so later test files find no copies.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, test } from 'node:test';
import type { V1Secret } from '@kubernetes/client-node';
import {
  assertFailureReport,
  admin,
  apiRequestCounts,
  createDockerConfigSecret,
  createServiceAccount,
  createTestNamespace,
  deleteNamespaces,
  dockerConfigJsonBytes,
  pullSecretNames,
  readSecret,
  requestDelta,
  run,
  setPullFailure,
  setPullSecrets,
  waitFor,
  type RunResult,
  holdTerminating,
  releaseTerminating,
  assertOk,
  addLoginSource,
  removeEverywhere,
  restrictedKubeconfig,
} from './harness';

const MANAGED_BY = 'app.kubernetes.io/managed-by';
const HASH_ANNOTATION = 'kubectl-pullsecret/content-sha256';
const SOURCE_ANNOTATION = 'kubectl-pullsecret/source';
const OPT_OUT_ANNOTATION = 'kubectl-pullsecret/sync';
const REGISTRY = 'registry.example';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let counter = 0;
/** A name unique to this test file's run: sources of different tests never share a name. */
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;

/** Every password handed to `add` in this file: none may ever appear in any output. */
const passwords: string[] = [];
function newPassword(): string {
  const password = `FAKE-sync-pw-${process.pid}-${++counter}`;
  passwords.push(password);
  return password;
}

function assertNoPassword(result: RunResult, what: string) {
  const text = result.stdout + result.stderr;
  for (const password of passwords) {
    assert.ok(!text.includes(password), `${what}: the output contains a password:\n${text}`);
    assert.ok(!text.includes(b64(password)), `${what}: the output contains a base64 password:\n${text}`);
    assert.ok(!text.includes(b64(`ci:${password}`)), `${what}: the output contains an auth value:\n${text}`);
  }
}


const lines = (stdout: string) => stdout.split('\n').filter((line) => line !== '');

/** Runs the plugin and checks that no password leaked, whatever happened. */
async function plugin(args: string[], what = args.join(' ')): Promise<RunResult> {
  const result = await run(args);
  assertNoPassword(result, what);
  return result;
}

const addSource = (name: string, home: string, password = newPassword(), extra: string[] = []) => addLoginSource(name, home, REGISTRY, password, extra);


// Namespaces made by this file: deleted at the end (each test removes its secrets itself).
const created: string[] = [];
after(() => deleteNamespaces(created));
async function namespace(prefix: string, metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}) {
  const name = await createTestNamespace(prefix, metadata);
  created.push(name);
  return name;
}

/** resourceVersion of every ServiceAccount and Secret in these namespaces. */
async function versions(namespaces: string[]): Promise<Record<string, string>> {
  const entries: [string, string][] = [];
  for (const namespace of namespaces) {
    const [sas, secrets] = await Promise.all([
      admin.core.listNamespacedServiceAccount({ namespace }),
      admin.core.listNamespacedSecret({ namespace }),
    ]);
    for (const sa of sas.items) entries.push([`${namespace}/serviceaccount/${sa.metadata!.name}`, sa.metadata!.resourceVersion!]);
    for (const s of secrets.items) entries.push([`${namespace}/secret/${s.metadata!.name}`, s.metadata!.resourceVersion!]);
  }
  return Object.fromEntries(entries.sort());
}

/** What a sync may change, as a user sees it: every ServiceAccount's imagePullSecrets, every secret's name, type and data. */
async function snapshot(namespaces: string[]): Promise<Record<string, unknown>> {
  const result: Record<string, unknown> = {};
  for (const namespace of namespaces) {
    const [sas, secrets] = await Promise.all([
      admin.core.listNamespacedServiceAccount({ namespace }),
      admin.core.listNamespacedSecret({ namespace }),
    ]);
    for (const sa of sas.items) {
      result[`${namespace}/serviceaccount/${sa.metadata!.name}`] = (sa.imagePullSecrets ?? []).map((r) => r.name);
    }
    for (const s of secrets.items) {
      result[`${namespace}/secret/${s.metadata!.name}`] = { type: s.type, data: s.data, labels: s.metadata?.labels ?? {} };
    }
  }
  return result;
}

/** Asserts that namespace holds a faithful copy of source. */
async function assertCopy(namespace: string, source: V1Secret): Promise<V1Secret> {
  const name = source.metadata!.name!;
  const copy = await readSecret(namespace, name);
  assert.ok(copy, `no copy of ${name} in ${namespace}`);
  assert.equal(copy.type, 'kubernetes.io/dockerconfigjson');
  assert.deepEqual(copy.data, source.data, `the copy in ${namespace} does not carry the source's data`);
  assert.equal(copy.metadata?.labels?.[MANAGED_BY], 'kubectl-pullsecret');
  assert.equal(copy.metadata?.annotations?.[SOURCE_ANNOTATION], `${source.metadata!.namespace}/${name}`);
  assert.equal(copy.metadata?.annotations?.[HASH_ANNOTATION], sha256(dockerConfigJsonBytes(copy)));
  assert.equal(copy.metadata?.annotations?.[HASH_ANNOTATION], source.metadata?.annotations?.[HASH_ANNOTATION]);
  return copy;
}

/** The API server's request counters count every client: wait until no namespace is being deleted. */
async function waitForQuietCluster() {
  await waitFor(
    'no namespace to be terminating (their deletion makes requests that the counters would include)',
    async () => (await admin.core.listNamespace()).items.every((ns) => !ns.metadata?.deletionTimestamp),
    60_000,
  );
}

/**
 * `sync --all` needs every source name to be unique in the cluster: sources left in namespaces
 * that other test files are still deleting could collide, so wait until they are gone.
 */
async function waitForUniqueSourceNames() {
  let duplicates: string[] = [];
  await waitFor(
    'source names to be unique in the cluster (duplicates: see below)',
    async () => {
      const managed = await admin.core.listSecretForAllNamespaces({ labelSelector: `${MANAGED_BY}=kubectl-pullsecret` });
      const byName = new Map<string, string[]>();
      for (const s of managed.items) {
        if (s.metadata?.annotations?.[SOURCE_ANNOTATION]) continue;
        if (!['kubernetes.io/dockerconfigjson', 'kubernetes.io/dockercfg'].includes(s.type ?? '')) continue;
        byName.set(s.metadata!.name!, [...(byName.get(s.metadata!.name!) ?? []), s.metadata!.namespace!]);
      }
      duplicates = [...byName].filter(([, where]) => where.length > 1).map(([name, where]) => `${name} in ${where.join(', ')}`);
      return duplicates.length === 0;
    },
    60_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}: ${duplicates.join('; ')}`);
  });
}

describe('sync', () => {
  test('sync NAME --namespaces copies the source with its data and marks and attaches it to every ServiceAccount, keeping foreign entries in order', async () => {
    const name = unique('copy');
    const [home, a, b, c] = await Promise.all(['sync-home', 'sync-a', 'sync-b', 'sync-c'].map((prefix) => namespace(prefix)));
    await setPullSecrets(a, 'default', ['foreign-1', 'foreign-2']);
    await createServiceAccount(a, 'builder', ['x']);
    await createServiceAccount(b, 'deployer');
    try {
      const source = await addSource(name, home);
      const untouched = await versions([c]);
      const result = await plugin(['sync', name, '-n', home, '--namespaces', `${a},${b}`]);
      assertOk(result, 'sync');
      assert.deepEqual(lines(result.stdout).sort(), [
        `secret/${name} created: registries ${REGISTRY} (namespace ${a})`,
        `secret/${name} created: registries ${REGISTRY} (namespace ${b})`,
        `serviceaccount/builder attached ${name} (namespace ${a})`,
        `serviceaccount/default attached ${name} (namespace ${a})`,
        `serviceaccount/default attached ${name} (namespace ${b})`,
        `serviceaccount/deployer attached ${name} (namespace ${b})`,
        'summary: 2 created, 4 attached',
      ].sort());
      assert.equal(result.stderr, '');
      await assertCopy(a, source);
      await assertCopy(b, source);
      assert.deepEqual(await pullSecretNames(a, 'default'), ['foreign-1', 'foreign-2', name]);
      assert.deepEqual(await pullSecretNames(a, 'builder'), ['x', name]);
      assert.deepEqual(await pullSecretNames(b, 'default'), [name]);
      assert.deepEqual(await pullSecretNames(b, 'deployer'), [name]);
      // A namespace not asked for is not touched; the source itself is unchanged.
      assert.deepEqual(await versions([c]), untouched);
      assert.equal((await readSecret(home, name))!.metadata?.resourceVersion, source.metadata?.resourceVersion);

      // Again: nothing to do, and no write at all (resourceVersions, and the API server's counters).
      const before = await versions([home, a, b, c]);
      // The counters are the whole API server's: a controller manager, scheduler or kubelet that
      // renews one of its own watches during the sync (each does every 5 to 10 minutes) is
      // counted too (a CI run once saw "WATCH pods", which sync never makes). So the read counts
      // may be measured up to three times: a sync that really reads twice fails every time, a
      // background renewal is not there again. Every run must write nothing and say so.
      for (let attempt = 1; ; attempt++) {
        await waitForQuietCluster();
        const countsBefore = await apiRequestCounts();
        const again = await plugin(['sync', name, '-n', home, '--namespaces', `${a},${b}`]);
        const delta = requestDelta(countsBefore, await apiRequestCounts());
        assertOk(again, 'second sync');
        assert.equal(again.stdout, 'summary: nothing to do\n');
        assert.equal(again.stderr, '');
        assert.deepEqual(await versions([home, a, b, c]), before, 'the no-op sync changed a resourceVersion');
        const requests = Object.fromEntries([...delta].filter(([key]) => !key.endsWith(' /metrics')));
        // Writes to what sync reads and writes (the control plane keeps renewing its own leases meanwhile).
        const writes = Object.entries(requests).filter(([key]) =>
          /^(POST|PUT|PATCH|DELETE|DELETECOLLECTION|APPLY) (secrets|serviceaccounts|namespaces|pods)(\/|$)/.test(key));
        assert.deepEqual(writes, [], `the no-op sync made write requests: ${JSON.stringify(requests)}`);
        const count = (key: string) => (requests[key] as number | undefined) ?? 0;
        // One read per resource type (a watch-list stream, or a paginated LIST where the server
        // refuses those); secrets: ours, plus the foreign ones of the source's name.
        const reads = (resource: string) => count(`LIST ${resource}`) + count(`WATCH ${resource}`);
        const readChecks: [boolean, string][] = [
          [reads('namespaces') <= 1, 'reads of namespaces'],
          [reads('serviceaccounts') <= 1, 'reads of serviceaccounts'],
          [reads('secrets') <= 2, 'reads of secrets'],
          [reads('pods') <= 1, 'reads of pods'],
          [count('GET secrets') + count('GET serviceaccounts') + count('GET namespaces') === 0, 'GETs per object'],
        ];
        const failed = readChecks.find(([ok]) => !ok);
        if (!failed) break;
        if (attempt === 3) assert.fail(`${failed[1]}, in each of 3 runs; the last: ${JSON.stringify(requests)}`);
      }
    } finally {
      await removeEverywhere(name);
    }
  });

  test('a user who may list but not watch syncs all the same: the complete lists are then read in pages', async () => {
    const name = unique('listonly');
    const [home, a] = await Promise.all([namespace('sync-lo-home'), namespace('sync-lo-a')]);
    const role = unique('kps-list-only');
    try {
      await addSource(name, home);
      assertOk(await plugin(['sync', name, '-n', home, '--namespaces', a]), 'the first sync, as admin');
      await admin.rbac.createClusterRole({
        body: { metadata: { name: role }, rules: [{ apiGroups: [''], resources: ['namespaces', 'serviceaccounts', 'secrets', 'pods'], verbs: ['list'] }] },
      });
      await admin.rbac.createClusterRoleBinding({
        body: {
          metadata: { name: role },
          subjects: [{ kind: 'User', name: 'restricted', apiGroup: 'rbac.authorization.k8s.io' }],
          roleRef: { kind: 'ClusterRole', name: role, apiGroup: 'rbac.authorization.k8s.io' },
        },
      });
      await waitFor('the list-only binding to take effect', async () =>
        (await run(['auth', 'can-i', 'list', 'serviceaccounts', '--all-namespaces', '--kubeconfig', restrictedKubeconfig], { command: 'kubectl' })).stdout.trim() === 'yes', 10_000);
      const before = await versions([home, a]);
      const result = await run(['sync', name, '-n', home, '--namespaces', a], { env: { KUBECONFIG: restrictedKubeconfig } });
      assertNoPassword(result, 'sync as a user without watch');
      assertOk(result, 'sync as a user without watch');
      assert.equal(result.stdout, 'summary: nothing to do\n');
      assert.equal(result.stderr, '');
      assert.deepEqual(await versions([home, a]), before);
    } finally {
      await admin.rbac.deleteClusterRoleBinding({ name: role }).catch(() => undefined);
      await admin.rbac.deleteClusterRole({ name: role }).catch(() => undefined);
      await removeEverywhere(name);
    }
  });

  test('--service-accounts default, and a list of names and globs, choose the ServiceAccounts', async () => {
    const onlyDefault = unique('sa-default');
    const globbed = unique('sa-glob');
    const [home, d, e] = await Promise.all(['sync-sa-home', 'sync-sa-d', 'sync-sa-e'].map((prefix) => namespace(prefix)));
    for (const ns of [d, e]) for (const sa of ['builder', 'build-bot', 'deployer', 'other']) await createServiceAccount(ns, sa);
    try {
      await addSource(onlyDefault, home);
      await addSource(globbed, home);
      assertOk(await plugin(['sync', onlyDefault, '-n', home, '--namespaces', d, '--service-accounts', 'default']), 'sync default');
      assert.deepEqual(await pullSecretNames(d, 'default'), [onlyDefault]);
      for (const sa of ['builder', 'build-bot', 'deployer', 'other']) assert.deepEqual(await pullSecretNames(d, sa), [], `${d}/${sa}`);

      const result = await plugin(['sync', globbed, '-n', home, '--namespaces', e, '--service-accounts', 'build*,deployer']);
      assertOk(result, 'sync globs');
      for (const sa of ['builder', 'build-bot', 'deployer']) assert.deepEqual(await pullSecretNames(e, sa), [globbed], `${e}/${sa}`);
      for (const sa of ['default', 'other']) assert.deepEqual(await pullSecretNames(e, sa), [], `${e}/${sa}`);
      assert.ok(await readSecret(e, globbed), 'the copy is made even where only some ServiceAccounts are selected');
    } finally {
      await removeEverywhere(onlyDefault);
      await removeEverywhere(globbed);
    }
  });

  test('namespace selection: -l, --exclude, the opt-out annotation (which beats --namespaces), terminating namespaces skipped', async () => {
    const name = unique('select');
    const label = { 'kps-sync-test': unique('sel') };
    const selector = `kps-sync-test=${label['kps-sync-test']}`;
    const [home, n1, n2, excluded, optedOut, unlabelled, terminating] = await Promise.all([
      namespace('sync-sel-home'),
      namespace('sync-sel-1', { labels: label }),
      namespace('sync-sel-2', { labels: label }),
      namespace('sync-sel-skipme', { labels: label }),
      namespace('sync-sel-optout', { labels: label, annotations: { [OPT_OUT_ANNOTATION]: 'false' } }),
      namespace('sync-sel-nolabel'),
      namespace('sync-sel-term', { labels: label }),
    ]);
    await holdTerminating(terminating);
    try {
      await addSource(name, home);
      const untouched = await versions([excluded, optedOut, unlabelled, terminating]);
      const result = await plugin(['sync', name, '-n', home, '-l', selector, '--exclude', '*-skipme-*']);
      assertOk(result, 'sync -l --exclude');
      assert.match(result.stdout, new RegExp(`^namespace/${terminating} skipped: terminating$`, 'm'));
      for (const ns of [excluded, optedOut, unlabelled]) assert.doesNotMatch(result.stdout, new RegExp(`\\b${escape(ns)}\\b`));
      const source = (await readSecret(home, name))!;
      await assertCopy(n1, source);
      await assertCopy(n2, source);
      assert.deepEqual(await pullSecretNames(n1, 'default'), [name]);
      assert.deepEqual(await pullSecretNames(n2, 'default'), [name]);
      assert.deepEqual(await versions([excluded, optedOut, unlabelled, terminating]), untouched);
      assert.equal(await readSecret(terminating, name), undefined);

      // The opt-out annotation wins even when the namespace is asked for by name.
      const named = await plugin(['sync', name, '-n', home, '--namespaces', `${optedOut},${n1}`]);
      assertOk(named, 'sync --namespaces with an opted-out namespace');
      assert.doesNotMatch(named.stdout, new RegExp(`\\(namespace ${escape(optedOut)}\\)`));
      assert.equal(await readSecret(optedOut, name), undefined);
      assert.deepEqual(await pullSecretNames(optedOut, 'default'), []);
      // ... and a terminating namespace asked for by name is skipped, not failed.
      const term = await plugin(['sync', name, '-n', home, '--namespaces', terminating]);
      assertOk(term, 'sync --namespaces terminating');
      assert.match(term.stdout, new RegExp(`^namespace/${terminating} skipped: terminating$`, 'm'));
      assert.equal(await readSecret(terminating, name), undefined);
    } finally {
      await releaseTerminating(terminating);
      await removeEverywhere(name);
    }
  });

  test('rotation: a changed source updates every copy in place (same uid, new data), without touching the ServiceAccounts', async () => {
    const name = unique('rotate');
    const [home, a, b] = await Promise.all(['sync-rot-home', 'sync-rot-a', 'sync-rot-b'].map((prefix) => namespace(prefix)));
    await createServiceAccount(b, 'builder');
    try {
      await addSource(name, home);
      assertOk(await plugin(['sync', name, '-n', home, '--namespaces', `${a},${b}`]), 'first sync');
      const before = { a: (await readSecret(a, name))!, b: (await readSecret(b, name))! };
      const accounts = await versions([a, b]);

      const rotated = await addSource(name, home, newPassword(), ['--replace']);
      assert.notDeepEqual(rotated.data, before.a.data, 'add --replace did not change the source');
      const result = await plugin(['sync', name, '-n', home, '--namespaces', `${a},${b}`]);
      assertOk(result, 'sync after rotation');
      assert.deepEqual(lines(result.stdout).sort(), [
        `secret/${name} updated: registries ${REGISTRY} (namespace ${a})`,
        `secret/${name} updated: registries ${REGISTRY} (namespace ${b})`,
        'summary: 2 updated',
      ].sort());
      for (const [ns, old] of [[a, before.a], [b, before.b]] as const) {
        const copy = await assertCopy(ns, rotated);
        assert.equal(copy.metadata?.uid, old.metadata?.uid, `the copy in ${ns} was re-created instead of updated in place`);
        assert.notEqual(copy.metadata?.resourceVersion, old.metadata?.resourceVersion);
        assert.equal(copy.metadata?.creationTimestamp?.toString(), old.metadata?.creationTimestamp?.toString());
      }
      const after = await versions([a, b]);
      for (const key of Object.keys(accounts).filter((k) => k.includes('/serviceaccount/'))) {
        assert.equal(after[key], accounts[key], `${key} was written during a rotation`);
      }
    } finally {
      await removeEverywhere(name);
    }
  });

  test('a same-named secret we do not manage fails (exit 1) and is left untouched while the others are done; --force takes it over', async () => {
    const name = unique('foreign');
    const [home, same, opaque, clean] = await Promise.all(
      ['sync-fgn-home', 'sync-fgn-same', 'sync-fgn-opaque', 'sync-fgn-clean'].map((prefix) => namespace(prefix)),
    );
    const foreignContent = { auths: { 'other.example': { auth: b64('someone:else') } } };
    try {
      await addSource(name, home);
      const foreign = await createDockerConfigSecret(same, name, foreignContent, { labels: { team: 'x' } });
      const foreignOpaque = await admin.core.createNamespacedSecret({
        namespace: opaque,
        body: { metadata: { name }, type: 'Opaque', data: { note: b64('keep me') } },
      });
      const saBefore = await versions([same, opaque]);
      const result = await plugin(['sync', name, '-n', home, '--namespaces', `${same},${opaque},${clean}`]);
      assert.equal(result.code, 1, `expected exit 1:\n${result.stdout}\n${result.stderr}`);
      assertFailureReport(result.stderr, /^error: 2 of \d+ changes failed; \d+ applied$/, [
        new RegExp(`^error: secret/${name} failed: a secret "${name}" not managed by kubectl-pullsecret is in the way \\(type kubernetes.io/dockerconfigjson\\); use --force to take it over \\(namespace ${same}\\)$`),
        new RegExp(`^error: secret/${name} failed: .*not managed by kubectl-pullsecret.*\\(type Opaque\\).*--force.*\\(namespace ${opaque}\\)$`),
      ]);
      assert.match(result.stdout, new RegExp(`^secret/${name} created: .*\\(namespace ${clean}\\)$`, 'm'));
      assert.doesNotMatch(result.stdout, /failed:/, 'failures go to stderr');
      // Untouched: the foreign secrets, and the ServiceAccounts next to them (no reference to a secret that is not ours).
      assert.deepEqual(await versions([same, opaque]), saBefore);
      assert.deepEqual((await readSecret(same, name))!.data, foreign.data);
      assert.deepEqual((await readSecret(opaque, name))!.data, foreignOpaque.data);
      assert.deepEqual(await pullSecretNames(same, 'default'), []);
      assert.deepEqual(await pullSecretNames(opaque, 'default'), []);
      // The others were still done.
      const source = (await readSecret(home, name))!;
      await assertCopy(clean, source);
      assert.deepEqual(await pullSecretNames(clean, 'default'), [name]);

      const forced = await plugin(['sync', name, '-n', home, '--namespaces', `${same},${opaque},${clean}`, '--force']);
      assertOk(forced, 'sync --force');
      const takenOver = await assertCopy(same, source);
      assert.equal(takenOver.metadata?.uid, foreign.metadata?.uid, 'a secret of the same type is taken over in place');
      await assertCopy(opaque, source);
      assert.deepEqual(await pullSecretNames(same, 'default'), [name]);
      assert.deepEqual(await pullSecretNames(opaque, 'default'), [name]);
    } finally {
      await removeEverywhere(name);
    }
  });

  test('--dry-run=client and --dry-run=server write nothing (create, update, attach, prune) and never print the password', async () => {
    const name = unique('dry');
    const [home, a] = await Promise.all(['sync-dry-home', 'sync-dry-a'].map((prefix) => namespace(prefix)));
    await createServiceAccount(a, 'builder', ['keep']);
    try {
      await addSource(name, home);
      for (const [mode, suffix] of [['client', '(dry run)'], ['server', '(server dry run)']] as const) {
        const before = await versions([home, a]);
        const result = await plugin(['sync', name, '-n', home, '--namespaces', a, `--dry-run=${mode}`]);
        assertOk(result, `dry run ${mode}`);
        assert.deepEqual(lines(result.stdout).sort(), [
          `secret/${name} created: registries ${REGISTRY} (namespace ${a}) ${suffix}`,
          `serviceaccount/builder attached ${name} (namespace ${a}) ${suffix}`,
          `serviceaccount/default attached ${name} (namespace ${a}) ${suffix}`,
          `summary: 1 created, 2 attached ${suffix}`,
        ].sort());
        assert.deepEqual(await versions([home, a]), before, `--dry-run=${mode} wrote something`);
        assert.equal(await readSecret(a, name), undefined);
      }

      // A real sync, then a rotation and a prune planned in dry runs: still nothing written.
      assertOk(await plugin(['sync', name, '-n', home, '--namespaces', a]), 'real sync');
      await addSource(name, home, newPassword(), ['--replace']);
      for (const [mode, suffix] of [['client', '(dry run)'], ['server', '(server dry run)']] as const) {
        const before = await versions([home, a]);
        const update = await plugin(['sync', name, '-n', home, '--namespaces', a, `--dry-run=${mode}`]);
        assertOk(update, `update dry run ${mode}`);
        assert.match(update.stdout, new RegExp(`^secret/${name} updated: registries ${REGISTRY} \\(namespace ${a}\\) ${escape(suffix)}$`, 'm'));
        const prune = await plugin(['sync', name, '-n', home, '--namespaces', a, '--exclude', a, '--prune', `--dry-run=${mode}`]);
        assertOk(prune, `prune dry run ${mode}`);
        assert.match(prune.stdout, new RegExp(`^serviceaccount/default detached ${name} \\(namespace ${a}\\) ${escape(suffix)}$`, 'm'));
        assert.match(prune.stdout, new RegExp(`^serviceaccount/builder detached ${name} \\(namespace ${a}\\) ${escape(suffix)}$`, 'm'));
        assert.match(prune.stdout, new RegExp(`^secret/${name} deleted \\(namespace ${a}\\) ${escape(suffix)}$`, 'm'));
        assert.deepEqual(await versions([home, a]), before, `--dry-run=${mode} wrote something`);
      }
      assert.deepEqual(await pullSecretNames(a, 'builder'), ['keep', name]);
    } finally {
      await removeEverywhere(name);
    }
  });

  test('--prune removes stale copies and their references (foreign entries kept); without it they are reported and kept', async () => {
    const name = unique('prune');
    const [home, a, b] = await Promise.all(['sync-prune-home', 'sync-prune-a', 'sync-prune-b'].map((prefix) => namespace(prefix)));
    await setPullSecrets(a, 'default', ['f1']);
    await createServiceAccount(b, 'builder', ['f3']);
    try {
      await addSource(name, home);
      assertOk(await plugin(['sync', name, '-n', home, '--namespaces', `${a},${b}`]), 'sync');
      // Our entry in the middle of foreign ones: a detach must not disturb its neighbours.
      await setPullSecrets(b, 'default', ['f1', name, 'f2']);

      // b no longer selected: reported, kept.
      const beforeB = await versions([b]);
      const stale = await plugin(['sync', name, '-n', home, '--namespaces', `${a},${b}`, '--exclude', b]);
      assertOk(stale, 'sync --exclude b');
      assert.match(stale.stdout, new RegExp(`^secret/${name} skipped: stale copy \\(its namespace is no longer selected\\); --prune removes it \\(namespace ${b}\\)$`, 'm'));
      assert.deepEqual(await versions([b]), beforeB);

      const aBefore = await versions([a]);
      const pruned = await plugin(['sync', name, '-n', home, '--namespaces', `${a},${b}`, '--exclude', b, '--prune']);
      assertOk(pruned, 'sync --exclude b --prune');
      assert.deepEqual(lines(pruned.stdout).sort(), [
        `secret/${name} deleted (namespace ${b})`,
        `serviceaccount/builder detached ${name} (namespace ${b})`,
        `serviceaccount/default detached ${name} (namespace ${b})`,
        'summary: 2 detached, 1 deleted',
      ].sort());
      assert.equal(await readSecret(b, name), undefined);
      assert.deepEqual(await pullSecretNames(b, 'default'), ['f1', 'f2']);
      assert.deepEqual(await pullSecretNames(b, 'builder'), ['f3']);
      assert.deepEqual(await versions([a]), aBefore, 'the copy that is still selected was touched');

      // The source is deleted: its copies are stale; only --prune removes them (sync --all: the
      // source NAME no longer exists to be named).
      assertOk(await plugin(['remove', name, '-n', home]), 'remove the source');
      await waitForUniqueSourceNames();
      const orphan = await plugin(['sync', '--all', '--namespaces', a]);
      assertOk(orphan, 'sync --all after the source is gone');
      assert.match(orphan.stdout, new RegExp(`^secret/${name} skipped: stale copy \\(its source ${home}/${name} is gone\\); --prune removes it \\(namespace ${a}\\)$`, 'm'));
      assert.ok(await readSecret(a, name), 'a stale copy was removed without --prune');
      const prunedOrphan = await plugin(['sync', '--all', '--namespaces', a, '--prune']);
      assertOk(prunedOrphan, 'sync --all --prune after the source is gone');
      assert.match(prunedOrphan.stdout, new RegExp(`^serviceaccount/default detached ${name} \\(namespace ${a}\\)$`, 'm'));
      assert.match(prunedOrphan.stdout, new RegExp(`^secret/${name} deleted \\(namespace ${a}\\)$`, 'm'));
      assert.equal(await readSecret(a, name), undefined);
      assert.deepEqual(await pullSecretNames(a, 'default'), ['f1']);
    } finally {
      await removeEverywhere(name);
    }
  });

  test('the source is deleted: sync NAME -n home --prune removes the copies of that source and their references', async () => {
    const name = unique('gone');
    const [home, a] = await Promise.all(['sync-gone-home', 'sync-gone-a'].map((prefix) => namespace(prefix)));
    await setPullSecrets(a, 'default', ['f1']);
    try {
      await addSource(name, home);
      assertOk(await plugin(['sync', name, '-n', home, '--namespaces', a]), 'sync');
      assertOk(await plugin(['remove', name, '-n', home]), 'remove the source');
      // Without naming every other source (--all): the copies of this one source are stale, and
      // --prune is what removes them (planSync prunes the copies of a named source that is gone).
      const pruned = await plugin(['sync', name, '-n', home, '--namespaces', a, '--prune']);
      assertOk(pruned, 'sync NAME --prune after its source was deleted');
      assert.match(pruned.stdout, new RegExp(`^secret/${name} deleted \\(namespace ${a}\\)$`, 'm'));
      assert.equal(await readSecret(a, name), undefined);
      assert.deepEqual(await pullSecretNames(a, 'default'), ['f1']);
    } finally {
      await removeEverywhere(name);
    }
  });

  test('--prune of every namespace, and remove NAME -A, undo a sync completely', async () => {
    const name = unique('undo');
    const [home, a, b] = await Promise.all(['sync-undo-home', 'sync-undo-a', 'sync-undo-b'].map((prefix) => namespace(prefix)));
    await setPullSecrets(a, 'default', ['f1', 'f2']);
    await createServiceAccount(a, 'builder', ['f3']);
    await createServiceAccount(b, 'bare');
    await createDockerConfigSecret(b, 'unrelated', { auths: { 'other.example': { auth: b64('u:p') } } });
    const all = [home, a, b];
    try {
      const beforeAdd = await snapshot(all);
      await addSource(name, home);
      const beforeSync = await snapshot(all);

      assertOk(await plugin(['sync', name, '-n', home, '--namespaces', `${a},${b}`]), 'sync');
      assert.notDeepEqual(await snapshot(all), beforeSync, 'the sync changed nothing');
      const prune = await plugin(['sync', name, '-n', home, '--namespaces', `${a},${b}`, '--exclude', a, '--exclude', b, '--prune']);
      assertOk(prune, 'prune everything');
      assert.deepEqual(await snapshot(all), beforeSync, '--prune did not undo the sync');

      assertOk(await plugin(['sync', name, '-n', home, '--namespaces', `${a},${b}`]), 'sync again');
      assertOk(await plugin(['remove', name, '-A']), 'remove -A');
      assert.deepEqual(await snapshot(all), beforeAdd, 'remove -A did not undo add and sync');
    } finally {
      await removeEverywhere(name);
    }
  });

  test('two sources with the same name: sync --all exits 2 naming both and writes nothing', async () => {
    const name = unique('dup');
    const [h1, h2, target] = await Promise.all(['sync-dup-h1', 'sync-dup-h2', 'sync-dup-target'].map((prefix) => namespace(prefix)));
    try {
      await addSource(name, h1);
      await addSource(name, h2);
      const before = await versions([h1, h2, target]);
      const result = await plugin(['sync', '--all', '--namespaces', target]);
      assert.equal(result.code, 2, `expected exit 2:\n${result.stdout}\n${result.stderr}`);
      assert.equal(lines(result.stderr).length, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`^error: two sources are named "${name}": `));
      assert.match(result.stderr, new RegExp(`\\b${escape(`${h1}/${name}`)}\\b`));
      assert.match(result.stderr, new RegExp(`\\b${escape(`${h2}/${name}`)}\\b`));
      assert.equal(result.stdout, '');
      assert.deepEqual(await versions([h1, h2, target]), before);

      // By name, one of them syncs; the other then finds a copy of the first in the way.
      assertOk(await plugin(['sync', name, '-n', h1, '--namespaces', target]), 'sync NAME -n h1');
      await assertCopy(target, (await readSecret(h1, name))!);
      const second = await plugin(['sync', name, '-n', h2, '--namespaces', target]);
      assert.equal(second.code, 1, second.stdout + second.stderr);
      assert.match(second.stderr, new RegExp(`^error: secret/${name} failed: .*${escape(`${h1}/${name}`)}.*\\(namespace ${target}\\)$`, 'm'));
      await assertCopy(target, (await readSecret(h1, name))!);
    } finally {
      await removeEverywhere(name);
    }
  });

  test('pods stuck in ImagePullBackOff that the source covers: a warning, and --restart-pending deletes those with a controller', async () => {
    const name = unique('pending');
    const [home, p] = await Promise.all(['sync-pend-home', 'sync-pend'].map((prefix) => namespace(prefix)));
    const owner = await admin.core.createNamespacedConfigMap({ namespace: p, body: { metadata: { name: 'owner' }, data: {} } });
    const ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid!, controller: true }];
    const pod = (podName: string, image: string, owned: boolean) =>
      admin.core.createNamespacedPod({
        namespace: p,
        body: { metadata: { name: podName, ...(owned ? { ownerReferences } : {}) }, spec: { containers: [{ name: 'app', image }] } },
      });
    await pod('owned-stuck', `${REGISTRY}/team/app:1`, true);
    await pod('bare-stuck', `${REGISTRY}/app:2`, false);
    await pod('owned-other', 'other.example/app:1', true);
    await pod('owned-waiting', `${REGISTRY}/app:3`, true);
    await setPullFailure(p, 'owned-stuck', ['app'], 'ImagePullBackOff');
    await setPullFailure(p, 'bare-stuck', ['app'], 'ErrImagePull');
    await setPullFailure(p, 'owned-other', ['app'], 'ImagePullBackOff');
    const exists = (podName: string) =>
      admin.core.readNamespacedPod({ name: podName, namespace: p }).then((found) => !found.metadata?.deletionTimestamp, () => false);
    try {
      await addSource(name, home);
      const warned = await plugin(['sync', name, '-n', home, '--namespaces', p]);
      assertOk(warned, 'sync');
      assert.match(warned.stderr, new RegExp(`^warning: pod/owned-stuck \\(namespace ${p}\\) cannot pull ${escape(`${REGISTRY}/team/app:1`)}, which ${name} now covers.*--restart-pending`, 'm'));
      assert.match(warned.stderr, new RegExp(`^warning: pod/bare-stuck \\(namespace ${p}\\) cannot pull ${escape(`${REGISTRY}/app:2`)}`, 'm'));
      assert.doesNotMatch(warned.stderr, /owned-other|owned-waiting/);
      for (const podName of ['owned-stuck', 'bare-stuck', 'owned-other', 'owned-waiting']) assert.ok(await exists(podName), `${podName} was deleted without --restart-pending`);

      const restarted = await plugin(['sync', name, '-n', home, '--namespaces', p, '--restart-pending']);
      assertOk(restarted, 'sync --restart-pending');
      assert.match(restarted.stdout, new RegExp(`^pod/owned-stuck deleted: its ConfigMap re-creates it with the pull secret \\(namespace ${p}\\)$`, 'm'));
      assert.match(restarted.stdout, new RegExp(`^pod/bare-stuck skipped: no controller re-creates it.*\\(namespace ${p}\\)$`, 'm'));
      assert.doesNotMatch(restarted.stdout + restarted.stderr, /owned-other|owned-waiting/);
      await waitFor('pod owned-stuck to be deleted', async () => !(await exists('owned-stuck')), 5_000);
      for (const podName of ['bare-stuck', 'owned-other', 'owned-waiting']) assert.ok(await exists(podName), `${podName} was deleted`);
    } finally {
      await removeEverywhere(name);
    }
  });
});
