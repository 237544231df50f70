// `kubectl pullsecret doctor` against the real local control plane. There is no kubelet: pull
// failures are reported through the pods/status subresource, as a kubelet would. Every `fix:`
// that a test relies on is then run as printed, and doctor must find the image covered after it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Diagnosis } from '../../lib/doctor';
import {
  admin,
  adminWorkloads,
  assertOneLineError,
  createDockerConfigSecret,
  createPod,
  createServiceAccount,
  run,
  runShell,
  setPullFailure,
  withNamespace,
  waitFor,
  type RunResult,
} from './harness';

const PASSWORD = 'FAKE-doctor-password';
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const REGISTRY = 'registry.example:5000';

interface Report {
  items: Diagnosis[];
  summary: { images: number; covered: number };
}

function assertClean(result: RunResult) {
  for (const secret of [PASSWORD, b64(`ci:${PASSWORD}`)]) {
    assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), 'a credential was printed');
  }
}

async function doctorJson(args: string[]): Promise<{ result: RunResult; report: Report }> {
  const result = await run(['doctor', ...args, '-o', 'json']);
  assertClean(result);
  assert.ok([0, 1].includes(result.code), `doctor failed (exit ${result.code}):\n${result.stderr}`);
  return { result, report: JSON.parse(result.stdout) as Report };
}

function imageOf(report: Report, object: string, container = 'app') {
  const diagnosis = report.items.find((d) => d.object === object);
  assert.ok(diagnosis, `${object} is not in the report: ${report.items.map((d) => d.object).join(', ')}`);
  const image = diagnosis.images.find((i) => i.container === container);
  assert.ok(image, `${object} has no diagnosis for container ${container}`);
  return image;
}

/** `add NAME` with a login for REGISTRY (or `server`), as the plugin's own users would. */
async function addLogin(namespace: string, name: string, extra: string[] = [], server = REGISTRY) {
  const result = await run(['add', name, '-n', namespace, '--server', server, '--username', 'ci', '--password-stdin', ...extra], { stdin: PASSWORD });
  assert.equal(result.code, 0, result.stderr);
}

/** Runs a printed fix, with the user name filled in and the password on stdin. */
async function applyFix(fix: string | undefined) {
  assert.ok(fix, 'no fix was printed');
  const result = await runShell(fix.replace(/--username USER/g, '--username ci'), { stdin: PASSWORD });
  assert.equal(result.code, 0, `fix failed: ${fix}\n${result.stdout}${result.stderr}`);
}

