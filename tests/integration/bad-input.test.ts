// The bad-input matrix of issue 6, one test per case, against the real local control plane. For
// every case: the documented exit code (0 ok, 1 failed, 2 usage), at most one line on stderr,
// `error: ...` saying what is wrong and what to do, no stack trace, and the cluster exactly as
// before — every Secret (name, type, resourceVersion) and every ServiceAccount (resourceVersion
// and imagePullSecrets) of the cluster, read back as admin, and no new namespace. Cases whose input is valid (servers, passwords) read the result back instead; the
// cluster-state cases change the cluster between plan and apply through the test seam
// KPS_TEST_PAUSE_BEFORE_APPLY_MS (lib/apply.ts) and check what was reported and that a re-run
// converges. The last section checks that passwords never leak (the harness also scans all the
// output of this file, as of every other, when it ends).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PatchStrategy, dumpYaml, loadYaml, setHeaderOptions } from '@kubernetes/client-node';
import {
  assertFailureReport,
  admin,
  adminKubeconfig,
  clusterDir,
  createDockerConfigSecret,
  createServiceAccount,
  createTestNamespace,
  deleteNamespaces,
  dockerConfigJsonOf,
  fakeCredentialHelper,
  grantRestricted,
  pluginPath,
  pullSecretNames,
  readSecret,
  readServiceAccount,
  recordPluginOutput,
  rememberSecret,
  restrictedKubeconfig,
  run,
  scanForLeaks,
  setPullSecrets,
  startPlugin,
  tempDir,
  waitFor,
  type RunResult,
  holdTerminating,
  releaseTerminating,
} from './harness';

const scratch = tempDir();
const created: string[] = [];
after(async () => {
  await deleteNamespaces(created);
  scratch.cleanup();
});

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const PASSWORD = 'FAKE-bad-input-pw';
const LOGIN = ['--server', 'registry.example', '--username', 'ci', '--password-stdin'];
const PAUSE_LINE = /^paused before applying \d+ changes$/;
/** How long the plugin waits between plan and apply in the cluster-state cases. */
const PAUSE_MS = 2000;

/** Everything the cases need, made in before(). */
const ctx = {
  /** The main namespace: ServiceAccounts default and builder, the source regcred (attached to builder). */
  ns: '',
  /** A second namespace: an Opaque secret "clash" (a source "clash" lives in ns). */
  other: '',
  /** Where valid input is written (servers, passwords). */
  valid: '',
  /** Terminating: held by a finalizer until after(). */
  terminating: '',
  /** The restricted user may read and create secrets and read ServiceAccounts here, nothing else. */
  partial: '',
  /** A namespace name that does not exist. */
  missing: `kps-missing-${process.pid}`,
  helpers: path.join(scratch.dir, 'helpers'),
  configs: path.join(scratch.dir, 'configs'),
  kubeconfigs: {} as Record<string, string>,
  silent: undefined as Server | undefined,
  sockets: [] as Socket[],
};

// ------------------------------------------------------------------------------------------------
// Snapshots: the cluster exactly as before.

interface Snapshot {
  /** Every Secret (`ns/secret/name` -> type and resourceVersion) and ServiceAccount (-> resourceVersion and imagePullSecrets). */
  objects: Map<string, string>;
  /** The namespaces that are Active. */
  active: Set<string>;
}

/** Every Secret and ServiceAccount of the cluster, in three LISTs. */
async function snapshot(): Promise<Snapshot> {
  const [secrets, accounts, namespaces] = await Promise.all([
    admin.core.listSecretForAllNamespaces(),
    admin.core.listServiceAccountForAllNamespaces(),
    admin.core.listNamespace(),
  ]);
  const objects = new Map<string, string>();
  for (const s of secrets.items) objects.set(`${s.metadata!.namespace}/secret/${s.metadata!.name}`, `${s.type} rv=${s.metadata!.resourceVersion}`);
  for (const sa of accounts.items) {
    const refs = (sa.imagePullSecrets ?? []).map((ref) => ref.name);
    objects.set(`${sa.metadata!.namespace}/serviceaccount/${sa.metadata!.name}`, `rv=${sa.metadata!.resourceVersion} imagePullSecrets=${JSON.stringify(refs)}`);
  }
  return { objects, active: new Set(namespaces.items.filter((n) => n.status?.phase === 'Active').map((n) => n.metadata!.name!)) };
}

/**
 * Nothing changed: every object of the namespaces named, and of every namespace active before and
 * after (namespaces another test file left behind may still be going away), and no new namespace.
 */
function assertUnchanged(before: Snapshot, after: Snapshot, namespaces: string[], where: string): void {
  const compared = (key: string) => {
    const namespace = key.slice(0, key.indexOf('/'));
    return namespaces.includes(namespace) || (before.active.has(namespace) && after.active.has(namespace));
  };
  const view = (s: Snapshot) => Object.fromEntries([...s.objects].filter(([key]) => compared(key)));
  assert.deepEqual(view(after), view(before), `objects changed:\n${where}`);
  const added = [...after.active].filter((name) => !before.active.has(name));
  assert.deepEqual(added, [], `namespaces were created:\n${where}`);
}

// ------------------------------------------------------------------------------------------------
// One row of the matrix.

/** A pattern, or one built when the row runs (the namespaces are made in before()). */
type Pattern = RegExp | (() => RegExp);
const pattern = (value: Pattern) => (typeof value === 'function' ? value() : value);

interface Row {
  args: () => string[];
  stdin?: string;
  env?: () => Record<string, string | undefined>;
  code: 0 | 1 | 2;
  /** The last `error: ` line (required unless code is 0, where no error line may appear). */
  error?: Pattern;
  /** The `error: ` lines of objects that failed, before it (none by default). */
  failures?: Pattern[];
  /** What stdout must match; by default a failure that is not about objects prints nothing. */
  stdout?: Pattern;
  /** stderr of a successful run, e.g. kubectl's "No resources found" line. */
  stderr?: Pattern;
  /** Namespaces compared even when not Active (besides ns and other). */
  namespaces?: () => string[];
  /** An upper bound on the run's duration. */
  withinMs?: number;
}

