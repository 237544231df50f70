// Pods on the local cluster's real node pulling from its password-protected registry: after
// `add` the pod runs, without it the registry refuses, and doctor's verdict is held to what the
// kubelet did for every pod here.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { admin, clusterDir, run } from '../integration/harness';
import {
  addRegistryLogin,
  assertDoctorAgrees,
  createBarePod,
  createDeployment,
  deleteE2eNamespaces,
  doctorSaysCovered,
  dockerConfigFor,
  e2eNamespace,
  podOutcome,
  registry,
  type PullOutcome,
} from './node-harness';

// containerd 2 words a refused anonymous pull this way (1.x said "401 Unauthorized").
const REFUSED_ANONYMOUS = /no basic auth credentials/;
const REFUSED_LOGIN = /401 Unauthorized/;

function pullEvents(outcome: PullOutcome): string {
  return [outcome.message, ...outcome.events].join('\n');
}

async function createSecret(namespace: string, name: string, dockerConfigJson: string): Promise<void> {
  await admin.core.createNamespacedSecret({
    namespace,
    body: { metadata: { name }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.from(dockerConfigJson).toString('base64') } },
  });
}

describe('pulls on the node from the private registry', () => {
  after(deleteE2eNamespaces);

  test('the node is Ready, and how long it took', async (t) => {
    const node = await admin.core.readNode({ name: 'localhost' });
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'True');
    assert.ok(!node.spec?.taints?.some((taint) => taint.key.startsWith('node.kubernetes.io/')), 'the not-ready taint is gone');
    const seconds = Number(readFileSync(path.join(clusterDir, 'node', 'ready.seconds'), 'utf8'));
    t.diagnostic(`node Ready ${seconds}s after the control plane (bar: 60 s)`);
    assert.ok(seconds <= 60, `node Ready after ${seconds}s`);
  });

  test('after add, a Deployment\'s pod runs; without it, the registry refuses', async (t) => {
    const without = await e2eNamespace('e2e-nosecret');
    await createDeployment(without, 'web');
    const refused = await podOutcome(without, { app: 'web' });
    assert.match(refused.state, /ErrImagePull|ImagePullBackOff/);
    assert.match(pullEvents(refused), REFUSED_ANONYMOUS);
    await assertDoctorAgrees(without, refused);

    const namespace = await e2eNamespace('e2e-add');
    await addRegistryLogin(namespace);
    // Wall time from the Deployment's create request to seeing its pod Running (polled every
    // 100 ms): controllers, scheduler, sandbox, the credentialed pull and the container start.
    const created = performance.now();
    await createDeployment(namespace, 'web');
    const ran = await podOutcome(namespace, { app: 'web' });
    const seconds = (performance.now() - created) / 1000;
    assert.equal(ran.state, 'Running', ran.message);
    t.diagnostic(`private pull to Running ${seconds.toFixed(1)}s after the Deployment was created (bar: 20 s)`);
    assert.ok(seconds < 20, `Running after ${seconds.toFixed(1)}s`);
    await assertDoctorAgrees(namespace, ran);

    // remove is the undo: a pod created afterwards is refused again.
    const removed = await run(['remove', 'regcred', '-n', namespace]);
    assert.equal(removed.code, 0, removed.stderr);
    await admin.core.deleteCollectionNamespacedPod({ namespace, labelSelector: 'app=web' });
    const again = await podOutcome(namespace, { app: 'web', except: [ran.pod] });
    assert.match(again.state, /ErrImagePull|ImagePullBackOff/);
    assert.match(pullEvents(again), REFUSED_ANONYMOUS);
    await assertDoctorAgrees(namespace, again);
  });

  test('a wrong password fails with 401 Unauthorized, and doctor --verify says so', async () => {
    const namespace = await e2eNamespace('e2e-wrongpw');
    await createSecret(namespace, 'wrong', dockerConfigFor(registry.username, 'FAKE-not-the-password'));
    await createBarePod(namespace, 'app', { imagePullSecrets: ['wrong'] });
    const refused = await podOutcome(namespace, { pod: 'app' });
    assert.match(refused.state, /ErrImagePull|ImagePullBackOff/);
    assert.match(pullEvents(refused), REFUSED_LOGIN);
    await assertDoctorAgrees(namespace, refused);
  });

  describe('secrets the kubelet reads its own way (Go JSON, its keyring)', () => {
    let namespace = '';
    before(async () => {
      namespace = await e2eNamespace('e2e-odd');
      await addRegistryLogin(namespace, 'regcred', ['--no-attach']);
      // An auth that decodes, but to no user:password: the kubelet cannot build its keyring.
      await createSecret(namespace, 'broken', JSON.stringify({ auths: { [registry.address]: { auth: Buffer.from('no-colon-here').toString('base64') } } }));
      // Go's encoding/json matches field names case-insensitively.
      await createSecret(namespace, 'capitals', JSON.stringify({ Auths: { [registry.address]: { Username: registry.username, Password: registry.password } } }));
      // The login's base64 needs padding (the cluster's password length sees to it); left off here.
      const unpadded = dockerConfigFor(registry.username, registry.password, { pad: false });
      assert.doesNotMatch(unpadded, /=="/, 'the unpadded auth has no padding');
      await createSecret(namespace, 'unpadded', unpadded);
    });

    for (const [pod, secrets, runs] of [
      ['good-then-broken', ['regcred', 'broken'], false],
      ['broken-then-good', ['broken', 'regcred'], false],
      ['capitals', ['capitals'], true],
      ['unpadded', ['unpadded'], true],
    ] as const) {
      test(`${pod}: ${runs ? 'runs' : 'fails'}, and doctor says so`, async () => {
        await createBarePod(namespace, pod, { imagePullSecrets: [...secrets] });
        const outcome = await podOutcome(namespace, { pod });
        if (runs) {
          assert.equal(outcome.state, 'Running', pullEvents(outcome));
        } else {
          assert.notEqual(outcome.state, 'Running');
          assert.match(pullEvents(outcome), /unable to parse auth field, must be formatted as base64\(username:password\)/);
        }
        await assertDoctorAgrees(namespace, outcome);
      });
    }
  });

  test('an image on the node does not stand in for credentials (KubeletEnsureSecretPulledImages)', async () => {
    const namespace = await e2eNamespace('e2e-cached');
    await addRegistryLogin(namespace, 'regcred', ['--no-attach']);
    // Pulled with the secret: now the image is on the node.
    await createBarePod(namespace, 'first', { imagePullSecrets: ['regcred'] });
    const first = await podOutcome(namespace, { pod: 'first' });
    assert.equal(first.state, 'Running', pullEvents(first));

    // Without credentials, IfNotPresent: the kubelet checks that this pod may use the image.
    await createBarePod(namespace, 'anonymous', { imagePullPolicy: 'IfNotPresent' });
    const anonymous = await podOutcome(namespace, { pod: 'anonymous' });
    assert.match(anonymous.state, /ErrImagePull|ImagePullBackOff/);
    await assertDoctorAgrees(namespace, anonymous);
    const doctor = await doctorSaysCovered(namespace, 'anonymous');
    assert.match(doctor.messages.join('\n'), /1\.35\+ kubelets .*already on the node.*stand in for credentials.*this cluster runs v1\.36/);

    // With credentials that work, the cached image is used, and the kubelet says so.
    await createBarePod(namespace, 'again', { imagePullSecrets: ['regcred'], imagePullPolicy: 'IfNotPresent' });
    const again = await podOutcome(namespace, { pod: 'again' });
    assert.equal(again.state, 'Running', pullEvents(again));
    assert.match(pullEvents(again), /already present on machine and can be accessed by the pod/);
    await assertDoctorAgrees(namespace, again);
  });
});