describe('doctor without an argument: the pods that cannot pull', () => {
  test('lists only failing pods, each with a verdict and a fix that works', () =>
    withNamespace('doctor-failing', async (namespace) => {
      // Created before the ServiceAccount had any pull secret: it will never get one by itself.
      await createPod(namespace, 'early', { image: `${REGISTRY}/shop/web:1` });
      await addLogin(namespace, 'regcred');
      await createPod(namespace, 'proxy', { image: 'ghcr.io/acme/proxy:3' });
      await createPod(namespace, 'orphan', { image: `${REGISTRY}/shop/api:2`, imagePullSecrets: ['gone'] });
      await createPod(namespace, 'fine', { image: `${REGISTRY}/shop/web:1` });
      await createPod(namespace, 'pulling', { image: 'ghcr.io/acme/other:1' });
      await setPullFailure(namespace, 'early', ['app']);
      await setPullFailure(namespace, 'proxy', ['app'], 'ErrImagePull');
      await setPullFailure(namespace, 'orphan', ['app']);
      await setPullFailure(namespace, 'pulling', ['app'], 'ContainerCreating');

      const text = await run(['doctor', '-n', namespace]);
      assertClean(text);
      assert.equal(text.code, 1);
      assertOneLineError(text.stderr, /^error: 3 of 3 images checked are not covered by a pull secret$/);
      assert.match(text.stdout, new RegExp(`^pod/early \\(namespace ${namespace}, ServiceAccount default\\)$`, 'm'));
      assert.match(text.stdout, /^ {2}container app: ghcr.io\/acme\/proxy:3 \(ErrImagePull: Back-off pulling image/m);
      assert.doesNotMatch(text.stdout, /pod\/fine|pod\/pulling/);
      assert.match(text.stdout, /\nsummary: 3 images checked, 0 covered, 3 not covered\n$/);

      const { report } = await doctorJson(['-n', namespace]);
      assert.deepEqual(report.items.map((d) => d.object), ['pod/early', 'pod/orphan', 'pod/proxy']);
      const early = imageOf(report, 'pod/early');
      assert.equal(early.verdict, 'stale');
      assert.equal(early.fix, `kubectl get pod early -n ${namespace} -o yaml | kubectl replace --force -f -`);
      const proxy = imageOf(report, 'pod/proxy');
      assert.equal(proxy.verdict, 'no-match');
      assert.equal(proxy.fix, `kubectl pullsecret add regcred -n ${namespace} --server ghcr.io --username USER --password-stdin --no-attach`);
      const orphan = imageOf(report, 'pod/orphan');
      assert.equal(orphan.verdict, 'dangling');
      assert.equal(orphan.fix, `kubectl pullsecret add gone -n ${namespace} --from-secret ${namespace}/regcred --no-attach`);

      for (const image of [early, proxy, orphan]) await applyFix(image.fix);
      // The re-created pod has no status yet, so it is checked by name; the others keep failing
      // until a kubelet retries, but their credentials are now there.
      for (const pod of ['early', 'proxy', 'orphan']) {
        const after = await run(['doctor', pod, '-n', namespace]);
        assert.equal(after.code, 0, `${pod} after its fix:\n${after.stdout}${after.stderr}`);
        assert.match(after.stdout, new RegExp(`^ {4}covered by ${namespace}/(regcred|gone) `, 'm'));
      }
      const early2 = await admin.core.readNamespacedPod({ name: 'early', namespace });
      assert.deepEqual(early2.spec?.imagePullSecrets?.map((ref) => ref.name), ['regcred']);
    }));

  test('-A finds failing pods in every namespace; an empty namespace is healthy', () =>
    withNamespace('doctor-all-a', (first) =>
      withNamespace('doctor-all-b', async (second) => {
        for (const namespace of [first, second]) {
          await createPod(namespace, 'stuck', { image: 'quay.io/team/app:1' });
          await setPullFailure(namespace, 'stuck', ['app']);
        }
        const { result, report } = await doctorJson(['-A']);
        assert.equal(result.code, 1);
        for (const namespace of [first, second]) {
          const diagnosis = report.items.find((d) => d.namespace === namespace && d.object === 'pod/stuck');
          assert.equal(diagnosis?.images[0]?.verdict, 'public-or-node');
          assert.equal(
            diagnosis?.images[0]?.fix,
            `kubectl pullsecret add quay.io -n ${namespace} --server quay.io --username USER --password-stdin --service-account default && kubectl get pod stuck -n ${namespace} -o yaml | kubectl replace --force -f -`,
          );
        }
        await admin.core.deleteNamespacedPod({ name: 'stuck', namespace: second });
        const healthy = await run(['doctor', '-n', second]);
        assert.equal(healthy.code, 0, healthy.stderr);
        assert.equal(healthy.stdout, '');
        assert.equal(healthy.stderr, `No pods in ImagePullBackOff or ErrImagePull in ${second} namespace.\n`);
      })));
});

describe('doctor POD and doctor KIND/NAME', () => {
  test('a covered pod exits 0; init containers and short-lived registries are reported', () =>
    withNamespace('doctor-pod', async (namespace) => {
      const ecr = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
      await createDockerConfigSecret(namespace, 'ecr', { auths: { [ecr]: { username: 'AWS', password: PASSWORD } } });
      await addLogin(namespace, 'regcred');
      await admin.core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name: 'mixed' },
          spec: {
            imagePullSecrets: [{ name: 'regcred' }, { name: 'ecr' }],
            initContainers: [{ name: 'init', image: `${ecr}/init:1` }],
            containers: [{ name: 'app', image: `${REGISTRY}/shop/app:1` }],
          },
        },
      });
      const { result, report } = await doctorJson(['mixed', '-n', namespace]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(report.summary, { images: 2, covered: 2 });
      const init = imageOf(report, 'pod/mixed', 'init');
      assert.equal(init.containerType, 'init');
      assert.equal(init.message, `covered by ${namespace}/ecr (${ecr})`);
      assert.ok(init.hints.some((h) => /AWS ECR passwords are tokens that expire/.test(h)));
      assert.equal(imageOf(report, 'pod/mixed').message, `covered by ${namespace}/regcred (${REGISTRY})`);

      // --image asks about another image with the same pull secrets.
      const other = await run(['doctor', 'pod/mixed', '-n', namespace, '--image', 'ghcr.io/x/y:1']);
      assert.equal(other.code, 1);
      assert.match(other.stdout, /^ {2}image: ghcr.io\/x\/y:1\n {4}no-match: no entry matches ghcr.io/m);
      // Without a target, --image asks about a new pod running as the default ServiceAccount.
      const fresh = await run(['doctor', '-n', namespace, '--image', `${REGISTRY}/shop/new:1`]);
      assert.equal(fresh.code, 0, fresh.stdout + fresh.stderr);
      assert.match(fresh.stdout, /^serviceaccount\/default /m);
    }));

  test('a Deployment whose template shadows the ServiceAccount, and its existing pod', () =>
    withNamespace('doctor-deploy', async (namespace) => {
      await addLogin(namespace, 'regcred');
      await addLogin(namespace, 'other', ['--no-attach'], 'other.example');
      const labels = { app: 'web' };
      const template = {
        metadata: { labels },
        spec: { imagePullSecrets: [{ name: 'other' }], containers: [{ name: 'app', image: `${REGISTRY}/shop/web:1` }] },
      };
      await adminWorkloads.apps.createNamespacedDeployment({
        namespace,
        body: { metadata: { name: 'web' }, spec: { selector: { matchLabels: labels }, template } },
      });
      // The Deployment and ReplicaSet controllers make its pod (Pending: this namespace's pods
      // are never scheduled).
      let podName = '';
      await waitFor('the Deployment\'s pod', async () => {
        const pods = await admin.core.listNamespacedPod({ namespace, labelSelector: 'app=web' });
        const owned = pods.items.filter((pod) => pod.metadata?.ownerReferences?.some((o) => o.kind === 'ReplicaSet'));
        podName = owned[0]?.metadata?.name ?? '';
        return owned.length === 1;
      });
      // A pod with the same labels that the Deployment does not own is not its business.
      await createPod(namespace, 'impostor', { image: 'ghcr.io/x/y' });
      await admin.core.patchNamespacedPod(
        { name: 'impostor', namespace, body: { metadata: { labels } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );

      const { result, report } = await doctorJson(['deployment/web', '-n', namespace]);
      assert.equal(result.code, 1);
      assert.deepEqual(report.items.map((d) => d.object), ['deployment/web', `pod/${podName}`]);
      const [templateImage, podImage] = [imageOf(report, 'deployment/web'), imageOf(report, `pod/${podName}`)];
      assert.equal(report.items[0]!.pullSecretsFrom, 'template');
      assert.equal(templateImage.verdict, 'shadowed');
      assert.equal(podImage.verdict, 'shadowed');
      const patch = `kubectl patch deployment/web -n ${namespace} --type=json -p '[{"op":"add","path":"/spec/template/spec/imagePullSecrets/-","value":{"name":"regcred"}}]'`;
      assert.equal(templateImage.fix, patch);
      assert.equal(podImage.fix, patch);

      await applyFix(templateImage.fix);
      const fixed = await run(['doctor', 'deploy/web', '-n', namespace, '-o', 'json']);
      const after = JSON.parse(fixed.stdout) as Report;
      assert.equal(imageOf(after, 'deployment/web').verdict, 'covered');
      // The existing pod keeps its list until the Deployment controller replaces it.
      assert.equal(imageOf(after, `pod/${podName}`).verdict, 'shadowed');
    }));

  test('a CronJob template that uses its ServiceAccount', () =>
    withNamespace('doctor-cronjob', async (namespace) => {
      await createServiceAccount(namespace, 'batch');
      await createDockerConfigSecret(namespace, 'regcred', { auths: { [REGISTRY]: { auth: b64(`ci:${PASSWORD}`) } } });
      await adminWorkloads.batch.createNamespacedCronJob({
        namespace,
        body: {
          metadata: { name: 'nightly' },
          spec: {
            schedule: '0 3 * * *',
            jobTemplate: { spec: { template: { spec: { serviceAccountName: 'batch', restartPolicy: 'Never', containers: [{ name: 'app', image: `${REGISTRY}/jobs/nightly:1` }] } } } },
          },
        },
      });
      const before = await doctorJson(['cronjob/nightly', '-n', namespace]);
      assert.equal(before.result.code, 1);
      const image = imageOf(before.report, 'cronjob/nightly');
      assert.equal(image.verdict, 'public-or-node');
      assert.ok(image.hints.includes(`${namespace}/regcred has an entry for ${REGISTRY} (${REGISTRY}), but new pods do not reference it`), image.hints.join('\n'));
      assert.equal(image.fix, `kubectl patch serviceaccount batch -n ${namespace} -p '{"imagePullSecrets":[{"name":"regcred"}]}'`);
      await applyFix(image.fix);
      const after = await doctorJson(['cj/nightly', '-n', namespace]);
      assert.equal(after.result.code, 0);
      assert.equal(after.report.items[0]!.pullSecretsFrom, 'serviceaccount');
    }));

  test('errors: unknown pod, other kinds, a name with -A', () =>
    withNamespace('doctor-errors', async (namespace) => {
      const missing = await run(['doctor', 'nope', '-n', namespace]);
      assert.equal(missing.code, 1);
      assertOneLineError(missing.stderr, new RegExp(`^error: pods "nope" not found in namespace "${namespace}"$`));
      const workload = await run(['doctor', 'statefulset/nope', '-n', namespace]);
      assert.equal(workload.code, 1);
      assertOneLineError(workload.stderr, /statefulsets "nope" not found/);
      const kind = await run(['doctor', 'service/web', '-n', namespace]);
      assert.equal(kind.code, 2);
      assertOneLineError(kind.stderr, /not "service"/);
      const everywhere = await run(['doctor', 'web', '-A']);
      assert.equal(everywhere.code, 2);
      assertOneLineError(everywhere.stderr, /cannot be named across all namespaces/);
      const badImage = await run(['doctor', '-n', namespace, '--image', 'registry.example/Mixed-Case']);
      assert.equal(badImage.code, 2);
      assertOneLineError(badImage.stderr, /invalid image/);
    }));
});
