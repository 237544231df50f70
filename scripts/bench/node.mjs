// `npm run bench -- node [--pods K] [--keep]`
//
// On a dedicated local cluster with its worker node (one node per machine: stop any other local
// cluster first). Measures:
//   - `cluster.sh up`: wall time, and the node Ready after the control plane (bar: 60 s);
//   - a private pull to Running: K pods (default 10), one after another, each a new tag of the
//     test image in the password-protected registry with the secret `add` made, from the create
//     request to the container running (bar: 20 s). A new tag makes the kubelet pull, and the
//     registry authenticate, every time; the layers themselves are the same, so only the first
//     pull transfers them;
//   - side by side, the baseline: the same image pushed to the open registry under new tags,
//     pulled without credentials — the ratio is what credentials cost a pull;
//   - a refused pull: from the create request to ErrImagePull, without the secret.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const K = option('pods', 10);
const keep = args.includes('--keep');
const clusterDir = path.join(root, '.cluster-bench-node');
const env = { ...process.env, KPS_CLUSTER_DIR: clusterDir };
const plugin = path.join(root, 'dist', 'kubectl-pullsecret');
const log = (...parts) => console.error('#', ...parts);
const cluster = (...a) => execFileSync('bash', [path.join(root, 'scripts/cluster/cluster.sh'), ...a], { env, stdio: ['ignore', 'pipe', 'inherit'] }).toString();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const stateFile = (...parts) => readFileSync(path.join(clusterDir, ...parts), 'utf8').trim();

/** Pushes the test image under these tags (cheap after the first: the blobs are there). */
function pushTags(registryDir, tags, login) {
  const argv = ['--import', 'tsx', path.join(root, 'scripts/images/test-images.ts'), '--ca', path.join(clusterDir, 'pki', 'ca.crt'),
    '--registry', stateFile(registryDir, 'address'), '--image', 'busybox', ...tags.flatMap((t) => ['--tag', t]),
    ...(login ? ['--username', 'puller', '--password-file', path.join(clusterDir, 'registry', 'password')] : [])];
  execFileSync(process.execPath, argv, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Creates a pod and waits for its container to run or its pull to fail; returns ms and the state. */
async function podTimes(core, namespace, name, image, imagePullSecrets) {
  const started = performance.now();
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name },
      spec: {
        ...(imagePullSecrets ? { imagePullSecrets: imagePullSecrets.map((n) => ({ name: n })) } : {}),
        terminationGracePeriodSeconds: 0,
        automountServiceAccountToken: false,
        containers: [{ name: 'app', image, imagePullPolicy: 'Always' }],
      },
    },
  });
  for (;;) {
    const pod = await core.readNamespacedPod({ name, namespace });
    const state = pod.status?.containerStatuses?.[0]?.state;
    if (state?.running) return { ms: performance.now() - started, state: 'Running' };
    const reason = state?.waiting?.reason;
    if (reason && reason !== 'ContainerCreating') return { ms: performance.now() - started, state: reason };
    if (performance.now() - started > 60_000) throw new Error(`pod ${name} neither ran nor failed within 60 s`);
    await sleep(20);
  }
}

try {
  execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { stdio: 'ignore' });
  log('starting a dedicated local cluster with its node');
  const upStarted = performance.now();
  cluster('up');
  const upMs = performance.now() - upStarted;
  const nodeReadySeconds = Number(stateFile('node', 'ready.seconds'));
  const kubeconfig = path.join(clusterDir, 'kubeconfig');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const address = stateFile('registry', 'address');
  const openAddress = stateFile('sandbox-registry', 'address');

  const namespace = 'bench-node';
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  while (!(await core.listNamespacedServiceAccount({ namespace })).items.length) await sleep(50);
  const added = spawnSync(plugin, ['add', 'regcred', '-n', namespace, '--from-docker-config', path.join(clusterDir, 'registry', 'config.json'), '--no-attach'],
    { env: { ...env, KUBECONFIG: kubeconfig }, encoding: 'utf8' });
  if (added.status !== 0) throw new Error(`add failed: ${added.stderr}`);

  log(`pushing ${K} tags to each registry`);
  const tags = Array.from({ length: K }, (_, i) => `bench-${i}`);
  pushTags('registry', tags, true);
  pushTags('sandbox-registry', tags, false);

  log(`${K} private pulls and ${K} open pulls, taking turns`);
  const privatePulls = [];
  const openPulls = [];
  for (const [i, tag] of tags.entries()) {
    const priv = await podTimes(core, namespace, `private-${i}`, `${address}/busybox:${tag}`, ['regcred']);
    if (priv.state !== 'Running') throw new Error(`private pull ${i} ended in ${priv.state}`);
    privatePulls.push(priv.ms);
    const open = await podTimes(core, namespace, `open-${i}`, `${openAddress}/busybox:${tag}`);
    if (open.state !== 'Running') throw new Error(`open pull ${i} ended in ${open.state}`);
    openPulls.push(open.ms);
  }
  const refused = await podTimes(core, namespace, 'refused', `${address}/busybox:${tags[0]}`);

  privatePulls.sort((a, b) => a - b);
  openPulls.sort((a, b) => a - b);
  const line = (label, value, target) => console.log(`${label.padEnd(46)} ${String(value).padEnd(26)} ${target ?? ''}`);
  console.log(`\nthe local cluster's node — ${K} pulls each side, each image under a new tag (a pull with its login every time; layers transferred once)`);
  line('measure', 'value', 'bar');
  line('cluster.sh up (binaries cached): wall time', `${(upMs / 1000).toFixed(1)} s`);
  line('node Ready after the control plane', `${nodeReadySeconds.toFixed(1)} s`, '<= 60 s');
  line('private pull to Running: p50 / p95', `${(percentile(privatePulls, 50) / 1000).toFixed(2)} / ${(percentile(privatePulls, 95) / 1000).toFixed(2)} s`, '< 20 s');
  line('open pull to Running (baseline): p50 / p95', `${(percentile(openPulls, 50) / 1000).toFixed(2)} / ${(percentile(openPulls, 95) / 1000).toFixed(2)} s`);
  line('ratio private / open (p50)', `${(percentile(privatePulls, 50) / percentile(openPulls, 50)).toFixed(2)}x`);
  line('pull without the secret to its failure', `${(refused.ms / 1000).toFixed(2)} s (${refused.state})`);
} finally {
  if (!keep) cluster('down');
}
