// The watch-lists read in protobuf (lib/protobuf) give exactly the objects the same API server
// gives in JSON: the API server is the oracle. The objects set every field those kinds have that
// a user or a controller can set, in their awkward forms: binary and empty data, non-ASCII
// annotations, owner references with both booleans, finalizers, a terminating namespace with its
// conditions and zero grace period, pointer booleans set to false, empty strings left out.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { watchList, withoutManagedFields, type ListedResource } from '../../lib/cluster';
import { ApiError, connect, requestFrames, requestLines } from '../../lib/connect';
import { admin, adminKubeconfig, createNamespace, waitFor } from './harness';

const connection = connect({ kubeconfig: adminKubeconfig });
const tag = `p${process.pid}`;
const live = `kps-protobuf-live-${process.pid}`;
const terminating = `kps-protobuf-terminating-${process.pid}`;
const HOLD = 'kubectl-pullsecret.test/hold';
const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

type Item = { metadata?: { namespace?: string; name?: string } };
const byKey = (a: Item, b: Item) => `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace}/${b.metadata?.name}`);

async function read(resource: ListedResource, options: { namespace?: string; labelSelector?: string }, encoding: 'json' | 'protobuf'): Promise<Item[]> {
  const { items } = await watchList<Item>(connection, resource, options, withoutManagedFields, encoding);
  return items.sort(byKey);
}

/**
 * The protobuf read between two JSON reads that agree (a controller may change an object
 * meanwhile: the namespace controller retries a terminating namespace).
 */
async function bothEncodings(resource: ListedResource, options: { namespace?: string; labelSelector?: string }): Promise<{ json: Item[]; protobuf: Item[] }> {
  for (let attempt = 0; ; attempt++) {
    const json = await read(resource, options, 'json');
    const protobuf = await read(resource, options, 'protobuf');
    const again = await read(resource, options, 'json');
    try {
      assert.deepEqual(again, json);
      return { json, protobuf };
    } catch (error) {
      if (attempt === 4) throw error;
    }
  }
}

async function releaseHeldSecrets(namespace: string): Promise<void> {
  const { items } = await admin.core.listNamespacedSecret({ namespace });
  for (const secret of items.filter((item) => item.metadata?.finalizers?.includes(HOLD))) {
    await admin.core.patchNamespacedSecret({ namespace, name: secret.metadata!.name!, body: [{ op: 'remove', path: '/metadata/finalizers' }] }).catch(() => undefined);
  }
}

