import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import { generateCa, issueServingCertificate, needsRenewal, type KeyAndCertificate } from '../../lib/certs';
import {
  admit,
  podImages,
  podPatch,
  servingHosts,
  sourcesForPod,
  webhookConfiguration,
  type AdmissionContext,
  type WebhookOptions,
} from '../../lib/webhook';

const source = (name: string, registries: string[]): V1Secret => ({
  metadata: { namespace: 'home', name },
  type: 'kubernetes.io/dockerconfigjson',
  data: {
    '.dockerconfigjson': Buffer.from(JSON.stringify({ auths: Object.fromEntries(registries.map((r) => [r, { auth: 'dTpw' }])) })).toString('base64'),
  },
});
const pod = (images: string[], pullSecrets?: string[], extra: Partial<V1Pod['spec']> = {}): V1Pod => ({
  metadata: { name: 'p', namespace: 'ns' },
  spec: {
    containers: images.map((image, i) => ({ name: `c${i}`, image })),
    ...(pullSecrets ? { imagePullSecrets: pullSecrets.map((name) => ({ name })) } : {}),
    ...extra,
  },
});

const corp = source('corp', ['registry.corp.example']);
const hub = source('hub', ['https://index.docker.io/v1/']);

describe('which secrets a pod gets', () => {
  test('images of containers, init containers and ephemeral containers', () => {
    const p = pod(['a'], undefined, { initContainers: [{ name: 'i', image: 'b' }], ephemeralContainers: [{ name: 'e', image: 'c' }] });
    assert.deepEqual(podImages(p).sort(), ['a', 'b', 'c']);
  });

  test('only sources whose registries cover one of its images, as the kubelet matches them', () => {
    assert.deepEqual(sourcesForPod(pod(['registry.corp.example/team/app:1']), [corp, hub]).map((s) => s.metadata!.name), ['corp']);
    assert.deepEqual(sourcesForPod(pod(['nginx']), [corp, hub]).map((s) => s.metadata!.name), ['hub']);
    assert.deepEqual(sourcesForPod(pod(['other.example/app']), [corp, hub]), []);
    assert.deepEqual(sourcesForPod(pod(['registry.corp.example/app'], ['corp']), [corp]), [], 'already there');
  });

  test('the patch keeps every existing entry', () => {
    assert.deepEqual(podPatch(pod(['x']), ['corp']), [{ op: 'add', path: '/spec/imagePullSecrets', value: [{ name: 'corp' }] }]);
    assert.deepEqual(podPatch(pod(['x'], ['mine']), ['corp', 'hub']), [
      { op: 'add', path: '/spec/imagePullSecrets/-', value: { name: 'corp' } },
      { op: 'add', path: '/spec/imagePullSecrets/-', value: { name: 'hub' } },
    ]);
    assert.deepEqual(podPatch(pod(['x']), []), []);
  });
});

describe('admit', () => {
  const context = (overrides: Partial<AdmissionContext> = {}) => {
    const copies: string[] = [];
    const ctx: AdmissionContext = {
      selectedNamespace: async (name) => ({ metadata: { name } }),
      sources: () => [corp],
      ensureCopy: async (s, namespace) => {
        copies.push(`${namespace}/${s.metadata!.name}`);
      },
      log: () => undefined,
      ...overrides,
    };
    return { ctx, copies };
  };
  const review = (p: V1Pod, extra: object = {}) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u-1', namespace: 'ns', operation: 'CREATE', object: p, ...extra },
  });
  const patchOf = (answer: object) => {
    const response = (answer as { response: { uid: string; allowed: boolean; patch?: string } }).response;
    assert.equal(response.uid, 'u-1');
    assert.equal(response.allowed, true, 'never refuses a pod');
    return response.patch ? JSON.parse(Buffer.from(response.patch, 'base64').toString()) : undefined;
  };

  test('adds the secret and makes sure the copy exists first', async () => {
    const { ctx, copies } = context();
    const patch = patchOf(await admit(review(pod(['registry.corp.example/app'])), ctx));
    assert.deepEqual(patch, [{ op: 'add', path: '/spec/imagePullSecrets', value: [{ name: 'corp' }] }]);
    assert.deepEqual(copies, ['ns/corp']);
  });

  test('a dry run gets the patch but creates nothing', async () => {
    const { ctx, copies } = context();
    assert.ok(patchOf(await admit(review(pod(['registry.corp.example/app']), { dryRun: true }), ctx)));
    assert.deepEqual(copies, []);
  });

  test('leaves alone: other operations, opted-out pods, unselected namespaces', async () => {
    const { ctx } = context();
    assert.equal(patchOf(await admit(review(pod(['registry.corp.example/app']), { operation: 'UPDATE' }), ctx)), undefined);
    const optedOut = pod(['registry.corp.example/app']);
    optedOut.metadata!.annotations = { 'kubectl-pullsecret/inject': 'false' };
    assert.equal(patchOf(await admit(review(optedOut), ctx)), undefined);
    const { ctx: unselected } = context({ selectedNamespace: async () => undefined });
    assert.equal(patchOf(await admit(review(pod(['registry.corp.example/app'])), unselected)), undefined);
  });

  test('a failure inside admits the pod unchanged', async () => {
    const { ctx } = context({
      ensureCopy: async () => {
        throw new Error('forbidden');
      },
    });
    assert.equal(patchOf(await admit(review(pod(['registry.corp.example/app'])), ctx)), undefined);
  });
});

