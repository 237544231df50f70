import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { attachOps, detachOps, CONTENT_HASH_ANNOTATION, MANAGED_BY_LABEL } from '../../lib/cluster';
import { buildDockerConfigJson, contentHash, parsePullSecretData, serializeDockerConfig } from '../../lib/dockerconfig';
import { planAdd, planRemove, type AddRequest, type NamespaceState } from '../../lib/plan';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const content = buildDockerConfigJson({ server: 'registry.example', username: 'u', password: 'pw' });
const added = (() => {
  const parsed = parsePullSecretData('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': b64(content) });
  assert.ok(parsed.ok);
  return parsed.config;
})();

const request = (overrides: Partial<AddRequest> = {}): AddRequest => ({
  name: 'regcred',
  content,
  replace: false,
  force: false,
  serviceAccounts: { names: ['default'] },
  ...overrides,
});

const sa = (name: string, pullSecrets?: string[], namespace = 'ns'): V1ServiceAccount => ({
  metadata: { name, namespace, resourceVersion: '1' },
  ...(pullSecrets ? { imagePullSecrets: pullSecrets.map((n) => ({ name: n })) } : {}),
});

const secret = (overrides: { managed?: boolean; type?: string; content?: string; namespace?: string; name?: string } = {}): V1Secret => ({
  metadata: {
    name: overrides.name ?? 'regcred',
    namespace: overrides.namespace ?? 'ns',
    resourceVersion: '7',
    labels: overrides.managed === false ? {} : { [MANAGED_BY_LABEL]: 'kubectl-pullsecret' },
  },
  type: overrides.type ?? 'kubernetes.io/dockerconfigjson',
  data: { '.dockerconfigjson': b64(overrides.content ?? content) },
});

const state = (overrides: Partial<NamespaceState> = {}): NamespaceState => ({
  namespace: 'ns',
  namespaceObject: { metadata: { name: 'ns' }, status: { phase: 'Active' } },
  serviceAccounts: [sa('default')],
  ...overrides,
});

describe('planAdd', () => {
  test('a new secret is created with our marks and attached to default', () => {
    const changes = planAdd(request(), state(), added);
    assert.deepEqual(changes.map((c) => c.kind), ['create-secret', 'attach']);
    const create = changes[0]!;
    assert.ok(create.kind === 'create-secret');
    assert.equal(create.secret.type, 'kubernetes.io/dockerconfigjson');
    assert.equal(Buffer.from(create.secret.data!['.dockerconfigjson']!, 'base64').toString(), content);
    assert.equal(create.secret.metadata?.labels?.[MANAGED_BY_LABEL], 'kubectl-pullsecret');
    assert.equal(create.secret.metadata?.annotations?.[CONTENT_HASH_ANNOTATION], contentHash(content));
  });

  test('the same content again is unchanged everywhere', () => {
    const changes = planAdd(request(), state({ secret: secret(), serviceAccounts: [sa('default', ['regcred'])] }), added);
    assert.deepEqual(changes.map((c) => c.kind), ['unchanged', 'unchanged']);
  });

  test('another registry is merged into our secret; --replace replaces the whole content', () => {
    const other = buildDockerConfigJson({ server: 'other.example', username: 'o', password: 'x' });
    const existing = secret({ content: other });
    const merged = planAdd(request(), state({ secret: existing }), added)[0]!;
    assert.ok(merged.kind === 'update-secret');
    const mergedContent = JSON.parse(Buffer.from(merged.secret.data!['.dockerconfigjson']!, 'base64').toString());
    assert.deepEqual(Object.keys(mergedContent.auths).sort(), ['other.example', 'registry.example']);
    assert.equal(merged.secret.metadata?.resourceVersion, '7', 'the update is conditional on what was read');
    const replaced = planAdd(request({ replace: true }), state({ secret: existing }), added)[0]!;
    assert.ok(replaced.kind === 'update-secret');
    assert.equal(Buffer.from(replaced.secret.data!['.dockerconfigjson']!, 'base64').toString(), content);
  });

  test('a secret we do not manage is refused without --force, and nothing is attached', () => {
    const changes = planAdd(request(), state({ secret: secret({ managed: false }) }), added);
    assert.equal(changes.length, 1);
    assert.equal(changes[0]!.kind, 'fail');
    assert.match((changes[0] as { reason: string }).reason, /not managed by kubectl-pullsecret.*--force/);
  });

  test('--force takes over a foreign pull secret in place, and re-creates one of another type', () => {
    const sameType = planAdd(request({ force: true }), state({ secret: secret({ managed: false }) }), added)[0]!;
    assert.ok(sameType.kind === 'update-secret');
    assert.equal(sameType.secret.metadata?.labels?.[MANAGED_BY_LABEL], 'kubectl-pullsecret');
    const opaque = planAdd(request({ force: true }), state({ secret: secret({ managed: false, type: 'Opaque' }) }), added)[0]!;
    assert.equal(opaque.kind, 'replace-secret');
  });

  test('ServiceAccount selection: names, all, none; a missing default is waited for, others fail', () => {
    const accounts = [sa('default'), sa('builder', ['x']), sa('deployer', ['regcred'])];
    const all = planAdd(request({ serviceAccounts: { all: true } }), state({ serviceAccounts: accounts }), added);
    assert.deepEqual(all.map((c) => `${c.kind}:${'serviceAccount' in c ? c.serviceAccount : 'object' in c ? c.object : ''}`), [
      'create-secret:',
      'attach:builder',
      'attach:default',
      'unchanged:serviceaccount/deployer',
    ]);
    const none = planAdd(request({ serviceAccounts: { none: true } }), state({ serviceAccounts: accounts }), added);
    assert.deepEqual(none.map((c) => c.kind), ['create-secret']);
    const fresh = planAdd(request(), state({ serviceAccounts: [] }), added);
    assert.deepEqual(fresh[1], { kind: 'attach', namespace: 'ns', serviceAccount: 'default', secret: 'regcred', waitForServiceAccount: true });
    const missing = planAdd(request({ serviceAccounts: { names: ['ghost'] } }), state(), added);
    assert.equal(missing[1]!.kind, 'fail');
  });

  test('missing and terminating namespaces', () => {
    assert.equal(planAdd(request(), { namespace: 'gone', serviceAccounts: [] }, added)[0]!.kind, 'fail');
    const terminating = planAdd(request(), state({ namespaceObject: { metadata: { name: 'ns' }, status: { phase: 'Terminating' } } }), added);
    assert.deepEqual(terminating.map((c) => c.kind), ['skip']);
  });

  test('canonical comparison: the same entries in another key order are unchanged', () => {
    const two = serializeDockerConfig({ auths: { 'b.example': { username: 'b', password: 'p' }, 'registry.example': { username: 'u', password: 'pw' } } });
    const reordered = JSON.stringify({ auths: { 'registry.example': { username: 'u', password: 'pw', auth: b64('u:pw') }, 'b.example': { username: 'b', password: 'p', auth: b64('b:p') } } });
    const changes = planAdd(request(), state({ secret: secret({ content: reordered }) }), added);
    assert.equal(changes[0]!.kind, 'unchanged', two);
  });
});

