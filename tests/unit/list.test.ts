import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1Pod, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { buildListing, formatListing } from '../../lib/list';
import { formatAge } from '../../lib/print';

const PASSWORD = 'list-test-password-do-not-print';
const b64 = (text: string) => Buffer.from(text).toString('base64');
const config = (auths: object) => ({ '.dockerconfigjson': b64(JSON.stringify({ auths })) });

const secret = (namespace: string, name: string, data: Record<string, string>, extra: Partial<V1Secret> = {}): V1Secret => ({
  metadata: { namespace, name, creationTimestamp: new Date('2026-01-01T00:00:00Z') },
  type: 'kubernetes.io/dockerconfigjson',
  data,
  ...extra,
});
const sa = (namespace: string, name: string, refs: string[]): V1ServiceAccount => ({
  metadata: { namespace, name },
  imagePullSecrets: refs.map((n) => ({ name: n })),
});
const pod = (namespace: string, name: string, refs: string[]): V1Pod => ({
  metadata: { namespace, name },
  spec: { containers: [], imagePullSecrets: refs.map((n) => ({ name: n })) },
});

const good = config({ 'registry.example': { auth: b64(`alice:${PASSWORD}`) } });
const secrets: V1Secret[] = [
  secret('a', 'regcred', good, { metadata: { namespace: 'a', name: 'regcred', creationTimestamp: new Date('2026-01-01T00:00:00Z'), labels: { 'app.kubernetes.io/managed-by': 'kubectl-pullsecret' } } }),
  secret('a', 'lonely', good),
  secret('a', 'broken', { '.dockerconfigjson': b64('{"auths": {"r": {"auth": "bm9jb2xvbg=="}}}') }),
  secret('a', 'desktop', { '.dockerconfigjson': b64('{"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "desktop"}') }),
  secret('b', 'ecr', config({ '123456789012.dkr.ecr.us-east-1.amazonaws.com': { username: 'AWS', password: PASSWORD } })),
  secret('b', 'legacy', { '.dockercfg': b64(JSON.stringify({ 'old.example': { auth: b64(`bob:${PASSWORD}`) } })) }, { type: 'kubernetes.io/dockercfg' }),
];
const serviceAccounts = [sa('a', 'default', ['regcred', 'missing', 'broken', 'desktop']), sa('b', 'default', ['ecr', 'legacy']), sa('b', 'builder', ['legacy'])];
const pods = [pod('a', 'web-1', ['regcred']), pod('a', 'web-2', ['regcred', 'missing'])];

describe('buildListing', () => {
  const entries = buildListing({ secrets, serviceAccounts, pods });
  const byName = (namespace: string, name: string) => entries.find((e) => e.namespace === namespace && e.name === name)!;

  test('statuses', () => {
    assert.equal(byName('a', 'regcred').status, 'ok');
    assert.equal(byName('a', 'lonely').status, 'unused');
    assert.equal(byName('a', 'broken').status, 'malformed');
    assert.equal(byName('a', 'desktop').status, 'empty');
    assert.equal(byName('b', 'ecr').status, 'short-lived');
    assert.match(byName('b', 'ecr').reason ?? '', /AWS ECR/);
    assert.equal(byName('b', 'legacy').status, 'ok');
  });

  test('references from ServiceAccounts and pods, and dangling ones', () => {
    assert.deepEqual(byName('a', 'regcred').serviceAccounts, ['default']);
    assert.deepEqual(byName('a', 'regcred').pods, ['web-1', 'web-2']);
    assert.deepEqual(byName('b', 'legacy').serviceAccounts, ['default', 'builder']);
    const dangling = byName('a', 'missing');
    assert.equal(dangling.status, 'dangling');
    assert.deepEqual(dangling.serviceAccounts, ['default']);
    assert.deepEqual(dangling.pods, ['web-2']);
    assert.match(dangling.reason ?? '', /serviceaccount\/default, pod\/web-2/);
  });

  test('managed, usernames, registries', () => {
    assert.equal(byName('a', 'regcred').managed, true);
    assert.equal(byName('a', 'lonely').managed, false);
    assert.deepEqual(byName('a', 'regcred').usernames, ['alice']);
    assert.deepEqual(byName('b', 'legacy').registries, ['old.example']);
  });

  test('without pods, unused means no ServiceAccount references it', () => {
    const withoutPods = buildListing({ secrets, serviceAccounts });
    assert.match(withoutPods.find((e) => e.name === 'lonely')!.reason ?? '', /no ServiceAccount references it/);
  });

  test('never holds a password or an auth value', () => {
    const text = JSON.stringify(entries) + formatListing(entries, { wide: true, allNamespaces: true });
    assert.doesNotMatch(text, new RegExp(PASSWORD));
    assert.doesNotMatch(text, new RegExp(b64(`alice:${PASSWORD}`)));
  });
});

describe('formatListing', () => {
  const entries = buildListing({ secrets: secrets.slice(0, 2), serviceAccounts, pods });
  const now = new Date('2026-01-03T00:00:00Z');

  test('kubectl-style table, NAMESPACE only with -A, wide adds USERNAMES and PODS', () => {
    const table = formatListing(entries, { wide: false, allNamespaces: false, now });
    const [header, ...rows] = table.trimEnd().split('\n');
    assert.match(header!, /^NAME\s+REGISTRIES\s+SERVICE ACCOUNTS\s+MANAGED\s+AGE\s+STATUS$/);
    assert.ok(rows.some((row) => /^regcred\s+registry\.example\s+default\s+yes\s+2d\s+ok$/.test(row)), table);
    assert.ok(rows.some((row) => /^missing\s+<none>\s+default\s+no\s+<none>\s+dangling$/.test(row)), table);
    const wide = formatListing(entries, { wide: true, allNamespaces: true, now });
    assert.match(wide.split('\n')[0]!, /^NAMESPACE\s+NAME\s+.*STATUS\s+USERNAMES\s+PODS$/);
  });

  test('ages', () => {
    const at = (seconds: number) => formatAge(new Date(now.getTime() - seconds * 1000), now);
    assert.equal(at(5), '5s');
    assert.equal(at(150), '2m30s');
    assert.equal(at(3600), '60m');
    assert.equal(at(4 * 3600), '4h');
    assert.equal(at(3 * 86400), '3d');
    assert.equal(at(800 * 86400), '2y');
  });
});
