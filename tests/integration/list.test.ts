// `kubectl pullsecret list` against the real local control plane: one namespace holding a pull
// secret of every status, read in every output format.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadYaml } from '@kubernetes/client-node';
import {
  admin,
  createDockerConfigSecret,
  createNamespace,
  createPod,
  createServiceAccount,
  readServiceAccount,
  run,
  uniqueNamespaceName,
  waitFor,
  withNamespace,
  type RunResult,
  assertOk,
} from './harness';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** Every credential placed in the fixtures: none of these may ever be printed. */
const credentials: string[] = [];
function fakeLogin(username: string, password: string) {
  const auth = b64(`${username}:${password}`);
  credentials.push(password, auth);
  return { username, password, auth };
}

const good = fakeLogin('good-user', 'FAKE-list-good-pw');
const spare = fakeLogin('spare-user', 'FAKE-list-spare-pw');
const ecr = fakeLogin('AWS', 'FAKE-list-ecr-token');
const legacy = fakeLogin('legacy-user', 'FAKE-list-legacy-pw');
const separate = fakeLogin('split-user', 'FAKE-list-split-pw');
const notBase64 = 'FAKE!!not-base64-auth';
const noColon = b64('FAKEnocolonvalue');
credentials.push(notBase64, noColon, 'FAKEnocolonvalue', 'FAKE-list-shape-value', 'FAKE-list-desktop-pw');

const ECR_HOST = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

interface Row {
  [column: string]: string;
}

/** Parses a kubectl-style table by the header's column offsets. */
function parseTable(stdout: string): { headers: string[]; rows: Row[] } {
  const lines = stdout.trimEnd().split('\n');
  const header = lines[0] ?? '';
  const headers = header.split(/ {3,}/);
  const starts: number[] = [];
  let from = 0;
  for (const h of headers) {
    starts.push(header.indexOf(h, from));
    from = starts[starts.length - 1]! + h.length;
  }
  const rows = lines.slice(1).map((line) => {
    const row: Row = {};
    headers.forEach((h, i) => {
      row[h] = line.slice(starts[i], i + 1 < starts.length ? starts[i + 1] : undefined).trim();
    });
    return row;
  });
  return { headers, rows };
}


function assertNoCredentials(result: RunResult, what: string) {
  for (const credential of credentials) {
    assert.ok(!result.stdout.includes(credential), `${what}: stdout contains ${JSON.stringify(credential)}`);
    assert.ok(!result.stderr.includes(credential), `${what}: stderr contains ${JSON.stringify(credential)}`);
  }
  // Whatever the JSON shape, no key anywhere may be called password or auth.
  assert.doesNotMatch(result.stdout, /"(password|auth)"\s*:/i, `${what}: a password/auth field is printed`);
  assert.doesNotMatch(result.stdout, /^\s*(password|auth):/im, `${what}: a password/auth field is printed`);
}

/** The fixture: one pull secret of every status, ServiceAccounts and pods that reference them. */
async function populate(namespace: string) {
  // ok and managed: created by the plugin and attached to default.
  const added = await run(
    ['add', 'good', '-n', namespace, '--server', 'registry.example', '--username', good.username, '--password-stdin'],
    { stdin: `${good.password}\n` },
  );
  assertOk(added, 'add good');
  // unused: nobody references it.
  await createDockerConfigSecret(namespace, 'spare', { auths: { 'spare.example': { username: spare.username, password: spare.password, auth: spare.auth } } });
  // short-lived: an ECR host, referenced.
  await createDockerConfigSecret(namespace, 'ecr', { auths: { [ECR_HOST]: { username: ecr.username, password: ecr.password, auth: ecr.auth } } });
  // legacy kubernetes.io/dockercfg, referenced.
  await createDockerConfigSecret(namespace, 'legacy', { 'legacy.example': { auth: legacy.auth, email: 'legacy@example.com' } }, { type: 'kubernetes.io/dockercfg' });
  // username/password without auth: still ok.
  await createDockerConfigSecret(namespace, 'split', { auths: { 'split.example': { username: separate.username, password: separate.password } } });
  // malformed: auth not base64; auth without a colon; auths of the wrong shape.
  await createDockerConfigSecret(namespace, 'bad-auth', { auths: { 'bad.example': { auth: notBase64 } } });
  await createDockerConfigSecret(namespace, 'no-colon', { auths: { 'nocolon.example': { auth: noColon } } });
  await createDockerConfigSecret(namespace, 'bad-shape', { auths: 'FAKE-list-shape-value' });
  // empty: credsStore only (Docker Desktop style), empty auths, entries without credentials.
  await createDockerConfigSecret(namespace, 'creds-store', { credsStore: 'desktop' });
  await createDockerConfigSecret(namespace, 'empty-auths', { auths: {} });
  await createDockerConfigSecret(namespace, 'desktop', { auths: { 'desktop.example': {} }, credsStore: 'desktop' });
  // Not a pull secret: never listed.
  await admin.core.createNamespacedSecret({ namespace, body: { metadata: { name: 'opaque' }, type: 'Opaque', data: { password: b64('FAKE-list-desktop-pw') } } });

  // builder references some of them, and one that does not exist (dangling).
  await createServiceAccount(namespace, 'builder', ['ecr', 'legacy', 'split', 'ghost', 'bad-auth', 'no-colon', 'bad-shape', 'creds-store', 'empty-auths', 'desktop']);
  // A pod that references `good`, and one naming a missing secret.
  await createPod(namespace, 'user-pod', { imagePullSecrets: ['good'] });
  await createPod(namespace, 'phantom-pod', { imagePullSecrets: ['phantom'] });
}