function describeRun(args: string[], result: RunResult): string {
  return `$ kubectl pullsecret ${args.join(' ')}\nexit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}

/** Runs a row and checks it. */
async function check(row: Row): Promise<RunResult> {
  const namespaces = [ctx.ns, ctx.other, ...(row.namespaces?.() ?? [])];
  const args = row.args();
  const before = await snapshot();
  const started = Date.now();
  const result = await run(args, { stdin: row.stdin ?? '', ...(row.env ? { env: row.env() } : {}) });
  const elapsed = Date.now() - started;
  const where = describeRun(args, result);
  assert.equal(result.code, row.code, where);
  if (row.code !== 0) {
    assert.ok(row.error, 'a failing row names its error');
    assertFailureReport(result.stderr, pattern(row.error), (row.failures ?? []).map(pattern));
  } else {
    assert.doesNotMatch(result.stderr, /^error: /m, where);
  }
  assert.doesNotMatch(`${result.stdout}\n${result.stderr}`, /\n\s+at \S+ \(|node:internal|TypeError|ReferenceError/, `stack trace or crash:\n${where}`);
  if (row.stderr) assert.match(result.stderr, pattern(row.stderr), where);
  if (row.stdout) assert.match(result.stdout, pattern(row.stdout), where);
  else if (row.code !== 0) assert.equal(result.stdout, '', where);
  if (row.withinMs !== undefined) assert.ok(elapsed < row.withinMs, `took ${elapsed} ms (limit ${row.withinMs}):\n${where}`);
  assertUnchanged(before, await snapshot(), namespaces, where);
  return result;
}

/**
 * How many rows of a table run at once. Rows never change the cluster, so they cannot disturb
 * each other's before/after comparison; should one change it after all, a row running at the same
 * time may be the one that reports it (the failure names the command that ran, the diff the object).
 */
const ROW_CONCURRENCY = 4;

/** One test per row, in a suite of its own (where nothing but rows runs). */
function rows(title: string, table: [string, Row][]): void {
  describe(title, { concurrency: ROW_CONCURRENCY }, () => {
    for (const [name, row] of table) test(name, async () => void (await check(row)));
  });
}

// ------------------------------------------------------------------------------------------------
// Fixtures

function writeFile(dir: string, name: string, content: string | Buffer, mode?: number): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, content);
  if (mode !== undefined) chmodSync(file, mode);
  return file;
}

const config = (name: string) => path.join(ctx.configs, name);
const helperEnv = () => ({ PATH: `${ctx.helpers}${path.delimiter}${process.env.PATH ?? ''}` });

/** Docker configs and credential helpers; every password in them is remembered for the leak scan. */
function writeDockerConfigs(): void {
  const dir = ctx.configs;
  const json = (value: unknown) => JSON.stringify(value);
  rememberSecret('FAKE-dc-inline-pw', ['ci']);
  writeFile(dir, 'good.json', json({ auths: { 'registry.example': { username: 'ci', password: 'FAKE-dc-inline-pw', auth: b64('ci:FAKE-dc-inline-pw') } } }));
  rememberSecret('FAKE-dc-notjson-pw', ['ci']);
  writeFile(dir, 'not-json.json', '{"auths":{"registry.example":{"username":"ci","password":"FAKE-dc-notjson-pw"}');
  writeFile(dir, 'array.json', '[{"auths":{}}]');
  writeFile(dir, 'auths-string.json', json({ auths: 'registry.example' }));
  rememberSecret('FAKE-dc-number-pw');
  writeFile(dir, 'password-number.json', '{"auths":{"registry.example":{"username":"ci","password":12345678}},"x":"FAKE-dc-number-pw"}');
  rememberSecret('!!FAKE-dc-not-base64!!');
  writeFile(dir, 'auth-not-base64.json', json({ auths: { 'registry.example': { auth: '!!FAKE-dc-not-base64!!' } } }));
  rememberSecret('ciFAKE-dc-no-colon-pw');
  writeFile(dir, 'auth-no-colon.json', json({ auths: { 'registry.example': { auth: b64('ciFAKE-dc-no-colon-pw') } } }));
  writeFile(dir, 'empty-auths.json', json({ auths: {} }));
  rememberSecret('FAKE-dc-identity-token');
  writeFile(dir, 'identity-token.json', json({ auths: { 'registry.example': { identitytoken: 'FAKE-dc-identity-token' } } }));
  for (const helper of ['kps-missing', 'kps-failing', 'kps-empty', 'kps-hanging', 'kps-garbage', 'kps-token']) {
    writeFile(dir, `helper-${helper}.json`, json({ auths: { 'registry.example': {} }, credsStore: helper }));
  }
  writeFile(dir, 'big.json', Buffer.alloc(10 * 1024 * 1024, ' '));
  writeFile(dir, 'not-utf8.json', Buffer.concat([Buffer.from('{"auths":{"registry.example":{"username":"ci","password":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}}}')]));
  mkdirSync(path.join(dir, 'a-directory'), { recursive: true });
  // Helpers: one that fails, one that hangs, one that prints garbage (holding a secret), one that
  // has no credentials, one that answers with an identity token.
  const helpers = ctx.helpers;
  writeFile(helpers, 'docker-credential-kps-failing', '#!/bin/sh\necho "keychain is locked" >&2\nexit 3\n', 0o755);
  writeFile(helpers, 'docker-credential-kps-hanging', '#!/bin/sh\nexec sleep 60\n', 0o755);
  rememberSecret('FAKE-helper-garbage-secret');
  writeFile(helpers, 'docker-credential-kps-garbage', '#!/bin/sh\necho "Username=ci Secret=FAKE-helper-garbage-secret"\n', 0o755);
  fakeCredentialHelper(helpers, 'kps-empty', { 'elsewhere.example': { username: 'ci', secret: 'FAKE-helper-elsewhere-secret' } });
  fakeCredentialHelper(helpers, 'kps-token', { 'registry.example': { username: '<token>', secret: 'FAKE-helper-identity-token' } });
}

type KubeconfigYaml = {
  clusters: { name: string; cluster: Record<string, unknown> }[];
  users: { name: string; user: Record<string, unknown> }[];
  contexts: { name: string; context: { user?: string } & Record<string, unknown> }[];
  'current-context': string;
};

/** A variant of the admin kubeconfig. */
function kubeconfigVariant(name: string, change: (config: KubeconfigYaml, user: Record<string, unknown>) => void): string {
  const yaml = loadYaml<KubeconfigYaml>(readFileSync(adminKubeconfig, 'utf8'));
  const context = yaml.contexts.find((c) => c.name === yaml['current-context'])!;
  const user = yaml.users.find((u) => u.name === context.context.user)!;
  change(yaml, user.user);
  return writeFile(path.join(scratch.dir, 'kubeconfigs'), `${name}.kubeconfig`, dumpYaml(yaml));
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Client certificates: one from a CA the API server does not trust, one expired from its own CA. */
function clientCertificates(): { untrusted: { cert: string; key: string }; expired: { cert: string; key: string } } {
  const dir = path.join(scratch.dir, 'pki');
  mkdirSync(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'untrusted.key', '-out', 'untrusted.crt', '-days', '2', '-subj', '/CN=admin/O=system:masters'], dir);
  // `openssl ca` can set dates in the past (OpenSSL 3.0's x509 cannot): valid for one day in 2020.
  writeFile(dir, 'ca.cnf', [
    '[ ca ]', 'default_ca = test', '[ test ]', 'database = ./index.txt', 'new_certs_dir = .', 'serial = ./serial',
    'default_md = sha256', 'policy = any', 'unique_subject = no', 'copy_extensions = none',
    '[ any ]', 'commonName = supplied', 'organizationName = optional',
    '[ client ]', 'extendedKeyUsage = clientAuth', 'basicConstraints = CA:FALSE', '',
  ].join('\n'));
  writeFile(dir, 'index.txt', '');
  writeFile(dir, 'serial', '01\n');
  openssl(['req', ...ec, '-keyout', 'expired.key', '-out', 'expired.csr', '-subj', '/CN=admin/O=system:masters'], dir);
  openssl(['ca', '-batch', '-config', 'ca.cnf', '-cert', path.join(clusterDir, 'pki', 'ca.crt'), '-keyfile', path.join(clusterDir, 'pki', 'ca.key'),
    '-in', 'expired.csr', '-out', 'expired.crt', '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-extensions', 'client', '-notext'], dir);
  const read = (name: string) => readFileSync(path.join(dir, name), 'utf8');
  return {
    untrusted: { cert: read('untrusted.crt'), key: read('untrusted.key') },
    expired: { cert: read('expired.crt'), key: read('expired.key') },
  };
}

async function writeKubeconfigs(): Promise<void> {
  const kc = ctx.kubeconfigs;
  // A listener that accepts connections and never answers; and a port nobody listens on.
  ctx.silent = createServer((socket) => ctx.sockets.push(socket));
  await new Promise<void>((resolve) => ctx.silent!.listen(0, '127.0.0.1', resolve));
  const silentPort = (ctx.silent.address() as { port: number }).port;
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as { port: number }).port;
  await new Promise((resolve) => closed.close(resolve));
  kc.silent = kubeconfigVariant('silent', (c) => void (c.clusters[0]!.cluster.server = `https://127.0.0.1:${silentPort}`));
  kc.refused = kubeconfigVariant('refused', (c) => void (c.clusters[0]!.cluster.server = `https://127.0.0.1:${closedPort}`));

  const pki = path.join(scratch.dir, 'pki');
  mkdirSync(pki, { recursive: true });
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '2', '-subj', '/CN=other-ca'], pki);
  kc.otherCa = kubeconfigVariant('other-ca', (c) => void (c.clusters[0]!.cluster['certificate-authority-data'] = b64(readFileSync(path.join(pki, 'other-ca.crt'), 'utf8'))));
  const certs = clientCertificates();
  const withCert = (pair: { cert: string; key: string }) => (_c: KubeconfigYaml, user: Record<string, unknown>) => {
    for (const key of Object.keys(user)) delete user[key];
    user['client-certificate-data'] = b64(pair.cert);
    user['client-key-data'] = b64(pair.key);
  };
  kc.untrustedCert = kubeconfigVariant('untrusted-cert', withCert(certs.untrusted));
  kc.expiredCert = kubeconfigVariant('expired-cert', withCert(certs.expired));

  const exec = (command: string) => (_c: KubeconfigYaml, user: Record<string, unknown>) => {
    for (const key of Object.keys(user)) delete user[key];
    user.exec = { apiVersion: 'client.authentication.k8s.io/v1', command, interactiveMode: 'Never' };
  };
  const execDir = path.join(scratch.dir, 'exec');
  kc.execFails = kubeconfigVariant('exec-fails', exec(writeFile(execDir, 'failing.sh', '#!/bin/sh\necho "login expired: run the cloud login again" >&2\nexit 3\n', 0o755)));
  kc.execMissing = kubeconfigVariant('exec-missing', exec(path.join(execDir, 'not-installed')));
  // A plugin that prints a bare token instead of an ExecCredential: JSON.parse would quote it.
  rememberSecret('FAKE-exec-bare-token-0123456789');
  kc.execToken = kubeconfigVariant('exec-token', exec(writeFile(execDir, 'token.sh', '#!/bin/sh\necho FAKE-exec-bare-token-0123456789\n', 0o755)));
}

before(async () => {
  ctx.ns = await createTestNamespace('bad-input');
  ctx.other = await createTestNamespace('bad-input-other');
  ctx.valid = await createTestNamespace('bad-input-valid');
  ctx.partial = await createTestNamespace('bad-input-partial');
  created.push(ctx.ns, ctx.other, ctx.valid, ctx.partial);
  await createServiceAccount(ctx.ns, 'builder');
  const source = await run(['add', 'regcred', '-n', ctx.ns, ...LOGIN, '--service-account', 'builder'], { stdin: `${PASSWORD}\n` });
  assert.equal(source.code, 0, source.stderr);
  const clash = await run(['add', 'clash', '-n', ctx.ns, ...LOGIN, '--no-attach'], { stdin: `${PASSWORD}\n` });
  assert.equal(clash.code, 0, clash.stderr);
  await admin.core.createNamespacedSecret({ namespace: ctx.other, body: { metadata: { name: 'clash' }, type: 'Opaque', data: { note: b64('not a pull secret') } } });

  // A namespace that stays Terminating: a ConfigMap with a finalizer holds it (released in after()).
  ctx.terminating = await createTestNamespace('bad-input-terminating');
  created.push(ctx.terminating);
  await holdTerminating(ctx.terminating);

  await grantRestricted(
    ctx.partial,
    [
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'create', 'update'] },
      { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list'] },
    ],
    ['create', 'secrets'],
  );
  writeDockerConfigs();
  await writeKubeconfigs();
});

