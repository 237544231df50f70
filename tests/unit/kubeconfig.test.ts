import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { canIHint, connect, parseRequestTimeout } from '../../lib/connect';
import { CliError, UsageError } from '../../lib/errors';
import { resolveConfig, type ResolveEnvironment } from '../../lib/kubeconfig';

const root = mkdtempSync(path.join(tmpdir(), 'kps-kubeconfig-'));
after(() => rmSync(root, { recursive: true, force: true }));

let fileCounter = 0;
interface Entry {
  name: string;
  server?: string;
  cluster?: string;
  user?: string;
  namespace?: string;
}
/** Writes a kubeconfig with the given clusters, users and contexts. */
function kubeconfig(spec: { clusters?: Entry[]; users?: string[]; contexts?: Entry[]; current?: string; extra?: string }): string {
  const file = path.join(root, `config-${++fileCounter}.yaml`);
  const lines = ['apiVersion: v1', 'kind: Config', 'clusters:'];
  for (const c of spec.clusters ?? []) lines.push(`- name: ${c.name}`, '  cluster:', `    server: ${c.server}`);
  lines.push('users:');
  for (const u of spec.users ?? []) lines.push(`- name: ${u}`, '  user:', `    token: token-of-${u}`);
  lines.push('contexts:');
  for (const c of spec.contexts ?? []) {
    lines.push(`- name: ${c.name}`, '  context:', `    cluster: ${c.cluster}`);
    if (c.user) lines.push(`    user: ${c.user}`);
    if (c.namespace) lines.push(`    namespace: ${c.namespace}`);
  }
  if (spec.current) lines.push(`current-context: ${spec.current}`);
  if (spec.extra) lines.push(spec.extra);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const home = path.join(root, 'home');
mkdirSync(home);
function environment(env: Record<string, string> = {}, serviceAccountDir = path.join(root, 'no-sa')): ResolveEnvironment {
  return { env, home, serviceAccountDir };
}

const a = kubeconfig({
  clusters: [{ name: 'shared', server: 'https://a.example:6443' }, { name: 'only-a', server: 'https://only-a.example' }],
  users: ['alice', 'shared-user'],
  contexts: [
    { name: 'ctx-a', cluster: 'shared', user: 'alice', namespace: 'team-a' },
    { name: 'ctx-both', cluster: 'only-a', user: 'alice' },
  ],
  current: 'ctx-a',
});
const b = kubeconfig({
  clusters: [{ name: 'shared', server: 'https://b.example:6443' }, { name: 'only-b', server: 'https://only-b.example' }],
  users: ['bob', 'shared-user'],
  contexts: [
    { name: 'ctx-b', cluster: 'only-b', user: 'bob' },
    { name: 'ctx-both', cluster: 'only-b', user: 'bob' },
  ],
  current: 'ctx-b',
});
const missing = path.join(root, 'does-not-exist.yaml');
const KUBECONFIG = (...files: string[]) => ({ KUBECONFIG: files.join(path.delimiter) });

describe('KUBECONFIG merging (first file wins, like kubectl)', () => {
  test('the first file that sets current-context wins', () => {
    const resolved = resolveConfig({}, environment(KUBECONFIG(a, b)));
    assert.equal(resolved.contextName, 'ctx-a');
    assert.equal(resolved.server, 'https://a.example:6443');
    const reversed = resolveConfig({}, environment(KUBECONFIG(b, a)));
    assert.equal(reversed.contextName, 'ctx-b');
  });

  test('a name defined in two files takes the first definition, without error', () => {
    // ctx-a points at cluster "shared", which both files define.
    assert.equal(resolveConfig({}, environment(KUBECONFIG(b, a))).server, 'https://only-b.example');
    assert.equal(resolveConfig({ context: 'ctx-a' }, environment(KUBECONFIG(b, a))).server, 'https://b.example:6443');
    assert.equal(resolveConfig({ context: 'ctx-both' }, environment(KUBECONFIG(a, b))).server, 'https://only-a.example');
    assert.equal(resolveConfig({ context: 'ctx-both' }, environment(KUBECONFIG(b, a))).server, 'https://only-b.example');
  });

  test('entries only in a later file are still available', () => {
    assert.equal(resolveConfig({ context: 'ctx-b' }, environment(KUBECONFIG(a, b))).server, 'https://only-b.example');
  });

  test('missing files in KUBECONFIG are skipped', () => {
    const resolved = resolveConfig({}, environment(KUBECONFIG(missing, a, missing)));
    assert.equal(resolved.contextName, 'ctx-a');
    assert.deepEqual(resolved.source, { kind: 'files', files: [a] });
  });

  test('repeated and empty entries in KUBECONFIG are read once', () => {
    const resolved = resolveConfig({}, environment(KUBECONFIG(a, '', a, b)));
    assert.deepEqual(resolved.source, { kind: 'files', files: [a, b] });
  });

  test('without KUBECONFIG, ~/.kube/config is read', () => {
    const fakeHome = path.join(root, 'home-with-config');
    mkdirSync(path.join(fakeHome, '.kube'), { recursive: true });
    writeFileSync(path.join(fakeHome, '.kube', 'config'), `current-context: x
contexts: [{name: x, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: 'https://home.example'}}]
users: [{name: u, user: {token: t}}]
`);
    const resolved = resolveConfig({}, { env: {}, home: fakeHome, serviceAccountDir: path.join(root, 'no-sa') });
    assert.equal(resolved.server, 'https://home.example');
  });
});

describe('--kubeconfig', () => {
  test('means exactly that file, ignoring KUBECONFIG', () => {
    const resolved = resolveConfig({ kubeconfig: b }, environment(KUBECONFIG(a)));
    assert.equal(resolved.contextName, 'ctx-b');
    assert.deepEqual(resolved.source, { kind: 'files', files: [b] });
  });

  test('a missing file is a usage error naming it', () => {
    assert.throws(
      () => resolveConfig({ kubeconfig: missing }, environment(KUBECONFIG(a))),
      (error: unknown) => error instanceof UsageError && error.message.includes(missing) && error.message.includes('does not exist'),
    );
  });

  test('a file that is not a kubeconfig is a usage error naming it', () => {
    const bad = path.join(root, 'bad.yaml');
    writeFileSync(bad, 'clusters: [ {name: x\n');
    assert.throws(
      () => resolveConfig({ kubeconfig: bad }, environment()),
      (error: unknown) => error instanceof UsageError && error.message.includes(bad),
    );
  });

  test('a directory is a usage error', () => {
    assert.throws(() => resolveConfig({ kubeconfig: root }, environment()), UsageError);
  });
});

describe('context, cluster, user and namespace selection', () => {
  test('--context selects another context', () => {
    const resolved = resolveConfig({ context: 'ctx-b' }, environment(KUBECONFIG(a, b)));
    assert.equal(resolved.contextName, 'ctx-b');
    assert.equal(resolved.user.name, 'bob');
  });

  test('an unknown --context is a usage error listing the known ones', () => {
    assert.throws(
      () => resolveConfig({ context: 'nope' }, environment(KUBECONFIG(a, b))),
      (error: unknown) =>
        error instanceof UsageError && /context "nope" does not exist/.test(error.message) && error.message.includes('ctx-b'),
    );
  });

  test('--cluster and --user override the context', () => {
    const resolved = resolveConfig({ cluster: 'only-b', user: 'bob' }, environment(KUBECONFIG(a, b)));
    assert.equal(resolved.server, 'https://only-b.example');
    assert.equal(resolved.user.name, 'bob');
    assert.equal(resolved.namespace, 'team-a', 'the namespace still comes from the current context');
  });

  test('unknown --cluster or --user are usage errors', () => {
    assert.throws(() => resolveConfig({ cluster: 'nope' }, environment(KUBECONFIG(a))), /cluster "nope" does not exist/);
    assert.throws(() => resolveConfig({ user: 'nope' }, environment(KUBECONFIG(a))), /user "nope" does not exist/);
  });

  test('a context that names a missing user is a usage error', () => {
    const file = kubeconfig({ clusters: [{ name: 'c', server: 'https://c.example' }], contexts: [{ name: 'x', cluster: 'c', user: 'ghost' }], current: 'x' });
    assert.throws(() => resolveConfig({}, environment(KUBECONFIG(file))), /user "ghost" does not exist/);
  });

  test('a context without a user connects anonymously', () => {
    const file = kubeconfig({ clusters: [{ name: 'c', server: 'https://c.example' }], contexts: [{ name: 'x', cluster: 'c' }], current: 'x' });
    assert.equal(resolveConfig({}, environment(KUBECONFIG(file))).server, 'https://c.example');
  });

  test('namespace: -n, else the context namespace, else default', () => {
    assert.equal(resolveConfig({ namespace: 'flag-ns' }, environment(KUBECONFIG(a))).namespace, 'flag-ns');
    assert.equal(resolveConfig({}, environment(KUBECONFIG(a))).namespace, 'team-a');
    assert.equal(resolveConfig({}, environment(KUBECONFIG(b))).namespace, 'default');
    assert.equal(resolveConfig({ namespace: 'x' }, environment(KUBECONFIG(a))).namespaceFromFlag, true);
    assert.equal(resolveConfig({}, environment(KUBECONFIG(a))).namespaceFromFlag, false);
  });

  test('no current context and no --context is a usage error', () => {
    const file = kubeconfig({ clusters: [{ name: 'c', server: 'https://c.example' }], users: ['u'], contexts: [{ name: 'x', cluster: 'c', user: 'u' }] });
    assert.throws(() => resolveConfig({}, environment(KUBECONFIG(file))), /no current context/);
    assert.equal(resolveConfig({ context: 'x' }, environment(KUBECONFIG(file))).server, 'https://c.example');
  });

  test('--insecure-skip-tls-verify marks the selected cluster', () => {
    const resolved = resolveConfig({ insecureSkipTlsVerify: true }, environment(KUBECONFIG(a)));
    assert.equal(resolved.cluster.skipTLSVerify, true);
  });

  test('relative certificate paths are relative to the kubeconfig file', () => {
    const dir = path.join(root, 'relative');
    mkdirSync(dir);
    const file = path.join(dir, 'config');
    writeFileSync(file, `current-context: x
contexts: [{name: x, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: 'https://c.example', certificate-authority: certs/ca.crt}}]
users: [{name: u, user: {client-certificate: certs/u.crt, client-key: certs/u.key}}]
`);
    const resolved = resolveConfig({}, environment(KUBECONFIG(file)));
    assert.equal(resolved.cluster.caFile, path.join(dir, 'certs', 'ca.crt'));
    assert.equal(resolved.user.certFile, path.join(dir, 'certs', 'u.crt'));
    assert.equal(resolved.user.keyFile, path.join(dir, 'certs', 'u.key'));
  });

  test('an empty kubeconfig file counts as an empty config', () => {
    const empty = path.join(root, 'empty.yaml');
    writeFileSync(empty, '');
    assert.equal(resolveConfig({}, environment(KUBECONFIG(empty, a))).contextName, 'ctx-a');
  });
});

describe('no configuration, and in-cluster', () => {
  test('no kubeconfig anywhere is a clear error, never localhost:8080', () => {
    assert.throws(
      () => resolveConfig({}, environment({ KUBECONFIG: missing })),
      (error: unknown) => error instanceof CliError && /no Kubernetes configuration found/.test(error.message),
    );
    assert.throws(() => resolveConfig({}, environment({})), /no Kubernetes configuration found/);
  });

  test('in a pod, the service account is used, with its namespace', () => {
    const saDir = path.join(root, 'serviceaccount');
    mkdirSync(saDir);
    writeFileSync(path.join(saDir, 'token'), 'pod-token');
    writeFileSync(path.join(saDir, 'ca.crt'), 'not really a certificate');
    writeFileSync(path.join(saDir, 'namespace'), 'pod-ns\n');
    const env = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const resolved = resolveConfig({}, environment(env, saDir));
    assert.deepEqual(resolved.source, { kind: 'in-cluster' });
    assert.equal(resolved.server, 'https://10.0.0.1:443');
    assert.equal(resolved.namespace, 'pod-ns');
    assert.equal(resolved.cluster.caFile, path.join(saDir, 'ca.crt'));
    assert.equal(resolveConfig({ namespace: 'other' }, environment(env, saDir)).namespace, 'other');
    assert.throws(() => resolveConfig({ context: 'x' }, environment(env, saDir)), UsageError);
  });

  test('a kubeconfig wins over the in-cluster configuration', () => {
    const saDir = path.join(root, 'serviceaccount');
    const env = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443', ...KUBECONFIG(a) };
    assert.equal(resolveConfig({}, environment(env, saDir)).contextName, 'ctx-a');
  });
});

describe('--request-timeout', () => {
  test('parses kubectl durations', () => {
    assert.equal(parseRequestTimeout(undefined), undefined);
    assert.equal(parseRequestTimeout('0'), undefined);
    assert.equal(parseRequestTimeout('0s'), undefined);
    assert.equal(parseRequestTimeout('5'), 5000);
    assert.equal(parseRequestTimeout('1s'), 1000);
    assert.equal(parseRequestTimeout('250ms'), 250);
    assert.equal(parseRequestTimeout('2m'), 120_000);
    assert.equal(parseRequestTimeout('1h'), 3_600_000);
    assert.equal(parseRequestTimeout('1m30s'), 90_000);
    assert.equal(parseRequestTimeout('1.5s'), 1500);
  });

  for (const bad of ['', 'abc', '-1s', '1d', '5 s', 's', '1s2x']) {
    test(`rejects ${JSON.stringify(bad)} with a usage error`, () => {
      assert.throws(() => parseRequestTimeout(bad), UsageError);
    });
  }

  test('connect() validates it before anything else', () => {
    assert.throws(() => connect({ requestTimeout: 'soon' }, environment(KUBECONFIG(a))), /invalid --request-timeout "soon"/);
  });
});

describe('forbidden messages', () => {
  test('name the kubectl auth can-i command that confirms them', () => {
    assert.equal(
      canIHint('secrets is forbidden: User "restricted" cannot list resource "secrets" in API group "" in the namespace "ns1"'),
      'kubectl auth can-i list secrets -n ns1',
    );
    assert.equal(
      canIHint('namespaces is forbidden: User "restricted" cannot list resource "namespaces" in API group "" at the cluster scope'),
      'kubectl auth can-i list namespaces',
    );
    assert.equal(
      canIHint('roles.rbac.authorization.k8s.io is forbidden: User "x" cannot create resource "roles" in API group "rbac.authorization.k8s.io" in the namespace "y"'),
      'kubectl auth can-i create roles.rbac.authorization.k8s.io -n y',
    );
    assert.equal(canIHint('something else entirely'), undefined);
  });
});
