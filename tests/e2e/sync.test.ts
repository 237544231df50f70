// sync on the real node: one source reaches a brand-new namespace and its pod runs; the race the
// seed describes (a pod created before its ServiceAccount was patched stays in ImagePullBackOff)
// happens for real and --restart-pending ends it; and with the admission webhook, a pod in a
// namespace a millisecond old runs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { admin, freePort, removeEverywhere, run, startPlugin, waitFor, type PluginProcess } from '../integration/harness';
import { addRegistryLogin, assertDoctorAgrees, createBarePod, createDeployment, deleteE2eNamespaces, e2eNamespace, podOutcome } from './node-harness';

const label = `kps-e2e-sync-${process.pid}`;

describe('sync on the node', () => {
  const source = `e2e-src-${process.pid}`;
  let home = '';
  before(async () => {
    home = await e2eNamespace('e2e-home');
    await addRegistryLogin(home, source, ['--no-attach']);
  });
  after(async () => {
    await removeEverywhere(source);
    await deleteE2eNamespaces();
  });

  test('sync --all: a pod in a brand-new namespace runs', async () => {
    const fresh = await e2eNamespace('e2e-fresh', { labels: { [label]: 'yes' } });
    const synced = await run(['sync', '--all', '-l', `${label}=yes`]);
    assert.equal(synced.code, 0, synced.stderr);
    await createDeployment(fresh, 'web');
    const outcome = await podOutcome(fresh, { app: 'web' });
    assert.equal(outcome.state, 'Running', outcome.message);
    await assertDoctorAgrees(fresh, outcome);
  });

  test('a pod created before the ServiceAccount was patched stays in ImagePullBackOff; --restart-pending replaces it', async () => {
    const late = await e2eNamespace('e2e-late', { labels: { [label]: 'late' } });
    await createDeployment(late, 'web');
    const stuck = await podOutcome(late, { app: 'web' });
    assert.notEqual(stuck.state, 'Running');
    await waitFor(`pod ${stuck.pod} in ImagePullBackOff`, async () => {
      const pod = await admin.core.readNamespacedPod({ name: stuck.pod, namespace: late });
      return pod.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff';
    });

    // The ServiceAccount now has the secret, but the pod's list was fixed at its creation.
    const synced = await run(['sync', source, '-n', home, '-l', `${label}=late`]);
    assert.equal(synced.code, 0, synced.stderr);
    assert.match(synced.stderr, new RegExp(`pod/${stuck.pod} .*--restart-pending`));
    const pod = await admin.core.readNamespacedPod({ name: stuck.pod, namespace: late });
    assert.equal(pod.spec?.imagePullSecrets, undefined, 'the running pod did not get the secret');
    const stillStuck = await podOutcome(late, { pod: stuck.pod });
    assert.notEqual(stillStuck.state, 'Running');
    await assertDoctorAgrees(late, stillStuck);

    const restarted = await run(['sync', source, '-n', home, '-l', `${label}=late`, '--restart-pending']);
    assert.equal(restarted.code, 0, restarted.stderr);
    const replaced = await podOutcome(late, { app: 'web', except: [stuck.pod] });
    assert.equal(replaced.state, 'Running', replaced.message);
    await assertDoctorAgrees(late, replaced);
  });

  describe('--watch --webhook, the controller on the host', () => {
    let controller: PluginProcess;
    before(async () => {
      const port = await freePort();
      // --service-accounts matches nothing: a pod that runs got its secret from the webhook.
      controller = startPlugin([
        'sync', source, '-n', home, '-l', `${label}=hook`, '--service-accounts', 'no-such-account', '--watch',
        '--webhook', '--webhook-listen', `127.0.0.1:${port}`, '--webhook-url', `https://127.0.0.1:${port}/mutate`, '--webhook-namespace', home,
      ]);
      await controller.waitForLine(/webhook serving on 127\.0\.0\.1:/, 30_000);
      await controller.waitForLine(/watching/, 30_000);
    });
    after(async () => {
      await controller?.stop();
    });

    test('a pod created in a namespace one millisecond old runs', async () => {
      const namespace = await e2eNamespace('e2e-hook', { labels: { [label]: 'hook' }, waitForDefault: false });
      await createBarePod(namespace, 'app');
      const pod = await admin.core.readNamespacedPod({ name: 'app', namespace });
      assert.deepEqual(pod.spec?.imagePullSecrets?.map((r) => r.name), [source]);
      const outcome = await podOutcome(namespace, { pod: 'app' });
      assert.equal(outcome.state, 'Running', outcome.message);
      await assertDoctorAgrees(namespace, outcome);
    });
  });
});