after(async () => {
  for (const socket of ctx.sockets) socket.destroy();
  ctx.silent?.close();
  if (ctx.terminating) await releaseTerminating(ctx.terminating);
});

// ------------------------------------------------------------------------------------------------
// The matrix

const TOO_LONG = 'a'.repeat(254);
const NAMES: [string, string, RegExp, RegExp][] = [
  ['in uppercase', 'RegCred', /invalid secret name "RegCred": use lowercase letters, digits, "-" and "\."/, /invalid pod name "RegCred": use lowercase letters/],
  ['too long (254 characters)', TOO_LONG, /invalid secret name "a{254}": must be at most 253 characters/, /invalid pod name "a{254}": must be at most 253 characters/],
  ['with illegal characters', 'reg_cred!', /invalid secret name "reg_cred!": use lowercase letters, digits, "-" and "\."/, /invalid pod name "reg_cred!": use lowercase letters/],
  ['empty', '', /secret name is empty/, /invalid pod name "": use lowercase letters/],
];

describe('bad input: names', () => {
  rows('names of objects', NAMES.flatMap(([label, name, secretError, podError]): [string, Row][] => [
    [`add: NAME ${label}`, { args: () => ['add', name, '-n', ctx.ns, ...LOGIN], stdin: PASSWORD, code: 2, error: secretError }],
    [`remove: NAME ${label}`, { args: () => ['remove', name, '-n', ctx.ns], code: 2, error: secretError }],
    [`sync: NAME ${label}`, {
      args: () => ['sync', name, '-n', ctx.ns, '--namespaces', ctx.other],
      code: 2,
      // yargs drops an empty positional: that is "no NAME".
      error: name === '' ? /nothing to sync: give a source NAME \(with -n NAMESPACE\) or --all/ : secretError,
    }],
    [`doctor: POD ${label}`, { args: () => ['doctor', name, '-n', ctx.ns], code: 2, error: podError }],
  ]));

  rows('namespaces, kinds, ServiceAccounts and --from-secret', [
    ['doctor: KIND/NAME of an unknown kind', { args: () => ['doctor', 'replicaset/web', '-n', ctx.ns], code: 2, error: /doctor checks a pod, deployment, statefulset, daemonset, job or cronjob, not "replicaset" \(e\.g\. deployment\/web\)/ }],
    ['doctor: KIND/ without a name', { args: () => ['doctor', 'deployment/', '-n', ctx.ns], code: 2, error: /invalid deployment name ""/ }],
    ['doctor: KIND/NAME/EXTRA', { args: () => ['doctor', 'deployment/web/x', '-n', ctx.ns], code: 2, error: /./ }],
    ...(['add', 'list', 'remove', 'sync', 'doctor'] as const).map((verb): [string, Row] => [`${verb}: -n in uppercase`, {
      args: () => ({
        add: ['add', 'regcred', '-n', 'Shop', '--from-secret', `${ctx.ns}/regcred`],
        list: ['list', '-n', 'Shop'],
        remove: ['remove', 'regcred', '-n', 'Shop'],
        sync: ['sync', 'regcred', '-n', 'Shop'],
        doctor: ['doctor', '-n', 'Shop'],
      })[verb],
      code: 2,
      error: /invalid namespace name "Shop": use lowercase letters, digits and "-"/,
    }]),
    ['list: -n too long (64 characters)', { args: () => ['list', '-n', 'n'.repeat(64)], code: 2, error: /invalid namespace name "n{64}": must be at most 63 characters/ }],
    ['add: --namespaces with an illegal name', { args: () => ['add', 'never-written', '--namespaces', `${ctx.ns},Bad_NS`, ...LOGIN], stdin: PASSWORD, code: 2, error: /invalid namespace name "Bad_NS"/ }],
    ['sync: --namespaces with an illegal name', { args: () => ['sync', '--all', '--namespaces', `${ctx.other},Bad_NS`], code: 2, error: /invalid namespace name "Bad_NS"/ }],

    // Unknown namespace.
    ['add: unknown namespace', {
      args: () => ['add', 'never-written', '-n', ctx.missing, ...LOGIN],
      stdin: PASSWORD,
      code: 1,
      error: new RegExp(`^error: namespace "${ctx.missing}" not found \\(create it with kubectl create namespace ${ctx.missing}, or check -n/--namespaces and the context\\); nothing was changed$`),
    }],
    ['add: --namespaces with one unknown namespace writes nothing in the others', {
      args: () => ['add', 'never-written', '--namespaces', `${ctx.ns},${ctx.missing}`, ...LOGIN],
      stdin: PASSWORD,
      code: 1,
      error: new RegExp(`namespace "${ctx.missing}" not found .*; nothing was changed$`),
    }],
    ['list: unknown namespace (as kubectl get: nothing found, exit 0)', {
      args: () => ['list', '-n', ctx.missing],
      code: 0,
      stderr: new RegExp(`^No pull secrets found in ${ctx.missing} namespace\\.\\n$`),
      stdout: /^$/,
    }],
    ['remove: unknown namespace (idempotent: nothing to do, exit 0)', { args: () => ['remove', 'regcred', '-n', ctx.missing], code: 0, stdout: /^summary: nothing to do\n$/ }],
    ['sync: unknown namespace of the source', {
      args: () => ['sync', 'regcred', '-n', ctx.missing],
      code: 2,
      error: new RegExp(`no source ${ctx.missing}/regcred: create it first with kubectl pullsecret add regcred -n ${ctx.missing}`),
    }],
    ['doctor: unknown namespace (nothing failing there, exit 0)', {
      args: () => ['doctor', '-n', ctx.missing],
      code: 0,
      stderr: new RegExp(`^No pods in ImagePullBackOff or ErrImagePull in ${ctx.missing} namespace\\.\\n$`),
    }],
    ['doctor: POD in an unknown namespace', { args: () => ['doctor', 'web', '-n', ctx.missing], code: 1, error: new RegExp(`pods "web" not found in namespace "${ctx.missing}"`) }],

    // Unknown ServiceAccount.
    ['add: unknown ServiceAccount', {
      args: () => ['add', 'never-written', '-n', ctx.ns, ...LOGIN, '--service-account', 'nosuch'],
      stdin: PASSWORD,
      code: 1,
      error: () => new RegExp(`^error: serviceaccount "nosuch" not found in namespace "${ctx.ns}" \\(it has: builder, default\\); check --service-account; nothing was changed$`),
    }],
    ['add: one known and one unknown ServiceAccount: neither is touched', {
      args: () => ['add', 'never-written', '-n', ctx.ns, ...LOGIN, '--service-account', 'builder', '--service-account', 'nosuch'],
      stdin: PASSWORD,
      code: 1,
      error: /serviceaccount "nosuch" not found .*nothing was changed$/,
    }],
    ['add: a ServiceAccount that exists in one of the --namespaces only', {
      args: () => ['add', 'never-written', '--namespaces', `${ctx.ns},${ctx.other}`, ...LOGIN, '--service-account', 'builder'],
      stdin: PASSWORD,
      code: 1,
      error: () => new RegExp(`serviceaccount "builder" not found in namespace "${ctx.other}" \\(it has: default\\).*nothing was changed$`),
    }],

    // --from-secret NS/NAME.
    ...([
      ['without a slash', 'just-a-name', /invalid --from-secret "just-a-name": expected NAMESPACE\/NAME/],
      ['with two slashes', 'a/b/c', /invalid --from-secret "a\/b\/c": expected NAMESPACE\/NAME/],
      ['without a namespace', '/regcred', /invalid --from-secret "\/regcred": expected NAMESPACE\/NAME/],
      ['without a name', 'ns/', /invalid --from-secret "ns\/": expected NAMESPACE\/NAME/],
      ['with an uppercase namespace', 'Team/regcred', /invalid namespace name "Team"/],
      ['with an illegal name', 'team/Reg_Cred', /invalid secret name "Reg_Cred"/],
    ] as const).map(([label, value, error]): [string, Row] => [`add: --from-secret ${label}`, {
      args: () => ['add', 'never-written', '-n', ctx.ns, '--from-secret', value],
      code: 2,
      error,
    }]),
    ['add: --from-secret of a secret that does not exist', {
      args: () => ['add', 'never-written', '-n', ctx.ns, '--from-secret', `${ctx.ns}/no-such-secret`],
      code: 2,
      error: () => new RegExp(`secret "no-such-secret" not found in namespace "${ctx.ns}" \\(from --from-secret\\)`),
    }],
    ['add: --from-secret in an unknown namespace', {
      args: () => ['add', 'never-written', '-n', ctx.ns, '--from-secret', `${ctx.missing}/regcred`],
      code: 2,
      error: new RegExp(`secret "regcred" not found in namespace "${ctx.missing}"`),
    }],
    ['add: --from-secret of a secret that is not a pull secret', {
      args: () => ['add', 'never-written', '-n', ctx.ns, '--from-secret', `${ctx.other}/clash`],
      code: 2,
      error: () => new RegExp(`secret ${ctx.other}/clash cannot be copied: it is malformed \\(secret type "Opaque" is not kubernetes.io/dockerconfigjson`),
    }],
  ]);
});

