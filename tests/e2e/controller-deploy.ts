// The in-cluster controller on the local node, as a user installs it: the standalone linux/amd64
// executable packaged, built into the controller image (scripts/images/controller-image.ts),
// pushed to the cluster's open registry, and the manifests `sync --watch --print-manifests`
// prints applied with kubectl. Shared by the e2e test and `npm run bench -- controller`.
//
// It reads the cluster from KPS_TEST_CLUSTER_DIR (default .cluster) with its own clients and does
// not load the test harness: the bench imports it outside the test runner.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { buildControllerImage, pushControllerImage } from '../../scripts/images/controller-image';
import { packageRelease } from '../../scripts/package/main';
import { selectTargets } from '../../scripts/package/targets';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const clusterDir = process.env.KPS_TEST_CLUSTER_DIR ?? path.join(repoRoot, '.cluster');
const kubeconfig = path.join(clusterDir, 'kubeconfig');
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const admin = { core: kc.makeApiClient(CoreV1Api) };
const apps = kc.makeApiClient(AppsV1Api);

/** Runs the plugin (or kubectl) as the cluster admin. */
export function run(args: string[], options: { command?: string; stdin?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = options.command ?? path.join(repoRoot, 'dist', 'kubectl-pullsecret');
  const child = spawn(command, args, { env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr })));
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const CONTROLLER = 'kubectl-pullsecret';

/** The node's own platform only: packaging and building for it alone takes seconds, not minutes. */
const PLATFORM = 'linux/amd64';

/**
 * Packages the executable, builds the image and pushes it to the cluster's open registry (the
 * one the pause image comes from: the controller's own pods pull without a secret). Returns the
 * reference by digest, so the pods run exactly what was built.
 */
export async function pushControllerImageToCluster(log: (line: string) => void = () => {}): Promise<string> {
  const work = mkdtempSync(path.join(tmpdir(), 'kps-controller-image-'));
  try {
    const releaseDir = path.join(work, 'release');
    await packageRelease({ targets: selectTargets([PLATFORM]), outDir: releaseDir, workDir: path.join(work, 'package-work'), log });
    const built = await buildControllerImage({ releaseDir, layoutDir: path.join(work, 'image'), platforms: [PLATFORM], log });
    const registry = readFileSync(path.join(clusterDir, 'sandbox-registry', 'address'), 'utf8').trim();
    await pushControllerImage({
      registry, repository: CONTROLLER, tag: 'e2e', layoutDir: built.layoutDir, caFile: path.join(clusterDir, 'pki', 'ca.crt'),
    });
    return `${registry}/${CONTROLLER}@${built.indexDigest}`;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `sync ... --watch --print-manifests --image IMAGE`, applied; kubectl's stderr is returned (Pod Security warnings land there). */
export async function deployController(syncArgs: string[], image: string): Promise<{ manifests: string; applyStderr: string }> {
  const printed = await run([...syncArgs, '--watch', '--print-manifests', '--image', image]);
  if (printed.code !== 0) throw new Error(`--print-manifests failed: ${printed.stderr}`);
  const applied = await run(['apply', '-f', '-'], { command: 'kubectl', stdin: printed.stdout });
  if (applied.code !== 0) throw new Error(`kubectl apply failed: ${applied.stderr}`);
  return { manifests: printed.stdout, applyStderr: applied.stderr };
}

/** Deletes what the manifests made, and waits for the namespace to be gone. */
export async function undeployController(manifests: string): Promise<void> {
  await run(['delete', '--ignore-not-found', '--wait=false', '-f', '-'], { command: 'kubectl', stdin: manifests });
  await waitFor(`namespace ${CONTROLLER} to be deleted`, () => admin.core.readNamespace({ name: CONTROLLER }).then(() => false, () => true), 120_000);
}

/** Waits until the Deployment has this many ready replicas, all of the current template. */
export async function waitForReadyReplicas(replicas: number, timeoutMs = 120_000): Promise<void> {
  let last = '';
  await waitFor(`${replicas} ready controller replicas`, async () => {
    const deployment = await apps.readNamespacedDeployment({ name: CONTROLLER, namespace: CONTROLLER });
    const s = deployment.status;
    last = JSON.stringify({ replicas: s?.replicas, ready: s?.readyReplicas, updated: s?.updatedReplicas, available: s?.availableReplicas });
    return s?.readyReplicas === replicas && s?.updatedReplicas === replicas && s?.replicas === replicas;
  }, timeoutMs).catch(async (error) => {
    const pods = await run(['get', 'pods', '-n', CONTROLLER, '-o', 'wide'], { command: 'kubectl' });
    const logs = await run(['logs', '-n', CONTROLLER, '-l', 'app.kubernetes.io/name=kubectl-pullsecret', '--tail', '30', '--all-containers', '--prefix'], { command: 'kubectl' });
    throw new Error(`${(error as Error).message}; status ${last}\n${pods.stdout}${pods.stderr}\n${logs.stdout}${logs.stderr}`);
  });
}

/** The controller's pods that are not being deleted: name and pod IP. */
export async function controllerPods(): Promise<{ name: string; ip: string; ready: boolean }[]> {
  const pods = await admin.core.listNamespacedPod({ namespace: CONTROLLER, labelSelector: 'app.kubernetes.io/name=kubectl-pullsecret' });
  return pods.items
    .filter((pod) => !pod.metadata?.deletionTimestamp)
    .map((pod) => ({
      name: pod.metadata!.name!,
      ip: pod.status?.podIP ?? '',
      ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    }));
}

/** The holder of the controller's Lease ('' when none). */
export async function leaseHolder(): Promise<string> {
  const lease = await run(['get', 'lease', CONTROLLER, '-n', CONTROLLER, '-o', 'jsonpath={.spec.holderIdentity}'], { command: 'kubectl' });
  return lease.code === 0 ? lease.stdout.trim() : '';
}

/** One scrape of a controller pod's /metrics (the host reaches pod IPs over the node's bridge). */
export async function scrape(ip: string): Promise<string> {
  const response = await fetch(`http://${ip}:8080/metrics`, { signal: AbortSignal.timeout(5_000) });
  return response.text();
}

/** A sample's value from Prometheus text (the sum over label sets that match `labels`). */
export function sample(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([^{\s]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match?.[1] === name && (match[2] ?? '').includes(labels)) sum += Number(match[3]);
  }
  return sum;
}
