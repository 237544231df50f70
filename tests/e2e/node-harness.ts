// Helpers for the end-to-end tests on the local cluster's node: the private registry that
// `cluster.sh up` starts, namespaces whose pods are scheduled and run, Deployments, and what the
// kubelet did with a pod (Running, or the pull error and its event). Everything else comes from
// the integration harness.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AppsV1Api, KubeConfig, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { admin, adminKubeconfig, clusterDir, rememberSecret, run, waitFor } from '../integration/harness';

/** The password-protected registry of the local cluster, as `cluster.sh up` wrote it down. */
export const registry = (() => {
  const dir = path.join(clusterDir, 'registry');
  let address: string;
  try {
    address = readFileSync(path.join(dir, 'address'), 'utf8').trim();
  } catch {
    throw new Error(`the local cluster at ${clusterDir} has no node and registry: start it with "npm run cluster -- up" (without KPS_CLUSTER_NODE=none)`);
  }
  const password = readFileSync(path.join(dir, 'password'), 'utf8');
  rememberSecret(password, ['puller']);
  return {
    address,
    username: 'puller',
    password,
    /** The registry user's login, in the format `docker login` writes. */
    dockerConfig: path.join(dir, 'config.json'),
    /** The cluster CA, which the registry's certificate is signed by. */
    caFile: path.join(clusterDir, 'pki', 'ca.crt'),
    /** The test image (busybox, `sleep 3600`), pushed by `cluster.sh up`. */
    image: `${address}/busybox:1`,
  };
})();

const kc = new KubeConfig();
kc.loadFromFile(adminKubeconfig);
export const apps = kc.makeApiClient(AppsV1Api);

let counter = 0;
const created: string[] = [];

/**
 * A namespace whose pods are scheduled onto the node (unlike the integration tests' namespaces),
 * once its default ServiceAccount exists unless told not to wait. Deleted by deleteE2eNamespaces.
 */
export async function e2eNamespace(prefix: string, options: { waitForDefault?: boolean; labels?: Record<string, string> } = {}): Promise<string> {
  const name = `${prefix}-${process.pid}-${++counter}`.toLowerCase().slice(0, 63);
  await admin.core.createNamespace({ body: { metadata: { name, ...(options.labels ? { labels: options.labels } : {}) } } });
  created.push(name);
  if (options.waitForDefault !== false) {
    await waitFor(`ServiceAccount ${name}/default`, () =>
      admin.core.readNamespacedServiceAccount({ name: 'default', namespace: name }).then(() => true, () => false));
  }
  return name;
}

/**
 * Deletes the namespaces a test file made and waits until they are gone, so that their pull
 * secrets (sources named `regcred` in several of them) are not seen by the next file's sync --all.
 */
export async function deleteE2eNamespaces(): Promise<void> {
  const names = created.splice(0);
  await Promise.all(names.map((name) => admin.core.deleteNamespace({ name }).catch(() => undefined)));
  await waitFor(`namespaces ${names.join(', ')} to be deleted`, async () => {
    const gone = await Promise.all(names.map((name) => admin.core.readNamespace({ name }).then(() => false, (error) => error?.code === 404)));
    return gone.every(Boolean);
  }, 90_000);
}

export interface WorkloadOptions {
  image?: string;
  imagePullSecrets?: string[];
  serviceAccount?: string;
  imagePullPolicy?: V1Container['imagePullPolicy'];
}

function podSpec(options: WorkloadOptions): V1Pod['spec'] {
  return {
    ...(options.serviceAccount ? { serviceAccountName: options.serviceAccount } : {}),
    ...(options.imagePullSecrets ? { imagePullSecrets: options.imagePullSecrets.map((name) => ({ name })) } : {}),
    // busybox exits at once on SIGTERM's default action: no grace period to wait for.
    terminationGracePeriodSeconds: 0,
    automountServiceAccountToken: false,
    containers: [{ name: 'app', image: options.image ?? registry.image, imagePullPolicy: options.imagePullPolicy ?? 'Always' }],
  };
}

/** A one-replica Deployment whose pods carry the label app=NAME. */
export async function createDeployment(namespace: string, name: string, options: WorkloadOptions = {}): Promise<void> {
  const labels = { app: name };
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name },
      spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec(options) } },
    },
  });
}

/** A bare pod (no controller), created as soon as the API server accepts it. */
export async function createBarePod(namespace: string, name: string, options: WorkloadOptions = {}): Promise<void> {
  await waitFor(`pod ${namespace}/${name} to be accepted`, () =>
    admin.core.createNamespacedPod({ namespace, body: { metadata: { name }, spec: podSpec(options) } }).then(
      () => true,
      (error) => {
        // A brand-new namespace's default ServiceAccount comes a moment later.
        if (/serviceaccount .* not found/i.test(String(error?.body ?? error))) return false;
        throw error;
      },
    ), 30_000);
}

/** What the kubelet did with a pod's container. */
export interface PullOutcome {
  pod: string;
  /** `Running`, or the container's waiting reason (`ErrImagePull`, `ImagePullBackOff`, ...). */
  state: string;
  /** The waiting message, and the kubelet's events about the pod (pull errors in particular). */
  message: string;
  events: string[];
}

// Waiting reasons that mean "not decided yet"; any other one is the kubelet giving up on a start
// (ErrImagePull, ImagePullBackOff, or, when it cannot even build the pod's keyring, the error
// itself as the reason).
const STILL_STARTING = new Set(['ContainerCreating', 'PodInitializing']);