describe('bad input: flags', () => {
  const OUTPUTS: Record<string, [string[], string]> = {
    add: [['add', 'never-written', '--from-secret', 'x/y'], 'json,yaml,name'],
    list: [['list'], 'wide,json,yaml,name'],
    remove: [['remove', 'regcred'], 'json,yaml,name'],
    sync: [['sync', 'regcred'], 'json,yaml,name'],
    doctor: [['doctor'], 'json,yaml'],
    version: [['version'], 'json,yaml'],
  };
  const withNs = (args: string[]) => (args[0] === 'version' ? args : [...args, '-n', ctx.ns]);
  rows('flag errors', [
    ['add: NAME missing', { args: () => ['add', '-n', ctx.ns, '--from-secret', `${ctx.ns}/regcred`], code: 2, error: /Not enough non-option arguments: got 0, need at least 1 \(see 'kubectl pullsecret --help'\)/ }],
    ['add: no credential source', { args: () => ['add', 'never-written', '-n', ctx.ns], code: 2, error: /no credentials given: use --username with --password-stdin, --from-docker-config, or --from-secret NAMESPACE\/NAME/ }],
    ['add: --username without --password-stdin, not on a terminal', { args: () => ['add', 'never-written', '-n', ctx.ns, '--username', 'ci'], code: 2, error: /no password given: pipe it to --password-stdin, or run in a terminal to be prompted/ }],
    ['add: --password-stdin without --username', { args: () => ['add', 'never-written', '-n', ctx.ns, '--password-stdin'], stdin: PASSWORD, code: 2, error: /--username is required with a login/ }],
    ['add: two credential sources (a login and --from-secret)', { args: () => ['add', 'never-written', '-n', ctx.ns, ...LOGIN, '--from-secret', `${ctx.ns}/regcred`], stdin: PASSWORD, code: 2, error: /choose one credential source, not a login \(--username\) and --from-secret/ }],
    ['add: two credential sources (--from-docker-config and --from-secret)', { args: () => ['add', 'never-written', '-n', ctx.ns, '--from-docker-config', config('good.json'), '--from-secret', `${ctx.ns}/regcred`], code: 2, error: /choose one credential source, not --from-docker-config and --from-secret/ }],
    ['add: the password on the command line (--password)', {
      args: () => {
        rememberSecret('FAKE-argv-password-never-echoed');
        return ['add', 'never-written', '-n', ctx.ns, '--server', 'registry.example', '--username', 'ci', '--password', 'FAKE-argv-password-never-echoed'];
      },
      code: 2,
      error: /--password is not accepted \(it would leak into shell history and process lists\): use --password-stdin or the prompt/,
    }],
    ['add: --registry without --from-docker-config', { args: () => ['add', 'never-written', '-n', ctx.ns, ...LOGIN, '--registry', 'registry.example'], stdin: PASSWORD, code: 2, error: /--registry selects entries of --from-docker-config; use --server with a login/ }],
    ['add: --service-account with --all-service-accounts', { args: () => ['add', 'never-written', '-n', ctx.ns, ...LOGIN, '--service-account', 'builder', '--all-service-accounts'], stdin: PASSWORD, code: 2, error: /--service-account and --all-service-accounts cannot be used together/ }],
    ['add: --service-account with --no-attach', { args: () => ['add', 'never-written', '-n', ctx.ns, ...LOGIN, '--service-account', 'builder', '--no-attach'], stdin: PASSWORD, code: 2, error: /--service-account and --no-attach cannot be used together/ }],
    ['add: -n with --namespaces', { args: () => ['add', 'never-written', '-n', ctx.ns, '--namespaces', ctx.other, ...LOGIN], stdin: PASSWORD, code: 2, error: /-n\/--namespace and --namespaces cannot be used together/ }],
    ['add: --namespaces with no namespace in it', { args: () => ['add', 'never-written', '--namespaces', ' , ', ...LOGIN], stdin: PASSWORD, code: 2, error: /--namespaces needs at least one namespace/ }],
    ...(['list', 'remove', 'doctor'] as const).map((verb): [string, Row] => [`${verb}: -A with -n`, {
      args: () => [...(verb === 'remove' ? ['remove', 'regcred'] : [verb]), '-A', '-n', ctx.ns],
      code: 2,
      error: /-A\/--all-namespaces and -n\/--namespace cannot be used together/,
    }]),
    ['sync: --all with -n', { args: () => ['sync', '--all', '-n', ctx.ns], code: 2, error: /-n names the namespace of the source NAME; use --namespaces to choose where --all copies to/ }],
    ['sync: NAME with --all', { args: () => ['sync', 'regcred', '--all'], code: 2, error: /give a source NAME or --all, not both/ }],
    ['sync: neither NAME nor --all', { args: () => ['sync', '-n', ctx.ns], code: 2, error: /nothing to sync: give a source NAME \(with -n NAMESPACE\) or --all/ }],
    ...(['0', '-3', '1.5', 'many'] as const).map((value): [string, Row] => [`sync: --concurrency ${value}`, {
      args: () => ['sync', 'regcred', '-n', ctx.ns, '--namespaces', ctx.other, '--concurrency', value],
      code: 2,
      error: /--concurrency must be a whole number of at least 1/,
    }]),
    ['sync: --webhook without --watch', { args: () => ['sync', 'regcred', '-n', ctx.ns, '--webhook'], code: 2, error: /--webhook serves pods as they are created: use it with --watch/ }],
    ['sync: --watch with --dry-run', { args: () => ['sync', 'regcred', '-n', ctx.ns, '--watch', '--dry-run=client'], code: 2, error: /--watch cannot be combined with --dry-run/ }],
    ['sync: --print-manifests without --watch', { args: () => ['sync', '--all', '--print-manifests'], code: 2, error: /--print-manifests describes the controller: use it with --watch/ }],
    ...Object.entries(OUTPUTS).map(([verb, [args]]): [string, Row] => [`${verb}: an unknown flag`, {
      args: () => [...withNs(args), '--bogus'],
      code: 2,
      error: /Unknown argument: bogus \(see 'kubectl pullsecret --help'\)/,
    }]),
    ['an unknown verb', { args: () => ['nonsense'], code: 2, error: /Unknown argument: nonsense \(see 'kubectl pullsecret --help'\)/ }],
    ...Object.entries(OUTPUTS).map(([verb, [args, formats]]): [string, Row] => [`${verb}: an unknown -o format`, {
      args: () => [...withNs(args), '-o', verb === 'doctor' ? 'wide' : 'xml'],
      code: 2,
      error: new RegExp(`unable to match a printer suitable for the output format "${verb === 'doctor' ? 'wide' : 'xml'}", allowed formats are: ${formats}`),
    }]),
    ...([
      ['list', 'soon'],
      ['add', '1d'],
      ['remove', '-1s'],
      ['sync', '2 minutes'],
      ['doctor', ''],
      ['version', '10x'],
    ] as const).map(([verb, value]): [string, Row] => [`${verb}: --request-timeout "${value}"`, {
      args: () => [...withNs(OUTPUTS[verb]![0]), '--request-timeout', value],
      code: 2,
      error: new RegExp(`invalid --request-timeout "${value}": use a duration such as 30s, 2m or 1h, or 0 for no timeout`),
    }]),
    ...(['add', 'remove', 'sync'] as const).map((verb): [string, Row] => [`${verb}: --dry-run=later`, {
      args: () => [...withNs(OUTPUTS[verb]![0]), '--dry-run=later'],
      code: 2,
      error: /invalid --dry-run value "later": must be "none", "server", or "client"/,
    }]),
    ...(['soon', '0'] as const).map((value): [string, Row] => [`add: --credential-helper-timeout ${value}`, {
      args: () => ['add', 'never-written', '-n', ctx.ns, '--from-docker-config', config('good.json'), '--credential-helper-timeout', value],
      code: 2,
      error: new RegExp(`invalid --credential-helper-timeout "${value}": use a duration above zero such as 5s or 1m`),
    }]),
    ['add: --verify-timeout soon', { args: () => ['add', 'never-written', '-n', ctx.ns, ...LOGIN, '--verify', '--verify-timeout', 'soon'], stdin: PASSWORD, code: 2, error: /invalid --verify-timeout "soon": use a duration above zero/ }],
    ['list: --insecure-registry without --verify', { args: () => ['list', '-n', ctx.ns, '--insecure-registry', 'registry.example'], code: 2, error: /--insecure-registry only applies with --verify/ }],
  ]);
});

