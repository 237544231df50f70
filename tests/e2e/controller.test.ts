// The controller in the cluster, on the real node: its image built here and pushed to the
// cluster's registry, the printed manifests applied (Pod Security restricted, no warning), two
// replicas Running, the API server calling their webhook through the Service, and a pod in a
// namespace created a moment earlier Running. Then the leader pod is deleted: the other replica
// takes over (the gap is measured), a namespace created during the gap gets its secret, and pods
// created while one replica is gone are still mutated. Also --service-accounts none on the node:
// the pod runs with the secret from the webhook alone, and doctor says so for its Deployment.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { admin, freePort, readServiceAccount, removeEverywhere, run, startPlugin, waitFor, type PluginProcess } from '../integration/harness';
import {
  CONTROLLER,
  controllerPods,
  deployController,
  leaseHolder,
  pushControllerImageToCluster,
  sample,
  scrape,
  undeployController,
  waitForReadyReplicas,
} from './controller-deploy';
import { addRegistryLogin, createBarePod, createDeployment, deleteE2eNamespaces, e2eNamespace, podOutcome } from './node-harness';

const label = `kps-e2e-controller-${process.pid}`;
const source = `e2e-ctl-${process.pid}`;

describe('the controller in the cluster, highly available', () => {
  let home = '';
  let image = '';
  let manifests = '';

  before(async () => {
    home = await e2eNamespace('e2e-ctl-home');
    await addRegistryLogin(home, source, ['--no-attach']);
    const started = Date.now();
    image = await pushControllerImageToCluster();
    console.log(`# controller image built and pushed in ${((Date.now() - started) / 1000).toFixed(1)} s: ${image}`);
  });
  after(async () => {
    if (manifests) await undeployController(manifests);
    await removeEverywhere(source);
    await deleteE2eNamespaces();
  });

  test('the printed manifests apply to a namespace enforcing Pod Security restricted without a warning; 2 replicas Running, one leader', async () => {
    const deployed = await deployController(['sync', source, '-n', home, '-l', `${label}=yes`, '--webhook'], image);
    manifests = deployed.manifests;
    assert.doesNotMatch(deployed.applyStderr, /warning|violate/i, deployed.applyStderr);
    const namespace = await admin.core.readNamespace({ name: CONTROLLER });
    assert.equal(namespace.metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
    const started = Date.now();
    await waitForReadyReplicas(2);
    console.log(`# 2 replicas ready ${((Date.now() - started) / 1000).toFixed(1)} s after kubectl apply`);
    const pods = await controllerPods();
    assert.equal(pods.length, 2);
    await waitFor('a Lease holder', async () => (await leaseHolder()) !== '', 30_000);
    assert.ok(pods.map((p) => p.name).includes(await leaseHolder()), `the Lease is held by one of ${pods.map((p) => p.name).join(', ')}`);
  });

  test('a pod in a namespace created a moment earlier runs: the API server called the webhook through the Service', async () => {
    const fresh = await e2eNamespace('e2e-ctl-fresh', { waitForDefault: false, labels: { [label]: 'yes' } });
    const started = Date.now();
    await createBarePod(fresh, 'app');
    const pod = await admin.core.readNamespacedPod({ name: 'app', namespace: fresh });
    assert.deepEqual(pod.spec?.imagePullSecrets?.map((r) => r.name), [source], 'the webhook added the secret at admission');
    const outcome = await podOutcome(fresh, { pod: 'app' });
    assert.equal(outcome.state, 'Running', outcome.message);
    console.log(`# pod in a brand-new namespace Running ${((Date.now() - started) / 1000).toFixed(1)} s after its namespace was created`);
    // Both replicas serve /metrics; exactly one leads; the API server called the webhook through
    // the Service (the pod may already have had the secret from its ServiceAccount, patched in
    // the meantime: then the answer is "unchanged").
    const texts = await Promise.all((await controllerPods()).map((p) => scrape(p.ip)));
    assert.equal(texts.reduce((sum, text) => sum + sample(text, 'kubectl_pullsecret_leader'), 0), 1);
    const calls = texts.reduce((sum, text) => sum + sample(text, 'kubectl_pullsecret_webhook_requests_total'), 0);
    assert.ok(calls >= 1, `webhook requests answered: ${calls}`);
    for (const family of ['kubectl_pullsecret_writes_total', 'kubectl_pullsecret_certificate_expiry_timestamp_seconds', 'kubectl_pullsecret_process_resident_memory_bytes']) {
      assert.ok(texts.every((text) => text.includes(`# TYPE ${family} `)), `${family} missing`);
    }
    assert.ok(texts.every((text) => sample(text, 'kubectl_pullsecret_certificate_expiry_timestamp_seconds') > Date.now() / 1000));
    // What the leader did is told as Events.
    await waitFor('an Event from kubectl-pullsecret in the new namespace', async () => {
      const events = await run(['get', 'events.v1.events.k8s.io', '-n', fresh, '-o', 'json'], { command: 'kubectl' });
      return (JSON.parse(events.stdout || '{"items":[]}') as { items: { reportingController?: string }[] }).items.some((e) => e.reportingController === CONTROLLER);
    }, 15_000);
  });

  test('the leader pod is deleted: the other replica takes over, and nothing is lost meanwhile', async () => {
    const leader = await leaseHolder();
    const other = (await controllerPods()).find((p) => p.name !== leader)!;
    assert.ok(other, 'a second replica');
    const deleted = Date.now();
    await admin.core.deleteNamespacedPod({ name: leader, namespace: CONTROLLER });
    // During the gap: a namespace (its copy and attachment come from whoever leads next) and a
    // pod (mutated by the replica that is still serving).
    const during = await e2eNamespace('e2e-ctl-gap', { waitForDefault: false, labels: { [label]: 'yes' } });
    await createBarePod(during, 'app');
    let holder = '';
    await waitFor('a new Lease holder', async () => {
      holder = await leaseHolder();
      return holder !== '' && holder !== leader;
    }, 30_000);
    const takeover = Date.now() - deleted;
    console.log(`# leader ${leader} deleted: ${holder} leads ${(takeover / 1000).toFixed(1)} s later`);
    assert.ok(takeover < 20_000, `takeover took ${takeover} ms`);
    const pod = await admin.core.readNamespacedPod({ name: 'app', namespace: during });
    assert.deepEqual(pod.spec?.imagePullSecrets?.map((r) => r.name), [source], 'a pod created while the leader was going was mutated');
    assert.equal((await podOutcome(during, { pod: 'app' })).state, 'Running');
    await waitFor('the namespace created during the gap has its copy, attached', async () => {
      const sa = await readServiceAccount(during, 'default');
      const secret = await admin.core.readNamespacedSecret({ name: source, namespace: during }).catch(() => undefined);
      return secret !== undefined && (sa?.imagePullSecrets ?? []).some((r) => r.name === source);
    }, 30_000);
    // The Deployment replaces the pod: two ready replicas again.
    await waitForReadyReplicas(2);
  });
});

describe('--service-accounts none on the node: the secret reaches pods through the webhook alone', () => {
  let controller: PluginProcess | undefined;
  const name = `e2e-none-${process.pid}`;
  after(async () => {
    await controller?.stop();
    await removeEverywhere(name);
    await deleteE2eNamespaces();
  });

  test('a Deployment in a new namespace runs without its ServiceAccount being written; doctor says the webhook covers it', async () => {
    const home = await e2eNamespace('e2e-none-home');
    await addRegistryLogin(home, name, ['--no-attach']);
    const port = await freePort();
    controller = startPlugin([
      'sync', name, '-n', home, '-l', `${label}=none`, '--service-accounts', 'none', '--watch',
      '--webhook', '--webhook-listen', `127.0.0.1:${port}`, '--webhook-url', `https://127.0.0.1:${port}/mutate`, '--webhook-namespace', home,
    ]);
    await controller.waitForLine(/watching namespaces/, 30_000);
    const target = await e2eNamespace('e2e-none-app', { labels: { [label]: 'none' } });
    const before = JSON.stringify(await readServiceAccount(target, 'default'));
    // The copy is made (by the controller, or at admission by the webhook); no attachment.
    await waitFor('the copy', () => admin.core.readNamespacedSecret({ name, namespace: target }).then(() => true, () => false), 15_000);
    await createDeployment(target, 'web');
    const outcome = await podOutcome(target, { app: 'web' });
    assert.equal(outcome.state, 'Running', outcome.message);
    assert.equal(JSON.stringify(await readServiceAccount(target, 'default')), before, 'the ServiceAccount was written');
    const report = await run(['doctor', 'deployment/web', '-n', target, '-o', 'json']);
    assert.equal(report.code, 0, report.stderr);
    // The template: its new pods get the secret at admission; the pod it made: it has it.
    const items = (JSON.parse(report.stdout) as { items: { object: string; images: { verdict: string }[] }[] }).items;
    const verdicts = Object.fromEntries(items.map((item) => [item.object.split('/')[0], item.images.map((i) => i.verdict)]));
    assert.deepEqual(verdicts, { deployment: ['injected'], pod: ['covered'] }, JSON.stringify(items));
  });
});
