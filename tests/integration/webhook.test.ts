// sync --watch --webhook against the real API server, which calls the webhook for real: it is
// registered with a `url` client config pointing at the plugin's HTTPS listener on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AdmissionregistrationV1Api, V1Pod } from '@kubernetes/client-node';
import { AdmissionregistrationV1Api as AdmissionApi, KubeConfig } from '@kubernetes/client-node';
import {
  admin,
  adminKubeconfig,
  createTestNamespace,
  deleteNamespaces,
  freePort,
  pullSecretNames,
  readSecret,
  run,
  startPlugin,
  waitFor,
  type PluginProcess,
} from './harness';

const kc = new KubeConfig();
kc.loadFromFile(adminKubeconfig);
const admission: AdmissionregistrationV1Api = kc.makeApiClient(AdmissionApi);

const label = `kps-webhook-${process.pid}`;
const name = `hookcred-${process.pid}`;
const created: string[] = [];
let home: string;
let controller: PluginProcess;
let port: number;

async function webhookConfigurationExists(): Promise<boolean> {
  return admission.readMutatingWebhookConfiguration({ name: 'kubectl-pullsecret' }).then(() => true, () => false);
}

/** Creates a pod as soon as the API server accepts it (a new namespace's default ServiceAccount comes a moment later). */
async function createPodSoon(namespace: string, pod: Partial<V1Pod['spec']> & { image: string; name?: string }, dryRun = false): Promise<V1Pod> {
  const { image, name: podName = 'app', ...spec } = pod;
  const body: V1Pod = { metadata: { name: podName }, spec: { containers: [{ name: 'app', image }], ...spec } };
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await admin.core.createNamespacedPod({ namespace, body, ...(dryRun ? { dryRun: 'All' } : {}) });
    } catch (error) {
      if (Date.now() > deadline || !/serviceaccount|service account/i.test(String((error as { body?: unknown }).body))) throw error;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function newNamespace(prefix: string, labels: Record<string, string> = { [label]: 'yes' }, wait = true): Promise<string> {
  const namespace = await createTestNamespace(prefix, { labels }, { waitForDefault: wait });
  created.push(namespace);
  return namespace;
}

function startController(): PluginProcess {
  // --service-accounts matches nothing: whatever reaches a pod here came through the webhook.
  return startPlugin([
    'sync', name, '-n', home, '-l', `${label}=yes`, '--service-accounts', 'no-such-account', '--watch',
    '--webhook', '--webhook-listen', `127.0.0.1:${port}`, '--webhook-url', `https://127.0.0.1:${port}/mutate`, '--webhook-namespace', home,
  ]);
}

describe('sync --watch --webhook', () => {
  before(async () => {
    home = await newNamespace('hook-home', {});
    const added = await run(['add', name, '-n', home, '--server', 'hook.registry.example', '--username', 'ci', '--password-stdin', '--no-attach'], { stdin: 'FAKE-hook-pw' });
    assert.equal(added.code, 0, added.stderr);
    port = await freePort();
    controller = startController();
    await controller.waitForLine(/webhook serving on 127\.0\.0\.1:/, 30_000);
    await controller.waitForLine(/watching/, 30_000);
  });

  after(async () => {
    await controller?.stop();
    await run(['remove', name, '-A']);
    await deleteNamespaces(created);
  });

  test('registers a safe webhook configuration with its own CA', async () => {
    const configuration = await admission.readMutatingWebhookConfiguration({ name: 'kubectl-pullsecret' });
    const webhook = configuration.webhooks![0]!;
    assert.equal(webhook.failurePolicy, 'Ignore');
    assert.equal(webhook.sideEffects, 'NoneOnDryRun');
    assert.equal(webhook.clientConfig.url, `https://127.0.0.1:${port}/mutate`);
    assert.ok(webhook.clientConfig.caBundle && webhook.clientConfig.caBundle.length > 100);
    const tls = await readSecret(home, 'kubectl-pullsecret-webhook-tls');
    assert.equal(tls?.type, 'kubernetes.io/tls');
    assert.equal(Buffer.from(tls!.data!['ca.crt']!, 'base64').toString('base64'), webhook.clientConfig.caBundle);
  });

  test('a pod created in a namespace created a moment earlier gets the secret, and the copy exists', async () => {
    const namespace = await newNamespace('hook-fresh', undefined, false);
    const pod = await createPodSoon(namespace, { image: 'hook.registry.example/team/app:1' });
    assert.deepEqual(pod.spec?.imagePullSecrets?.map((r) => r.name), [name]);
    assert.ok(await readSecret(namespace, name), 'the pod never references a secret that is not there');
    assert.deepEqual(await pullSecretNames(namespace, 'default'), [], 'the ServiceAccount was not involved');
  });

  test('a pod with its own imagePullSecrets keeps them and gains ours, once', async () => {
    const namespace = await newNamespace('hook-own');
    const pod = await createPodSoon(namespace, { image: 'hook.registry.example/app', imagePullSecrets: [{ name: 'mine' }, { name: 'theirs' }] });
    assert.deepEqual(pod.spec?.imagePullSecrets?.map((r) => r.name), ['mine', 'theirs', name]);
    const already = await createPodSoon(namespace, { name: 'again', image: 'hook.registry.example/app', imagePullSecrets: [{ name }] });
    assert.deepEqual(already.spec?.imagePullSecrets?.map((r) => r.name), [name]);
  });

  test('only when it helps: images from other registries, opted-out pods and unselected namespaces are untouched', async () => {
    const namespace = await newNamespace('hook-only');
    const other = await createPodSoon(namespace, { name: 'other', image: 'other.registry.example/app' });
    assert.equal(other.spec?.imagePullSecrets, undefined);
    const optedOut = await admin.core.createNamespacedPod({
      namespace,
      body: { metadata: { name: 'opted-out', labels: { 'kubectl-pullsecret/inject': 'false' } }, spec: { containers: [{ name: 'a', image: 'hook.registry.example/app' }] } },
    });
    assert.equal(optedOut.spec?.imagePullSecrets, undefined);
    const excluded = await newNamespace('hook-excluded', { [label]: 'no' });
    const pod = await createPodSoon(excluded, { image: 'hook.registry.example/app' });
    assert.equal(pod.spec?.imagePullSecrets, undefined);
    assert.equal(await readSecret(excluded, name), undefined);
  });

  test('a server-side dry run creates nothing', async () => {
    const namespace = await newNamespace('hook-dry', undefined, false);
    const pod = await createPodSoon(namespace, { image: 'hook.registry.example/app' }, true);
    assert.deepEqual(pod.spec?.imagePullSecrets?.map((r) => r.name), [name], 'the answer shows what would happen');
    // The controller's own watch may still copy the secret into the namespace; what must not exist is the pod.
    await assert.rejects(admin.core.readNamespacedPod({ name: 'app', namespace }));
  });

  test('with the webhook stopped, pods are still created and sync still patches ServiceAccounts', async () => {
    await controller.stop();
    const namespace = await newNamespace('hook-down');
    const started = Date.now();
    const pod = await createPodSoon(namespace, { image: 'hook.registry.example/app' });
    assert.ok(pod.metadata?.uid, 'failurePolicy Ignore: the pod was admitted');
    assert.ok(Date.now() - started < 10_000);
    const synced = await run(['sync', name, '-n', home, '--namespaces', namespace]);
    assert.equal(synced.code, 0, synced.stderr);
    assert.deepEqual(await pullSecretNames(namespace, 'default'), [name]);
    controller = startController();
    await controller.waitForLine(/watching/, 30_000);
  });

  test('remove NAME -A removes the webhook configuration with everything else', async () => {
    await controller.stop();
    assert.ok(await webhookConfigurationExists());
    const removed = await run(['remove', name, '-A']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /mutatingwebhookconfiguration\/kubectl-pullsecret deleted/);
    await waitFor('the webhook configuration to go', async () => !(await webhookConfigurationExists()), 5_000);
  });
});