describe('bad input: docker configs', () => {
  const fromConfig = (file: string, extra: string[] = []) => () => ['add', 'never-written', '-n', ctx.ns, '--from-docker-config', file, ...extra];
  rows('unusable docker configs and credential helpers', [
    ['add --from-docker-config: not JSON', { args: fromConfig(config('not-json.json')), code: 2, error: () =>
      new RegExp(`docker config ${config('not-json.json')} is not valid JSON at line 1, column \\d+; fix the file or log in again with \`docker login\``) }],
    ['add --from-docker-config: JSON of the wrong shape (an array)', { args: fromConfig(config('array.json')), code: 2, error: /has the wrong shape: the top level is an array, not an object; fix the file or log in again/ }],
    ['add --from-docker-config: JSON of the wrong shape (auths is a string)', { args: fromConfig(config('auths-string.json')), code: 2, error: /has the wrong shape: auths is a string, not an object of registries/ }],
    ['add --from-docker-config: JSON of the wrong shape (a password that is a number)', { args: fromConfig(config('password-number.json')), code: 2, error: /has the wrong shape: auths\["registry\.example"\]\.password is a number, not a string/ }],
    ['add --from-docker-config: auth that is not base64', { args: fromConfig(config('auth-not-base64.json')), code: 2, error: /the docker config's auth for registry registry\.example is not base64 of "username:password"; run `docker login registry\.example` again/ }],
    ['add --from-docker-config: auth without a colon', { args: fromConfig(config('auth-no-colon.json')), code: 2, error: /auth for registry registry\.example is not base64 of "username:password"/ }],
    ['add --from-docker-config: empty auths', { args: fromConfig(config('empty-auths.json')), code: 2, error: /the docker config lists no registries; run `docker login REGISTRY` first/ }],
    ['add --from-docker-config: an entry with only an identitytoken', { args: fromConfig(config('identity-token.json')), code: 2, error: /holds only an identity or registry token for registry registry\.example, which the kubelet cannot use; log in with a username and password/ }],
    ['add --from-docker-config: --registry that is not in the file', { args: fromConfig(config('good.json'), ['--registry', 'other.example']), code: 2, error: /registry other\.example is not in the docker config \(it has: registry\.example\); run `docker login other\.example` or pick one of those/ }],
    ['add --from-docker-config: credential helper missing', { args: fromConfig(config('helper-kps-missing.json')), env: helperEnv, code: 1, error: /credential helper docker-credential-kps-missing \(for registry registry\.example\) was not found on PATH; install docker-credential-kps-missing/ }],
    ['add --from-docker-config: credential helper exits non-zero', { args: fromConfig(config('helper-kps-failing.json')), env: helperEnv, code: 1, error: /credential helper docker-credential-kps-failing \(for registry registry\.example\) exited with code 3: keychain is locked$/ }],
    ['add --from-docker-config: credential helper without credentials for the registry', { args: fromConfig(config('helper-kps-empty.json')), env: helperEnv, code: 1, error: /docker-credential-kps-empty \(for registry registry\.example\) has no credentials for it; run `docker login registry\.example`/ }],
    ['add --from-docker-config: credential helper hangs (--credential-helper-timeout 1s)', {
      args: fromConfig(config('helper-kps-hanging.json'), ['--credential-helper-timeout', '1s']),
      env: helperEnv,
      code: 1,
      error: /docker-credential-kps-hanging \(for registry registry\.example\) did not answer within 1 s; it may be waiting for a locked keychain or a prompt/,
      withinMs: 6000,
    }],
    ['add --from-docker-config: credential helper prints garbage', { args: fromConfig(config('helper-kps-garbage.json')), env: helperEnv, code: 1, error: /docker-credential-kps-garbage \(for registry registry\.example\) printed output that is not \{"ServerURL","Username","Secret"\} JSON/ }],
    ['add --from-docker-config: credential helper answers with an identity token', { args: fromConfig(config('helper-kps-token.json')), env: helperEnv, code: 1, error: /docker-credential-kps-token \(for registry registry\.example\) holds an identity token, which the kubelet cannot use/ }],
    ['add --from-docker-config: a file that does not exist', { args: fromConfig(path.join(scratch.dir, 'nope', 'config.json')), code: 2, error: /docker config .*nope\/config\.json does not exist; run `docker login REGISTRY` or give the path of an existing config/ }],
    ['add --from-docker-config: a directory', { args: () => fromConfig(path.join(ctx.configs, 'a-directory'))(), code: 2, error: /docker config .*a-directory is a directory; give the path of its config\.json/ }],
    ['add --from-docker-config: a 10 MB file', { args: () => fromConfig(config('big.json'))(), code: 2, error: /docker config .*big\.json is larger than 1 MiB, too large for a docker config; check the path/ }],
    ['add --from-docker-config: non-UTF-8 bytes', { args: () => fromConfig(config('not-utf8.json'))(), code: 2, error: /docker config .*not-utf8\.json is not UTF-8 text; give the path of a docker config\.json/ }],
  ]);
});

describe('bad input: servers', () => {
  const VALID = [
    'registry.example',
    'https://registry.example',
    'http://registry.example:8080',
    'https://registry.example/v1/',
    'registry.example/v2/',
    'registry.example:5000',
    'registry.example:5000/team-a',
    '[::1]:5000',
    '[fd00::10]:443',
  ];
  VALID.forEach((server, i) => {
    test(`add --server ${server}: accepted, the auths key is exactly the server`, async () => {
      const name = `server-${i}`;
      const password = `FAKE-server-pw-${i}`;
      const result = await run(['add', name, '-n', ctx.valid, '--server', server, '--username', 'ci', '--password-stdin', '--no-attach'], { stdin: `${password}\n` });
      assert.equal(result.code, 0, describeRun([server], result));
      assert.equal(result.stderr, '');
      assert.match(result.stdout, new RegExp(`^secret/${name} created: registries ${server.replace(/[.[\]/]/g, '\\$&')} \\(namespace ${ctx.valid}\\)$`, 'm'));
      const auths = (JSON.parse(dockerConfigJsonOf(await readSecret(ctx.valid, name))) as { auths: Record<string, { password: string }> }).auths;
      assert.deepEqual(Object.keys(auths), [server]);
      assert.equal(auths[server]!.password, password);
    });
  });

  rows('invalid servers', ([
    ['empty', '', /it is empty/],
    ['whitespace', '   ', /it is empty/],
    ['with a space inside', 'registry .example', /it contains whitespace or control characters/],
    ['ftp:// scheme', 'ftp://registry.example', /the kubelet only understands a lowercase https:\/\/ or http:\/\/ prefix, not ftp:\/\//],
    ['IPv6 without a port', '[::1]', /an IPv6 address needs a port, e.g\. \[::1\]:5000/],
    ['IPv6 without brackets', '::1', /it is not an address the kubelet can parse/],
    ['port out of range', 'registry.example:99999', /the port must be a number from 1 to 65535/],
    ['/v2 without the trailing slash', 'registry.example/v2', /a path of \/v1 or \/v2 without the trailing slash is read as a repository prefix/],
    ['with a user name', 'ci@registry.example', /it must not contain "@"/],
  ] as const).map(([label, server, reason]): [string, Row] => [`add --server: ${label}`, {
    args: () => ['add', 'never-written', '-n', ctx.ns, '--server', server, '--username', 'ci', '--password-stdin'],
    stdin: PASSWORD,
    code: 2,
    error: new RegExp(`invalid registry server ${JSON.stringify(server).replace(/[.[\]]/g, '\\$&')}: ${reason.source}.*; expected host\\[:port\\]\\[/path\\]`),
  }]));
});

describe('bad input: passwords', () => {
  rows('unusable passwords', [
    ['add --password-stdin: empty stdin', { args: () => ['add', 'never-written', '-n', ctx.ns, ...LOGIN], stdin: '', code: 2, error: /--password-stdin: the password read from stdin is empty/ }],
    ['add --password-stdin: only a newline', { args: () => ['add', 'never-written', '-n', ctx.ns, ...LOGIN], stdin: '\n', code: 2, error: /--password-stdin: the password read from stdin is empty/ }],
    ['add: a user name with ":"', { args: () => ['add', 'never-written', '-n', ctx.ns, '--server', 'registry.example', '--username', 'team:ci', '--password-stdin'], stdin: PASSWORD, code: 2, error: /invalid --username "team:ci": a registry user name cannot contain ":"/ }],
  ]);

  const VALID: [string, string, string][] = [
    ['a trailing newline is dropped', 'FAKE-pw-newline\n', 'FAKE-pw-newline'],
    ['only one trailing newline is dropped', 'FAKE-pw-two-newlines\n\n', 'FAKE-pw-two-newlines\n'],
    ['a trailing CRLF is dropped', 'FAKE-pw-crlf\r\n', 'FAKE-pw-crlf'],
    ['a password containing ":"', 'FAKE:pw:with:colons\n', 'FAKE:pw:with:colons'],
    ['a unicode password', 'FAKE-pässwörd-🔑-密码-\u00a0end\n', 'FAKE-pässwörd-🔑-密码-\u00a0end'],
    ['a password with quotes and backslashes', 'FAKE-"quoted"-\\back\\\n', 'FAKE-"quoted"-\\back\\'],
  ];
  VALID.forEach(([label, stdin, password], i) => {
    test(`add --password-stdin: ${label}`, async () => {
      const name = `password-${i}`;
      const result = await run(['add', name, '-n', ctx.valid, ...LOGIN, '--no-attach'], { stdin });
      assert.equal(result.code, 0, describeRun([label], result));
      const entry = (JSON.parse(dockerConfigJsonOf(await readSecret(ctx.valid, name))) as { auths: Record<string, { username: string; password: string; auth: string }> }).auths['registry.example']!;
      assert.equal(entry.password, password);
      assert.equal(entry.username, 'ci');
      assert.equal(Buffer.from(entry.auth, 'base64').toString('utf8'), `ci:${password}`);
    });
  });
});

describe('bad input: connection', () => {
  const VERBS: Record<string, () => string[]> = {
    add: () => ['add', 'never-written', '-n', ctx.ns, '--from-secret', `${ctx.ns}/regcred`],
    list: () => ['list', '-n', ctx.ns],
    remove: () => ['remove', 'regcred', '-n', ctx.ns],
    sync: () => ['sync', 'regcred', '-n', ctx.ns, '--namespaces', ctx.other],
    doctor: () => ['doctor', '-n', ctx.ns],
    version: () => ['version'],
  };
  const EVERY = Object.keys(VERBS);
  const CASES: [string, string[], () => string[], RegExp, number, number?][] = [
    ['unreachable server (--request-timeout 1s)', EVERY, () => ['--kubeconfig', ctx.kubeconfigs.silent!, '--request-timeout', '1s'],
      /the API server at https:\/\/127\.0\.0\.1:\d+ did not answer within 1s \(--request-timeout\)/, 1, 10_000],
    ['connection refused', ['list', 'add'], () => ['--kubeconfig', ctx.kubeconfigs.refused!],
      /cannot reach the API server at https:\/\/127\.0\.0\.1:\d+ \(context "pullsecret-local-admin"\): connection refused/, 1, 15_000],
    ['TLS verification failure', EVERY, () => ['--kubeconfig', ctx.kubeconfigs.otherCa!],
      /TLS verification of the API server at https:\/\/127\.0\.0\.1:\d+ failed \(.+\): check certificate-authority in context "pullsecret-local-admin"/, 1],
    ['untrusted client certificate', EVERY, () => ['--kubeconfig', ctx.kubeconfigs.untrustedCert!],
      /unauthorized: the API server at \S+ did not accept the credentials of context "pullsecret-local-admin" \(they may be expired, revoked or issued by another CA\): renew them or log in again/, 1],
    ['expired client certificate', EVERY, () => ['--kubeconfig', ctx.kubeconfigs.expiredCert!],
      /unauthorized: .* \(the client certificate of user "admin" expired on 2020-01-02T00:00:00\.000Z\): renew them or log in again/, 1],
    ['exec credential plugin fails', EVERY, () => ['--kubeconfig', ctx.kubeconfigs.execFails!],
      /the exec credential plugin "[^"]+failing\.sh" of user "admin" \(context "pullsecret-local-admin"\) failed: login expired: run the cloud login again; run it by hand, or log in again/, 1],
    ['exec credential plugin not installed', ['list', 'add'], () => ['--kubeconfig', ctx.kubeconfigs.execMissing!],
      /the exec credential plugin "[^"]+not-installed" of user "admin" .* was not found: install it, or fix the command in the kubeconfig/, 1],
    ['exec credential plugin prints a bare token', ['list', 'version'], () => ['--kubeconfig', ctx.kubeconfigs.execToken!],
      /the exec credential plugin "[^"]+token\.sh" .* printed something that is not ExecCredential JSON; run it by hand to see what it prints/, 1],
    ['a context that does not exist', EVERY, () => ['--context', 'nope'],
      /context "nope" does not exist in kubeconfig "[^"]+" \(contexts: pullsecret-local-admin, pullsecret-local-restricted\)/, 2],
    ['--kubeconfig that does not exist', ['list', 'version'], () => ['--kubeconfig', path.join(scratch.dir, 'missing.kubeconfig')],
      /kubeconfig file ".*missing\.kubeconfig" does not exist \(from --kubeconfig\)/, 2],
  ];
  rows('failing connections', CASES.flatMap(([label, verbs, flags, error, code, withinMs]) => verbs.map((verb): [string, Row] => [`${verb}: ${label}`, {
    args: () => [...VERBS[verb]!(), ...flags()],
    code: code as 1 | 2,
    error,
    ...(withinMs !== undefined ? { withinMs } : {}),
  }])));
});

describe('bad input: RBAC', () => {
  /** The restricted user: one forbidden line naming verb and resource, with the can-i command, which really answers "no". */
  async function forbidden(args: string[], stdin?: string): Promise<void> {
    const result = await check({
      args: () => args,
      ...(stdin !== undefined ? { stdin } : {}),
      env: () => ({ KUBECONFIG: restrictedKubeconfig }),
      code: 1,
      error: /^error: forbidden: .*User "restricted" cannot (\S+) resource "([^"]+)" .*\(check with: kubectl auth can-i \1 \2\S*( -n \S+)?\)$/,
    });
    const hint = /\(check with: kubectl auth can-i (.+)\)$/.exec(result.stderr.trim())![1]!.split(' ');
    const canI = await run(['auth', 'can-i', ...hint, '--kubeconfig', restrictedKubeconfig], { command: 'kubectl' });
    assert.equal(canI.stdout.trim(), 'no', `kubectl auth can-i ${hint.join(' ')} as restricted: ${canI.stdout}${canI.stderr}`);
  }

  const NO_RIGHTS: [string, () => string[], string?][] = [
    ['add (a login)', () => ['add', 'never-written', '-n', ctx.ns, ...LOGIN], PASSWORD],
    ['add --from-secret', () => ['add', 'never-written', '-n', ctx.ns, '--from-secret', `${ctx.ns}/regcred`]],
    ['list', () => ['list', '-n', ctx.ns]],
    ['list -A', () => ['list', '-A']],
    ['remove', () => ['remove', 'regcred', '-n', ctx.ns]],
    ['remove -A', () => ['remove', 'regcred', '-A']],
    ['sync NAME', () => ['sync', 'regcred', '-n', ctx.ns, '--namespaces', ctx.other]],
    ['sync --all', () => ['sync', '--all']],
    ['doctor', () => ['doctor', '-n', ctx.ns]],
    ['doctor -A', () => ['doctor', '-A']],
    ['doctor POD', () => ['doctor', 'web', '-n', ctx.ns]],
    ['doctor deployment/NAME', () => ['doctor', 'deployment/web', '-n', ctx.ns]],
  ];
  for (const [label, args, stdin] of NO_RIGHTS) {
    test(`${label}: the restricted user, no rights`, () => forbidden(args(), stdin));
  }

  test('version: the restricted user, no rights (the version endpoint is public to every user)', async () => {
    const result = await check({ args: () => ['version'], env: () => ({ KUBECONFIG: restrictedKubeconfig }), code: 0, stdout: /^Client Version: v\S+\nServer Version: v1\.\d+/ });
    assert.equal(result.stderr, '');
  });

  test('add: partial rights (secrets yes, patching ServiceAccounts no): the secret is written and reported, the attach fails with the can-i command, exit 1', async () => {
    const namespace = ctx.partial;
    const before = await readServiceAccount(namespace, 'default');
    const result = await run(['add', 'partial', '-n', namespace, ...LOGIN], { stdin: PASSWORD, env: { KUBECONFIG: restrictedKubeconfig } });
    const where = describeRun(['add', 'partial'], result);
    assert.equal(result.code, 1, where);
    assert.match(result.stdout, new RegExp(`^secret/partial created: registries registry\\.example \\(namespace ${namespace}\\)$`, 'm'), where);
    assert.match(result.stdout, /^summary: 1 created, 1 failed$/m);
    assertFailureReport(result.stderr, /^error: 1 of 2 changes failed; 1 applied$/, [
      new RegExp(`^error: serviceaccount/default failed: forbidden: .*cannot patch resource "serviceaccounts" .*\\(check with: kubectl auth can-i patch serviceaccounts -n ${namespace}\\) \\(namespace ${namespace}\\)$`),
    ]);
    const secret = await readSecret(namespace, 'partial');
    assert.equal((JSON.parse(dockerConfigJsonOf(secret)) as { auths: Record<string, { password: string }> }).auths['registry.example']!.password, PASSWORD);
    const after = await readServiceAccount(namespace, 'default');
    assert.equal(after?.metadata?.resourceVersion, before?.metadata?.resourceVersion, 'the ServiceAccount was written');
    // Run again: the secret is unchanged, the attach still reported (nothing doubled).
    const again = await run(['add', 'partial', '-n', namespace, ...LOGIN], { stdin: PASSWORD, env: { KUBECONFIG: restrictedKubeconfig } });
    assert.equal(again.code, 1, describeRun(['add', 'partial (again)'], again));
    assert.match(again.stdout, /^secret\/partial unchanged/m);
    assert.equal((await readSecret(namespace, 'partial'))?.metadata?.resourceVersion, secret?.metadata?.resourceVersion);
  });

  test('remove: partial rights (no patching ServiceAccounts, no delete): nothing is detached or deleted, both reported, exit 1', async () => {
    const namespace = ctx.partial;
    await createDockerConfigSecret(namespace, 'partial-rm', { auths: { 'registry.example': { auth: b64('ci:FAKE-partial-rm') } } }, { labels: { 'app.kubernetes.io/managed-by': 'kubectl-pullsecret' } });
    rememberSecret('FAKE-partial-rm', ['ci']);
    await setPullSecrets(namespace, 'default', ['partial-rm']);
    const result = await check({
      args: () => ['remove', 'partial-rm', '-n', namespace],
      env: () => ({ KUBECONFIG: restrictedKubeconfig }),
      namespaces: () => [namespace],
      code: 1,
      error: /^error: 1 of 2 changes failed; 1 skipped, nothing applied$/,
      failures: [new RegExp(`^error: serviceaccount/default failed: forbidden: .*cannot patch resource "serviceaccounts".*kubectl auth can-i patch serviceaccounts -n ${namespace}\\) \\(namespace ${namespace}\\)$`)],
      stdout: /^secret\/partial-rm skipped: not deleted: some ServiceAccounts could not be detached from it.*\nsummary: 1 skipped, 1 failed\n$/,
    });
    assert.doesNotMatch(result.stdout, /failed:/, 'failures go to stderr');
    assert.deepEqual(await pullSecretNames(namespace, 'default'), ['partial-rm']);
  });

  test('list: partial rights (no pods): listed, with a warning naming the can-i command, exit 0', async () => {
    await check({
      args: () => ['list', '-n', ctx.partial],
      env: () => ({ KUBECONFIG: restrictedKubeconfig }),
      namespaces: () => [ctx.partial],
      code: 0,
      stdout: /^NAME\s+REGISTRIES/,
      stderr: new RegExp(`^warning: pod references not checked: forbidden: .*\\(check with: kubectl auth can-i list pods -n ${ctx.partial}\\)\\n$`),
    });
  });

  test('doctor: partial rights (no pods): one forbidden line, exit 1', () => forbidden(['doctor', '-n', ctx.partial]));

  test('sync: partial rights (no namespaces): one forbidden line, nothing written', () =>
    forbidden(['sync', 'partial', '-n', ctx.partial, '--namespaces', ctx.partial]));
});

describe('bad input: cluster state', () => {
  rows('terminating namespaces and same-named secrets', [
    ['add: a terminating namespace is skipped with the reason, exit 0', {
      args: () => ['add', 'never-written', '-n', ctx.terminating, ...LOGIN],
      stdin: PASSWORD,
      namespaces: () => [ctx.terminating],
      code: 0,
      stdout: () => new RegExp(`^namespace/${ctx.terminating} skipped: namespace "${ctx.terminating}" is terminating\\nsummary: 1 skipped\\n$`),
    }],
    ['sync: a terminating namespace is skipped with the reason, exit 0', {
      args: () => ['sync', 'regcred', '-n', ctx.ns, '--namespaces', ctx.terminating],
      namespaces: () => [ctx.terminating],
      code: 0,
      stdout: () => new RegExp(`^namespace/${ctx.terminating} skipped: terminating\\nsummary: 1 skipped\\n$`),
    }],
    ['remove: a terminating namespace has nothing to undo, exit 0', { args: () => ['remove', 'regcred', '-n', ctx.terminating], namespaces: () => [ctx.terminating], code: 0, stdout: /^summary: nothing to do\n$/ }],
    ['add: a same-named secret of another type is refused, exit 1', {
      args: () => ['add', 'clash', '-n', ctx.other, ...LOGIN],
      stdin: PASSWORD,
      code: 1,
      error: () => new RegExp(`^error: secret/clash failed: secret "clash" in namespace "${ctx.other}" exists and is not managed by kubectl-pullsecret \\(type Opaque\\); use --force to take it over \\(namespace ${ctx.other}\\)$`),
      stdout: /^summary: 1 failed\n$/,
    }],
    ['sync: a same-named secret of another type in a target namespace is reported, exit 1', {
      args: () => ['sync', 'clash', '-n', ctx.ns, '--namespaces', ctx.other],
      code: 1,
      error: /^error: secret\/clash failed: a secret "clash" not managed by kubectl-pullsecret is in the way \(type Opaque\); use --force to take it over/,
      stdout: /^summary: 1 failed\n$/,
    }],
    ['remove: a same-named secret of another type is left alone, exit 0', {
      args: () => ['remove', 'clash', '-n', ctx.other],
      code: 0,
      stdout: /^secret\/clash skipped: type Opaque is not a pull secret; left alone \(namespace \S+\)\nsummary: 1 skipped\n$/,
    }],
  ]);

  /** Runs the plugin with the pause seam, acts during the pause, and returns what it printed (without the pause line). */
  async function pausedRun(args: string[], during: () => Promise<void>): Promise<RunResult> {
    const plugin = startPlugin(args, { env: { KPS_TEST_PAUSE_BEFORE_APPLY_MS: String(PAUSE_MS) } });
    await waitFor('the plugin to pause before applying', async () => {
      if (plugin.exited()) throw new Error(`exited before pausing:\n${plugin.lines.join('\n')}\n${plugin.stderr()}`);
      return plugin.stderr().split('\n').some((line) => PAUSE_LINE.test(line));
    }, 20_000);
    const paused = Date.now();
    await during();
    assert.ok(Date.now() - paused < PAUSE_MS - 500, 'the change during the pause took too long to be sure it came first');
    const exit = await plugin.exit;
    const stderr = plugin.stderr().split('\n').filter((line) => !PAUSE_LINE.test(line)).join('\n');
    return { code: exit.code ?? 128, stdout: plugin.lines.join('\n') + '\n', stderr };
  }

  test('add: a ServiceAccount deleted between plan and apply is reported failed, the rest applied, and a re-run converges', async () => {
    const namespace = await createTestNamespace('bad-input-sa-gone');
    created.push(namespace);
    await createServiceAccount(namespace, 'doomed');
    const args = ['add', 'state-sa', '-n', namespace, '--from-docker-config', config('good.json'), '--all-service-accounts'];
    const result = await pausedRun(args, () => admin.core.deleteNamespacedServiceAccount({ name: 'doomed', namespace }).then(() => undefined));
    const where = describeRun(args, result);
    assert.equal(result.code, 1, where);
    assert.match(result.stdout, new RegExp(`^secret/state-sa created: registries registry\\.example \\(namespace ${namespace}\\)$`, 'm'), where);
    assert.match(result.stdout, new RegExp(`^serviceaccount/default attached state-sa \\(namespace ${namespace}\\)$`, 'm'), where);
    assert.match(result.stdout, /^summary: 1 created, 1 attached, 1 failed$/m);
    assertFailureReport(result.stderr, /^error: 1 of 3 changes failed; 2 applied$/, [
      new RegExp(`^error: serviceaccount/doomed failed: serviceaccount "doomed" no longer exists \\(namespace ${namespace}\\)$`),
    ]);
    assert.equal(await readServiceAccount(namespace, 'doomed'), undefined, 'the plugin re-created the ServiceAccount');
    assert.deepEqual(await pullSecretNames(namespace, 'default'), ['state-sa']);
    const auths = (JSON.parse(dockerConfigJsonOf(await readSecret(namespace, 'state-sa'))) as { auths: Record<string, { password: string }> }).auths;
    assert.equal(auths['registry.example']!.password, 'FAKE-dc-inline-pw');

    const again = await run(args);
    assert.equal(again.code, 0, describeRun(args, again));
    assert.equal(again.stdout, `secret/state-sa unchanged (namespace ${namespace})\nserviceaccount/default unchanged: already references state-sa (namespace ${namespace})\nsummary: 2 unchanged\n`);
  });

  test('add: a secret edited by someone else between plan and apply is not overwritten, nothing is attached to it, and a re-run converges', async () => {
    const namespace = await createTestNamespace('bad-input-edited');
    created.push(namespace);
    rememberSecret('FAKE-edit-two-pw', ['two']);
    const two = writeFile(ctx.configs, 'two.json', JSON.stringify({ auths: { 'two.example': { username: 'two', password: 'FAKE-edit-two-pw' } } }));
    const first = await run(['add', 'edited', '-n', namespace, '--from-docker-config', config('good.json'), '--no-attach']);
    assert.equal(first.code, 0, first.stderr);
    const args = ['add', 'edited', '-n', namespace, '--from-docker-config', two];
    // The other writer adds a registry of its own to the same secret.
    rememberSecret('FAKE-edit-admin-pw', ['admin']);
    const theirs = JSON.stringify({ auths: {
      'registry.example': { username: 'ci', password: 'FAKE-dc-inline-pw', auth: b64('ci:FAKE-dc-inline-pw') },
      'admin.example': { username: 'admin', password: 'FAKE-edit-admin-pw', auth: b64('admin:FAKE-edit-admin-pw') },
    } });
    const result = await pausedRun(args, () =>
      admin.core.patchNamespacedSecret(
        { name: 'edited', namespace, body: { data: { '.dockerconfigjson': b64(theirs) } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ).then(() => undefined));
    const where = describeRun(args, result);
    assert.equal(result.code, 1, where);
    assert.match(result.stdout, new RegExp(`^serviceaccount/default skipped: secret edited was not written, so it is not attached \\(namespace ${namespace}\\)$`, 'm'), where);
    assertFailureReport(result.stderr, /^error: 1 of 2 changes failed; 1 skipped, nothing applied$/, [
      new RegExp(`^error: secret/edited failed: it was changed by someone else since it was read; run the command again \\(namespace ${namespace}\\)$`),
    ]);
    assert.equal(dockerConfigJsonOf(await readSecret(namespace, 'edited')), theirs, 'the other writer\'s edit was overwritten');
    assert.deepEqual(await pullSecretNames(namespace, 'default'), []);

    const again = await run(args);
    assert.equal(again.code, 0, describeRun(args, again));
    const auths = (JSON.parse(dockerConfigJsonOf(await readSecret(namespace, 'edited'))) as { auths: Record<string, unknown> }).auths;
    assert.deepEqual(Object.keys(auths).sort(), ['admin.example', 'registry.example', 'two.example'], 'the re-run merged into the edited content');
    assert.deepEqual(await pullSecretNames(namespace, 'default'), ['edited']);
    const third = await run(args);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stdout, /^summary: 2 unchanged$/m);

    // remove, with the same race: the detach is done and reported, the delete refused; a re-run finishes.
    const removeArgs = ['remove', 'edited', '-n', namespace];
    const removed = await pausedRun(removeArgs, () =>
      admin.core.patchNamespacedSecret(
        { name: 'edited', namespace, body: { metadata: { annotations: { 'edited-by': 'someone-else' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ).then(() => undefined));
    const removeWhere = describeRun(removeArgs, removed);
    assert.equal(removed.code, 1, removeWhere);
    assert.match(removed.stdout, new RegExp(`^serviceaccount/default detached edited \\(namespace ${namespace}\\)$`, 'm'), removeWhere);
    assertFailureReport(removed.stderr, /^error: 1 of 2 changes failed; 1 applied$/, [
      new RegExp(`^error: secret/edited failed: it was changed by someone else since it was read; not deleted \\(namespace ${namespace}\\)$`),
    ]);
    assert.equal((await readSecret(namespace, 'edited'))?.metadata?.annotations?.['edited-by'], 'someone-else');
    assert.deepEqual(await pullSecretNames(namespace, 'default'), []);
    const removeAgain = await run(removeArgs);
    assert.equal(removeAgain.code, 0, removeAgain.stderr);
    assert.equal(removeAgain.stdout, `secret/edited deleted (namespace ${namespace})\nsummary: 1 deleted\n`);
    assert.equal(await readSecret(namespace, 'edited'), undefined);
  });

  test('sync: a ServiceAccount deleted between plan and apply is reported failed, the copy stays, and a re-run converges', async () => {
    const namespace = await createTestNamespace('bad-input-sync-sa');
    created.push(namespace);
    await createServiceAccount(namespace, 'doomed');
    const args = ['sync', 'regcred', '-n', ctx.ns, '--namespaces', namespace, '--service-accounts', 'doomed'];
    const result = await pausedRun(args, () => admin.core.deleteNamespacedServiceAccount({ name: 'doomed', namespace }).then(() => undefined));
    const where = describeRun(args, result);
    assert.equal(result.code, 1, where);
    assert.match(result.stdout, new RegExp(`^secret/regcred created: .*\\(namespace ${namespace}\\)$`, 'm'), where);
    assertFailureReport(result.stderr, /^error: 1 of 2 changes failed; 1 applied$/, [
      new RegExp(`^error: serviceaccount/doomed failed: serviceaccount "doomed" no longer exists \\(namespace ${namespace}\\)$`),
    ]);
    assert.equal(await readServiceAccount(namespace, 'doomed'), undefined);
    assert.equal(dockerConfigJsonOf(await readSecret(namespace, 'regcred')), dockerConfigJsonOf(await readSecret(ctx.ns, 'regcred')), 'the copy is complete');
    const again = await run(args);
    assert.equal(again.code, 0, describeRun(args, again));
    assert.doesNotMatch(again.stdout, /created|updated|attached|failed/);
  });
});

describe('secrets never leak', () => {
  test('the leak scan finds a deliberately recorded leak (base64 user:password), redacts it, and the output of this file so far is clean', () => {
    rememberSecret('FAKE-deliberate-leak-pw', ['ci']);
    const forget = recordPluginOutput(['add', 'x', '--username', 'ci', '--password-stdin'], {
      stdout: 'secret/x created\n',
      stderr: `error: could not log in with ${b64('ci:FAKE-deliberate-leak-pw')}\n`,
    });
    try {
      const leaks = scanForLeaks().filter((leak) => leak.command === 'add x --username ci --password-stdin');
      assert.ok(leaks.length > 0, 'the deliberate leak was not found');
      assert.ok(leaks.every((leak) => leak.stream === 'stderr' && leak.line === 1 && leak.excerpt === 'error: could not log in with ***'), JSON.stringify(leaks));
      assert.ok(leaks.some((leak) => leak.form === 'base64(ci:password)'), JSON.stringify(leaks));
    } finally {
      forget();
    }
    assert.deepEqual(scanForLeaks(), [], 'a leak in the plugin output recorded so far');
  });

  test('a credential helper gets only "get" on its command line, the server on stdin, and no password in its environment', async () => {
    const dir = path.join(scratch.dir, 'spy');
    rememberSecret('FAKE-spy-helper-secret', ['spy']);
    const answer = JSON.stringify({ ServerURL: 'registry.example', Username: 'spy', Secret: 'FAKE-spy-helper-secret' });
    writeFile(dir, 'docker-credential-kps-spy', [
      '#!/bin/sh',
      `printf '%s\\n' "$@" > '${dir}/argv'`,
      `env > '${dir}/env'`,
      `cat > '${dir}/stdin'`,
      `printf '%s\\n' '${answer}'`,
      '',
    ].join('\n'), 0o755);
    const file = writeFile(dir, 'config.json', JSON.stringify({ auths: { 'registry.example': {} }, credsStore: 'kps-spy' }));
    const result = await run(['add', 'spied', '-n', ctx.valid, '--from-docker-config', file, '--no-attach'], {
      env: { PATH: `${dir}${path.delimiter}${process.env.PATH ?? ''}` },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(readFileSync(path.join(dir, 'argv'), 'utf8'), 'get\n');
    assert.equal(readFileSync(path.join(dir, 'stdin'), 'utf8'), 'registry.example');
    const env = readFileSync(path.join(dir, 'env'), 'utf8');
    assert.doesNotMatch(env, /FAKE-/, 'a password in the helper\'s environment');
  });

  test('nothing is written to disk: HOME, TMPDIR and the working directory stay empty', async () => {
    const dir = path.join(scratch.dir, 'disk');
    mkdirSync(dir, { recursive: true });
    const env = { HOME: dir, TMPDIR: dir, XDG_CONFIG_HOME: dir, XDG_CACHE_HOME: dir, KUBECONFIG: adminKubeconfig };
    const inDir = (args: string[], stdin?: string) =>
      run(['-c', `cd '${dir}' && exec '${pluginPath}' "$@"`, 'sh', ...args], { command: 'sh', env, ...(stdin !== undefined ? { stdin } : {}) });
    const results = [
      await inDir(['add', 'disk-login', '-n', ctx.valid, ...LOGIN, '--no-attach'], 'FAKE-disk-pw\n'),
      await inDir(['add', 'disk-config', '-n', ctx.valid, '--from-docker-config', config('good.json'), '--no-attach']),
      await inDir(['add', 'disk-copy', '-n', ctx.valid, '--from-secret', `${ctx.valid}/disk-login`, '--no-attach', '--dry-run=server']),
      await inDir(['list', '-n', ctx.valid, '-o', 'wide']),
    ];
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readdirSync(dir, { recursive: true }), []);
  });

  test('dry runs, -v and every output format of list and doctor print no password; -o yaml of add prints it only in the Secret\'s data', async () => {
    const password = 'FAKE-output-formats-pw';
    const login = ['add', 'formats', '-n', ctx.valid, '--server', 'formats.example', '--username', 'fmt', '--password-stdin', '--no-attach'];
    const forms = [password, b64(password), b64(`fmt:${password}`)];
    const clean = (result: RunResult, what: string) => {
      assert.equal(result.code, 0, `${what}: ${result.stderr}`);
      for (const form of forms) assert.ok(!`${result.stdout}${result.stderr}`.includes(form), `${what} printed ${form}`);
    };
    clean(await run([...login, '--dry-run=client', '-v'], { stdin: password }), 'add --dry-run=client -v');
    clean(await run([...login, '--dry-run=server', '-v'], { stdin: password }), 'add --dry-run=server -v');
    const manifest = await run([...login, '-o', 'yaml'], { stdin: password });
    assert.equal(manifest.code, 0, manifest.stderr);
    const secret = (loadYaml<{ items: { kind: string; data?: Record<string, string> }[] }>(manifest.stdout)).items.find((item) => item.kind === 'Secret');
    assert.match(Buffer.from(secret!.data!['.dockerconfigjson']!, 'base64').toString('utf8'), new RegExp(password), 'the manifest asked for has the data');
    for (const args of [['list', '-n', ctx.valid], ['list', '-n', ctx.valid, '-o', 'wide'], ['list', '-n', ctx.valid, '-o', 'json'], ['list', '-n', ctx.valid, '-o', 'yaml'],
      ['doctor', '-n', ctx.valid, '--image', 'formats.example/app:1', '-o', 'json'], ['doctor', '-n', ctx.valid, '--image', 'formats.example/app:1'], ['list', '-n', ctx.valid, '-v']]) {
      const result = await run(args);
      assert.ok(result.code === 0 || (args[0] === 'doctor' && result.code === 1), `${args.join(' ')}: ${result.stderr}`);
      for (const form of forms) assert.ok(!`${result.stdout}${result.stderr}`.includes(form), `${args.join(' ')} printed ${form}`);
    }
  });
});