async function outcomeOf(pod: V1Pod): Promise<PullOutcome | undefined> {
  const status = pod.status?.containerStatuses?.[0];
  const state = status?.state?.running ? 'Running' : status?.state?.waiting?.reason;
  if (!state || STILL_STARTING.has(state)) return undefined;
  const name = pod.metadata!.name!;
  const namespace = pod.metadata!.namespace!;
  const events = (await admin.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` })).items
    .map((event) => `${event.reason}: ${event.message}`);
  return { pod: name, state, message: status?.state?.waiting?.message ?? '', events };
}

/**
 * Waits until the pod (by name, or the one pod matching app=NAME that is not being deleted) has
 * a running container or has failed its pull, and returns what happened. Pods named in `except`
 * are passed over (the ones a test replaced).
 */
export async function podOutcome(namespace: string, target: { pod: string } | { app: string; except?: string[] }, timeoutMs = 60_000): Promise<PullOutcome> {
  let outcome: PullOutcome | undefined;
  let last = 'no pod yet';
  await waitFor(`pod ${JSON.stringify(target)} in ${namespace} to run or fail its pull`, async () => {
    const pods = 'pod' in target
      ? [await admin.core.readNamespacedPod({ name: target.pod, namespace })]
      : (await admin.core.listNamespacedPod({ namespace, labelSelector: `app=${target.app}` })).items
          .filter((pod) => !pod.metadata?.deletionTimestamp && !target.except?.includes(pod.metadata!.name!));
    if (pods.length !== 1) return false;
    last = JSON.stringify(pods[0]!.status?.containerStatuses?.[0]?.state ?? pods[0]!.status?.phase);
    outcome = await outcomeOf(pods[0]!);
    return outcome !== undefined;
  }, timeoutMs).catch((error) => {
    throw new Error(`${(error as Error).message}; last state: ${last}`);
  });
  return outcome!;
}

/**
 * doctor's verdict on a pod, with --verify (a login to the registry with the credentials the
 * kubelet sends: without it, no tool can tell a wrong password from a right one).
 */
export async function doctorSaysCovered(namespace: string, pod: string): Promise<{ covered: boolean; messages: string[] }> {
  const result = await run(['doctor', `pod/${pod}`, '-n', namespace, '-o', 'json', '--verify', '--registry-ca', registry.caFile]);
  if (result.code > 1 || !result.stdout) throw new Error(`doctor failed (exit ${result.code}): ${result.stderr}`);
  const report = JSON.parse(result.stdout) as { items: { images: { verdict: string; message: string; hints: string[] }[] }[] };
  const images = report.items.flatMap((item) => item.images);
  return {
    covered: images.length > 0 && images.every((image) => image.verdict === 'covered'),
    messages: images.flatMap((i) => [`${i.verdict}: ${i.message}`, ...i.hints.map((hint) => `  hint: ${hint}`)]),
  };
}

/** Doctor's verdict must be what the kubelet did: covered exactly when the pod ran. */
export async function assertDoctorAgrees(namespace: string, outcome: PullOutcome): Promise<void> {
  const doctor = await doctorSaysCovered(namespace, outcome.pod);
  assert.equal(doctor.covered, outcome.state === 'Running',
    `doctor says ${doctor.covered ? 'covered' : 'not covered'} but the kubelet's pull ${outcome.state === 'Running' ? 'worked' : `failed: ${outcome.message}`}\n${doctor.messages.join('\n')}`);
}

/** `add NAME -n NS` from the registry user's docker login. */
export async function addRegistryLogin(namespace: string, name = 'regcred', extra: string[] = []): Promise<void> {
  const result = await run(['add', name, '-n', namespace, '--from-docker-config', registry.dockerConfig, ...extra]);
  if (result.code !== 0) throw new Error(`add ${name} -n ${namespace} failed: ${result.stderr}`);
}

/** A docker config.json for the registry with any login (e.g. a wrong password). */
export function dockerConfigFor(username: string, password: string, options: { pad?: boolean } = {}): string {
  let auth = Buffer.from(`${username}:${password}`).toString('base64');
  if (options.pad === false) auth = auth.replace(/=+$/, '');
  return JSON.stringify({ auths: { [registry.address]: { auth } } });
}

/**
 * A bare pod that runs a shell script in the test image (busybox: call other applets as
 * `busybox NAME`), with its ServiceAccount's token, ca.crt and namespace mounted as in-cluster
 * clients expect them, and the pull secret given by name.
 */
export async function createScriptPod(namespace: string, name: string, script: string, options: {
  imagePullSecrets: string[];
  labels?: Record<string, string>;
  restartPolicy?: 'Never' | 'Always';
}): Promise<void> {
  await waitFor(`pod ${namespace}/${name} to be accepted`, () =>
    admin.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name, ...(options.labels ? { labels: options.labels } : {}) },
        spec: {
          imagePullSecrets: options.imagePullSecrets.map((secret) => ({ name: secret })),
          restartPolicy: options.restartPolicy ?? 'Never',
          terminationGracePeriodSeconds: 0,
          automountServiceAccountToken: true,
          containers: [{ name: 'app', image: registry.image, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', script] }],
        },
      },
    }).then(
      () => true,
      (error) => {
        if (/serviceaccount .* not found/i.test(String(error?.body ?? error))) return false;
        throw error;
      },
    ), 30_000);
}

/** The pod's container log so far. */
export async function podLog(namespace: string, name: string): Promise<string> {
  return admin.core.readNamespacedPodLog({ name, namespace, container: 'app' });
}