describe('attach and detach operations keep every other entry', () => {
  test('attach appends, creates a missing list, and is a no-op when present', () => {
    assert.deepEqual(attachOps(sa('d', ['a', 'b']), 'c'), [{ op: 'add', path: '/imagePullSecrets/-', value: { name: 'c' } }]);
    assert.deepEqual(attachOps(sa('d'), 'c'), [{ op: 'add', path: '/imagePullSecrets', value: [{ name: 'c' }] }]);
    assert.deepEqual(attachOps(sa('d', []), 'c'), [{ op: 'add', path: '/imagePullSecrets/-', value: { name: 'c' } }]);
    assert.equal(attachOps(sa('d', ['c']), 'c'), undefined);
  });

  test('detach removes every copy of the name, highest index first', () => {
    assert.deepEqual(detachOps(sa('d', ['c', 'a', 'c', 'b']), 'c'), [
      { op: 'remove', path: '/imagePullSecrets/2' },
      { op: 'remove', path: '/imagePullSecrets/0' },
    ]);
    assert.equal(detachOps(sa('d', ['a']), 'c'), undefined);
    assert.equal(detachOps(sa('d'), 'c'), undefined);
  });
});

describe('planRemove', () => {
  const accounts = [sa('default', ['other', 'regcred']), sa('builder', ['x']), sa('deployer', ['regcred'], 'ns2')];

  test('detaches everywhere and deletes only what we manage', () => {
    const changes = planRemove({ name: 'regcred', keepSecret: false, force: false }, [secret(), secret({ namespace: 'ns2', managed: false })], accounts);
    assert.deepEqual(
      changes.map((c) => `${c.namespace}:${c.kind}`),
      ['ns:detach', 'ns:delete-secret', 'ns2:detach', 'ns2:skip'],
    );
  });

  test('--force deletes a foreign pull secret; --keep-secret deletes nothing', () => {
    const forced = planRemove({ name: 'regcred', keepSecret: false, force: true }, [secret({ managed: false })], []);
    assert.deepEqual(forced.map((c) => c.kind), ['delete-secret']);
    const kept = planRemove({ name: 'regcred', keepSecret: true, force: true }, [secret()], accounts);
    assert.deepEqual(kept.map((c) => c.kind), ['detach', 'unchanged', 'detach']);
  });

  test('a same-named secret that is not a pull secret is left alone', () => {
    const changes = planRemove({ name: 'regcred', keepSecret: false, force: true }, [secret({ type: 'Opaque' })], []);
    assert.deepEqual(changes.map((c) => c.kind), ['skip']);
  });
});