describe('webhook configuration', () => {
  const options: WebhookOptions = {
    listenHost: '127.0.0.1',
    listenPort: 8443,
    service: { namespace: 'kps', name: 'kubectl-pullsecret', port: 443 },
    namespace: 'kps',
    excludedNamespaces: ['kps', 'ci'],
  };

  test('safe by default', () => {
    const webhook = webhookConfiguration(options, '-----BEGIN CERTIFICATE-----', 'all').webhooks![0]!;
    assert.equal(webhook.failurePolicy, 'Ignore');
    assert.equal(webhook.sideEffects, 'NoneOnDryRun');
    assert.equal(webhook.reinvocationPolicy, 'Never');
    assert.ok((webhook.timeoutSeconds ?? 30) <= 5);
    assert.deepEqual(webhook.rules, [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
    assert.deepEqual(webhook.namespaceSelector?.matchExpressions?.[0]?.values, ['ci', 'kps', 'kube-system']);
    assert.equal(webhook.objectSelector?.matchExpressions?.[0]?.key, 'kubectl-pullsecret/inject');
    assert.equal(webhook.clientConfig.service?.path, '/mutate');
  });

  test('serving names: the Service, or the URL host', () => {
    assert.ok(servingHosts(options).includes('kubectl-pullsecret.kps.svc'));
    assert.deepEqual(servingHosts({ ...options, url: 'https://127.0.0.1:9443/mutate' }), ['127.0.0.1']);
    const withUrl = webhookConfiguration({ ...options, url: 'https://127.0.0.1:9443/mutate' }, 'ca', 'all').webhooks![0]!;
    assert.equal(withUrl.clientConfig.url, 'https://127.0.0.1:9443/mutate');
  });
});

describe('certificates', () => {
  let ca: KeyAndCertificate;
  let serving: KeyAndCertificate;
  before(async () => {
    ca = await generateCa('test CA');
    serving = await issueServingCertificate(ca, ['svc.ns.svc', '127.0.0.1']);
  });

  test('the serving certificate chains to the CA and covers its names', () => {
    const cert = new X509Certificate(serving.cert);
    assert.ok(cert.verify(new X509Certificate(ca.cert).publicKey));
    assert.ok(cert.checkHost('svc.ns.svc'));
    assert.ok(cert.checkIP('127.0.0.1'));
    assert.equal(new X509Certificate(ca.cert).ca, true);
  });

  test('renewal: another CA, a missing name, or expiry within the window', async () => {
    assert.equal(needsRenewal(serving, ca, ['svc.ns.svc']), false);
    assert.equal(needsRenewal(serving, await generateCa('other'), ['svc.ns.svc']), true);
    assert.equal(needsRenewal(serving, ca, ['elsewhere.svc']), true);
    assert.equal(needsRenewal(await issueServingCertificate(ca, ['svc.ns.svc'], 10), ca, ['svc.ns.svc']), true);
    assert.equal(needsRenewal(undefined, ca, ['svc.ns.svc']), true);
  });
});