const expectedStatus: Record<string, string> = {
  good: 'ok',
  spare: 'unused',
  ecr: 'short-lived',
  legacy: 'ok',
  split: 'ok',
  'bad-auth': 'malformed',
  'no-colon': 'malformed',
  'bad-shape': 'malformed',
  'creds-store': 'empty',
  'empty-auths': 'empty',
  desktop: 'empty',
  ghost: 'dangling',
  phantom: 'dangling',
};

const pullSecretNames = Object.keys(expectedStatus).filter((n) => n !== 'ghost' && n !== 'phantom').sort();

describe('list', () => {
  let namespace = '';
  before(async () => {
    namespace = uniqueNamespaceName('list-all');
    await createNamespace(namespace);
    await waitFor(`ServiceAccount ${namespace}/default`, async () => Boolean(await readServiceAccount(namespace, 'default')));
    await populate(namespace);
  });
  after(async () => {
    if (namespace) await admin.core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  test('the table has one row per pull secret (legacy dockercfg included) with registries, references, managed, age and status', async () => {
    const table = await run(['list', '-n', namespace]);
    assertOk(table, 'list');
    assertNoCredentials(table, 'list');
    const { headers, rows } = parseTable(table.stdout);
    assert.deepEqual(headers, ['NAME', 'REGISTRIES', 'SERVICE ACCOUNTS', 'MANAGED', 'AGE', 'STATUS']);
    const byName = new Map(rows.map((row) => [row.NAME!, row]));
    assert.deepEqual([...byName.keys()].sort(), Object.keys(expectedStatus).sort(), table.stdout);
    for (const [name, status] of Object.entries(expectedStatus)) {
      assert.equal(byName.get(name)?.STATUS, status, `${name}: status\n${table.stdout}`);
    }
    for (const row of rows) {
      if (row.STATUS !== 'dangling') assert.match(row.AGE!, /^\d+[smhdy]/, `${row.NAME}: AGE`);
    }
    assert.equal(byName.get('good')!.REGISTRIES, 'registry.example');
    assert.equal(byName.get('good')!['SERVICE ACCOUNTS'], 'default');
    assert.equal(byName.get('good')!.MANAGED, 'yes');
    assert.equal(byName.get('spare')!['SERVICE ACCOUNTS'], '<none>');
    assert.equal(byName.get('spare')!.MANAGED, 'no');
    assert.equal(byName.get('ecr')!.REGISTRIES, ECR_HOST);
    assert.equal(byName.get('ecr')!['SERVICE ACCOUNTS'], 'builder');
    assert.equal(byName.get('legacy')!.REGISTRIES, 'legacy.example');
    assert.equal(byName.get('legacy')!['SERVICE ACCOUNTS'], 'builder');
    // A dangling row names the missing secret and who references it.
    assert.equal(byName.get('ghost')!['SERVICE ACCOUNTS'], 'builder');
    assert.doesNotMatch(table.stdout, /^opaque\s/m);
  });

  test('-o wide adds usernames and the number of pods that reference each secret', async () => {
    const wide = await run(['list', '-n', namespace, '-o', 'wide']);
    assertOk(wide, 'list -o wide');
    assertNoCredentials(wide, 'list -o wide');
    const wideTable = parseTable(wide.stdout);
    assert.deepEqual(wideTable.headers, ['NAME', 'REGISTRIES', 'SERVICE ACCOUNTS', 'MANAGED', 'AGE', 'STATUS', 'USERNAMES', 'PODS']);
    const rows = new Map(wideTable.rows.map((row) => [row.NAME!, row]));
    assert.equal(rows.get('good')!.USERNAMES, good.username);
    assert.equal(rows.get('good')!.PODS, '1');
    assert.equal(rows.get('legacy')!.USERNAMES, legacy.username);
    assert.equal(rows.get('split')!.USERNAMES, separate.username);
    assert.equal(rows.get('spare')!.PODS, '0');
    assert.equal(rows.get('phantom')!.PODS, '1');
    assert.equal(rows.get('phantom')!.STATUS, 'dangling');
  });

  test('-A adds the NAMESPACE column', async () => {
    const all = await run(['list', '-A']);
    assertOk(all, 'list -A');
    assertNoCredentials(all, 'list -A');
    const allTable = parseTable(all.stdout);
    assert.deepEqual(allTable.headers, ['NAMESPACE', 'NAME', 'REGISTRIES', 'SERVICE ACCOUNTS', 'MANAGED', 'AGE', 'STATUS']);
    const ours = allTable.rows.filter((row) => row.NAMESPACE === namespace);
    assert.deepEqual(ours.map((row) => row.NAME).sort(), Object.keys(expectedStatus).sort());
    for (const row of ours) assert.equal(row.STATUS, expectedStatus[row.NAME!], `-A ${row.NAME}`);
    const allWide = await run(['list', '-A', '-o', 'wide']);
    assertOk(allWide, 'list -A -o wide');
    assertNoCredentials(allWide, 'list -A -o wide');
    assert.match(allWide.stdout, /^NAMESPACE\s+NAME\s+REGISTRIES\s+SERVICE ACCOUNTS\s+MANAGED\s+AGE\s+STATUS\s+USERNAMES\s+PODS$/m);
  });

  test('-o json and -o yaml give the same entries as data, with the dangling references and reasons', async () => {
    type Entry = { namespace: string; name: string; status: string; registries: string[]; serviceAccounts: string[]; pods: string[]; reason?: string };
    const json = await run(['list', '-n', namespace, '-o', 'json']);
    assertOk(json, 'list -o json');
    assertNoCredentials(json, 'list -o json');
    const yaml = await run(['list', '-n', namespace, '-o', 'yaml']);
    assertOk(yaml, 'list -o yaml');
    assertNoCredentials(yaml, 'list -o yaml');
    for (const [format, parsed] of [['json', JSON.parse(json.stdout)], ['yaml', loadYaml(yaml.stdout)]] as const) {
      const items = (parsed as { items: Entry[] }).items;
      assert.ok(Array.isArray(items), `-o ${format}: no items`);
      const statuses = Object.fromEntries(items.map((item) => [item.name, item.status]));
      assert.deepEqual(statuses, expectedStatus, `-o ${format}`);
      for (const item of items) assert.equal(item.namespace, namespace);
      const ghost = items.find((item) => item.name === 'ghost')!;
      assert.deepEqual(ghost.serviceAccounts, ['builder']);
      assert.match(ghost.reason ?? '', /serviceaccount\/builder/);
      const phantom = items.find((item) => item.name === 'phantom')!;
      assert.deepEqual(phantom.pods, ['phantom-pod']);
      assert.match(phantom.reason ?? '', /pod\/phantom-pod/);
      assert.match(items.find((item) => item.name === 'ecr')!.reason ?? '', /ECR/);
      assert.deepEqual(items.find((item) => item.name === 'good')!.pods, ['user-pod']);
    }
  });

  test('-o name prints the pull secrets that exist, kubectl-style', async () => {
    const names = await run(['list', '-n', namespace, '-o', 'name']);
    assertOk(names, 'list -o name');
    assertNoCredentials(names, 'list -o name');
    assert.deepEqual(names.stdout.trimEnd().split('\n').sort(), pullSecretNames.map((n) => `secret/${n}`));
  });

  test('a namespace without pull secrets says so on stderr', async () => {
    await withNamespace('list-none', async (namespace) => {
      await admin.core.createNamespacedSecret({ namespace, body: { metadata: { name: 'not-a-pull-secret' }, type: 'Opaque', data: { a: b64('b') } } });
      const result = await run(['list', '-n', namespace]);
      assertOk(result, 'list');
      assert.equal(result.stdout, '');
      assert.equal(result.stderr, `No pull secrets found in ${namespace} namespace.\n`);
    });
  });
});