describe('watch-lists in protobuf decode to the JSON of the same objects', () => {
  before(async () => {
    await createNamespace(live, { labels: { 'kps-test-protobuf': tag, empty: '' }, annotations: { note: 'ünïcödé 日本 "quoted"\n\ttabbed' } });
    await createNamespace(terminating, { labels: { 'kps-test-protobuf': tag } });
    await waitFor('the default ServiceAccounts', async () =>
      (await Promise.all([live, terminating].map((namespace) => admin.core.listNamespacedServiceAccount({ namespace })))).every((list) => list.items.length > 0),
    );
    const owner = await admin.core.createNamespacedServiceAccount({
      namespace: live,
      body: {
        metadata: { name: 'rich', labels: { team: 'a' }, annotations: { empty: '' } },
        automountServiceAccountToken: false,
        imagePullSecrets: [{ name: 'regcred' }, { name: 'other' }],
        secrets: [{ kind: 'Secret', apiVersion: 'v1', name: 'token', namespace: live, uid: 'u-1', resourceVersion: '7', fieldPath: 'spec' }],
      },
    });
    await admin.core.createNamespacedSecret({
      namespace: live,
      body: {
        metadata: {
          name: 'rich',
          labels: { 'app.kubernetes.io/managed-by': 'kubectl-pullsecret' },
          annotations: { 'kubectl-pullsecret/source': 'default/regcred', note: 'ünïcödé 日本' },
          ownerReferences: [
            { apiVersion: 'v1', kind: 'ServiceAccount', name: 'rich', uid: owner.metadata!.uid!, controller: true, blockOwnerDeletion: false },
            { apiVersion: 'v1', kind: 'ServiceAccount', name: 'default', uid: 'not-a-real-uid' },
          ],
          finalizers: [HOLD, `${HOLD}-2`],
        },
        type: 'Opaque',
        immutable: false,
        data: { binary: binary.toString('base64'), empty: '', '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') },
      },
    });
    await admin.core.createNamespacedSecret({
      namespace: live,
      body: { metadata: { generateName: 'generated-' }, type: 'kubernetes.io/dockerconfigjson', immutable: true, data: { '.dockerconfigjson': Buffer.from('{"auths":{"r.example":{"auth":"dTpw"}}}').toString('base64') } },
    });
    // A secret the namespace controller cannot delete keeps its namespace terminating, with conditions.
    await admin.core.createNamespacedSecret({ namespace: terminating, body: { metadata: { name: 'held', finalizers: [HOLD] }, stringData: { key: 'value' } } });
    await admin.core.deleteNamespace({ name: terminating });
    await waitFor('the terminating namespace\'s conditions', async () => ((await admin.core.readNamespace({ name: terminating })).status?.conditions?.length ?? 0) > 0);
  });

  after(async () => {
    for (const namespace of [live, terminating]) await releaseHeldSecrets(namespace);
    await admin.core.deleteNamespace({ name: live }).catch(() => undefined);
  });

  test('namespaces: labels (an empty value too), non-ASCII annotations, finalizers, a terminating one with its conditions and deletion fields', async () => {
    const { json, protobuf } = await bothEncodings('namespaces', { labelSelector: `kps-test-protobuf=${tag}` });
    assert.equal(json.length, 2);
    assert.deepEqual(protobuf, json);
    const ending = protobuf.find((item) => item.metadata?.name === terminating) as { metadata: Record<string, unknown>; status: { phase: string; conditions: unknown[] } };
    assert.equal(ending.status.phase, 'Terminating');
    assert.ok(ending.status.conditions.length > 0);
    assert.match(String(ending.metadata.deletionTimestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  test('secrets: binary and empty data, owner references, finalizers, generateName, immutable true and false, a deleted one held by its finalizer', async () => {
    for (const namespace of [live, terminating]) {
      const { json, protobuf } = await bothEncodings('secrets', { namespace });
      assert.ok(json.length > 0);
      assert.deepEqual(protobuf, json);
    }
    // The namespace controller has deleted it; its finalizer holds it, with its deletion fields.
    const [held] = (await read('secrets', { namespace: terminating }, 'protobuf')) as { metadata: Record<string, unknown> }[];
    assert.match(String(held.metadata.deletionTimestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(held.metadata.deletionGracePeriodSeconds, 0, 'a pointer set to zero is kept');
    const rich = (await read('secrets', { namespace: live }, 'protobuf')).find((item) => item.metadata?.name === 'rich') as { data: Record<string, string>; immutable: boolean; kind: string; apiVersion: string };
    assert.deepEqual(Buffer.from(rich.data.binary, 'base64'), binary);
    assert.equal(rich.data.empty, '');
    assert.equal(rich.immutable, false);
    assert.equal(`${rich.apiVersion}/${rich.kind}`, 'v1/Secret');
  });

  test('ServiceAccounts: imagePullSecrets, secrets with every reference field, automountServiceAccountToken false', async () => {
    const { json, protobuf } = await bothEncodings('serviceaccounts', { namespace: live });
    assert.ok(json.some((item) => item.metadata?.name === 'rich'));
    assert.deepEqual(protobuf, json);
  });

  test('every namespace, secret and ServiceAccount of the cluster', async () => {
    for (const resource of ['namespaces', 'secrets', 'serviceaccounts'] as const) {
      const { json, protobuf } = await bothEncodings(resource, {});
      assert.deepEqual(protobuf, json, resource);
    }
  });

  test('a refused protobuf watch is an ApiError whose body is the JSON Status the server gives in JSON', async () => {
    const request = { path: `/api/v1/namespaces/${live}/secrets`, query: { watch: 'true', sendInitialEvents: 'true', resourceVersionMatch: 'Exact' } };
    const viaProtobuf = await requestFrames(connection, request, () => undefined).catch((error: unknown) => error);
    const viaJson = await requestLines(connection, request, () => undefined).catch((error: unknown) => error);
    assert.ok(viaProtobuf instanceof ApiError && viaJson instanceof ApiError);
    assert.equal(viaProtobuf.code, 422);
    const status = JSON.parse(viaProtobuf.body) as { details?: { causes?: unknown[] } };
    assert.ok((status.details?.causes?.length ?? 0) > 0);
    assert.deepEqual(status, JSON.parse(viaJson.body));
  });
});
