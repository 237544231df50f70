// The in-cluster controller, measured on a dedicated local cluster with its worker node (one node
// per machine: stop any other local cluster first). Its image is built and pushed, and the
// manifests `sync --all -l ... --watch --webhook --print-manifests` prints are applied: 2 replicas.
//   - idle RSS of each replica (process_resident_memory_bytes from its /metrics), once ready;
//   - N namespaces (default 1000, 3 ServiceAccounts each) created at C at a time: time until every
//     one holds the copy and its default ServiceAccount carries it, and each replica's RSS after
//     (the leader writes; the follower only keeps its caches);
//   - the webhook under load with 2 replicas behind its Service: P pods (default 400) created C at
//     a time in a selected namespace, against the same in a namespace the webhook configuration
//     leaves out (the baseline, no call), p50/p95 of the create request; and how the calls were
//     shared between the replicas (webhook_requests_total of each);
//   - the leader deleted: time until the other replica holds the Lease.
// The pods are never scheduled (their namespaces' node selector matches no node): this measures
// admission, not the kubelet.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const N = option('namespaces', 1000);
const P = option('pods', 400);
const C = option('concurrency', 16);
const keep = args.includes('--keep');
const clusterDir = path.join(root, '.cluster-bench-controller');
const env = { ...process.env, KPS_CLUSTER_DIR: clusterDir };
const log = (...parts: unknown[]) => console.error('#', ...parts);
const cluster = (...a: string[]) => execFileSync('bash', [path.join(root, 'scripts/cluster/cluster.sh'), ...a], { env, stdio: ['ignore', 'pipe', 'inherit'] }).toString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { stdio: 'ignore' });
log('starting a dedicated local cluster with its node');
try {
  cluster('up');
} catch (error) {
  cluster('down');
  throw error;
}
// The harness and the deployment helpers read the cluster from here; import them only now.
process.env.KPS_TEST_CLUSTER_DIR = clusterDir;
const deploy = await import('../../tests/e2e/controller-deploy');
const { CoreV1Api, KubeConfig } = await import('@kubernetes/client-node');
const kc = new KubeConfig();
kc.loadFromFile(path.join(clusterDir, 'kubeconfig'));
const admin = { core: kc.makeApiClient(CoreV1Api) };
const privateRegistry = readFileSync(path.join(clusterDir, 'registry', 'address'), 'utf8').trim();

const LABEL = 'kps-bench-controller';
const OFF_NODE = { 'scheduler.alpha.kubernetes.io/node-selector': 'kubectl-pullsecret.bench/no-node=true' };
let manifests = '';
try {
  await admin.core.createNamespace({ body: { metadata: { name: 'bench-source' } } });
  const added = await deploy.run(['add', 'regcred', '-n', 'bench-source', '--from-docker-config', path.join(clusterDir, 'registry', 'config.json'), '--no-attach']);
  if (added.code !== 0) throw new Error(`add failed: ${added.stderr}`);
  log('building the controller image (linux/amd64) and pushing it to the cluster');
  const image = await deploy.pushControllerImageToCluster();
  // bench-plain is left out by the webhook configuration itself (an exact name): the baseline.
  ({ manifests } = await deploy.deployController(['sync', '--all', '-l', `${LABEL}=yes`, '--exclude', 'bench-plain', '--webhook'], image));
  const applied = performance.now();
  await deploy.waitForReadyReplicas(2);
  const readyMs = performance.now() - applied;
  await sleep(5_000);
  const rss = async () => {
    const pods = await deploy.controllerPods();
    const leader = await deploy.leaseHolder();
    const values = await Promise.all(pods.map(async (p) => ({ name: p.name, leader: p.name === leader, text: await deploy.scrape(p.ip) })));
    return values.map((v) => ({ ...v, rss: deploy.sample(v.text, 'kubectl_pullsecret_process_resident_memory_bytes') }));
  };
  const idle = await rss();

  log(`${N} namespaces x 3 ServiceAccounts, ${C} at a time`);
  const names = Array.from({ length: N }, (_, i) => `bench-ctl-${i}`);
  const started = performance.now();
  await pool(names, C, async (name) => {
    await admin.core.createNamespace({ body: { metadata: { name, labels: { [LABEL]: 'yes' }, annotations: OFF_NODE } } });
    for (const sa of ['builder', 'deployer']) await admin.core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: sa } } });
  });
  const createdMs = performance.now() - started;
  const pending = new Set(names);
  while (pending.size > 0) {
    const accounts = await admin.core.listServiceAccountForAllNamespaces({});
    for (const sa of accounts.items) {
      if (sa.metadata?.name === 'default' && sa.imagePullSecrets?.some((r) => r.name === 'regcred')) pending.delete(sa.metadata.namespace!);
    }
    if (pending.size > 0) await sleep(250);
    if (performance.now() - started > 600_000) throw new Error(`${pending.size} namespaces still without the secret after 10 minutes`);
  }
  const convergedMs = performance.now() - started;
  await sleep(2_000);
  const loaded = await rss();

  log(`webhook under load: ${P} pods, ${C} at a time, with and without it`);
  for (const [name, labels] of [['bench-pods', { [LABEL]: 'yes' }], ['bench-plain', { [LABEL]: 'yes' }]] as const) {
    await admin.core.createNamespace({ body: { metadata: { name, labels, annotations: OFF_NODE } } });
    while (!(await admin.core.listNamespacedServiceAccount({ namespace: name })).items.length) await sleep(50);
  }
  const before = await rss();
  const createPods = async (namespace: string, prefix: string, concurrency = C) => {
    const times: number[] = [];
    await pool(Array.from({ length: P }, (_, i) => i), concurrency, async (i) => {
      const t = performance.now();
      const pod = await admin.core.createNamespacedPod({
        namespace, body: { metadata: { name: `${prefix}-${i}` }, spec: { containers: [{ name: 'app', image: `${privateRegistry}/busybox:1` }] } },
      });
      times.push(performance.now() - t);
      if (namespace === 'bench-pods' && !pod.spec?.imagePullSecrets?.some((r) => r.name === 'regcred')) throw new Error('the webhook did not add the secret');
    });
    return times.sort((a, b) => a - b);
  };
  await createPods('bench-plain', 'warmup');
  // Two rounds each, taking turns, so that neither side gets the quieter moment.
  const without: number[] = [];
  const withHook: number[] = [];
  for (const round of [1, 2]) {
    without.push(...await createPods('bench-plain', `plain-${round}`));
    withHook.push(...await createPods('bench-pods', `hooked-${round}`));
  }
  without.sort((a, b) => a - b);
  withHook.sort((a, b) => a - b);
  // One at a time as well: what the webhook adds to a pod's creation when the machine is not
  // busy with the others (the figure the out-of-cluster webhook had in the sync bench).
  const withoutSerial = await createPods('bench-plain', 'serial-plain', 1);
  const withHookSerial = await createPods('bench-pods', 'serial-hooked', 1);
  const after = await rss();
  // Every call counts (the pods' ServiceAccount already carries the secret: most answers are "unchanged").
  const calls = (text: string) => deploy.sample(text, 'kubectl_pullsecret_webhook_requests_total');
  const served = after.map((r) => calls(r.text) - calls(before.find((b) => b.name === r.name)?.text ?? ''));

  log('deleting the leader pod');
  const leader = await deploy.leaseHolder();
  const deleted = performance.now();
  await admin.core.deleteNamespacedPod({ name: leader, namespace: deploy.CONTROLLER });
  let holder = '';
  while ((holder = await deploy.leaseHolder()) === '' || holder === leader) {
    await sleep(100);
    if (performance.now() - deleted > 60_000) throw new Error('no new leader within 60 s');
  }
  const takeoverMs = performance.now() - deleted;

  const line = (label: string, value: string, target = '') => console.log(`${label.padEnd(58)} ${value.padEnd(34)} ${target}`);
  const perReplica = (values: { leader: boolean; rss: number }[]) => values.map((v) => `${v.leader ? 'leader' : 'follower'} ${mb(v.rss)}`).join(', ');
  console.log(`\nthe controller in the cluster — 2 replicas on the local node, ${N} namespaces x 3 ServiceAccounts, ${P} pods ${C} at a time`);
  line('measure', 'value', 'bar');
  line('kubectl apply to 2 replicas ready', `${(readyMs / 1000).toFixed(1)} s`);
  line('idle RSS per replica', perReplica(idle));
  line(`${N} namespaces created (${C} at a time)`, `${(createdMs / 1000).toFixed(1)} s`);
  line(`... until every default ServiceAccount carries the secret`, `${(convergedMs / 1000).toFixed(1)} s`);
  line(`RSS per replica after ${N} namespaces`, perReplica(loaded));
  line(`pod create, namespace the webhook leaves out (${2 * P}): p50/p95`, `${percentile(without, 50).toFixed(1)} / ${percentile(without, 95).toFixed(1)} ms`);
  line(`pod create through the webhook, 2 replicas (${2 * P}): p50/p95`, `${percentile(withHook, 50).toFixed(1)} / ${percentile(withHook, 95).toFixed(1)} ms`);
  line(`latency the webhook adds, ${C} at a time: p50/p95`, `${(percentile(withHook, 50) - percentile(without, 50)).toFixed(1)} / ${(percentile(withHook, 95) - percentile(without, 95)).toFixed(1)} ms`, 'p95 < 20 ms');
  line(`pod create one at a time (${P} each): p50/p95 without / with`, `${percentile(withoutSerial, 50).toFixed(1)} / ${percentile(withoutSerial, 95).toFixed(1)} ms, ${percentile(withHookSerial, 50).toFixed(1)} / ${percentile(withHookSerial, 95).toFixed(1)} ms`);
  line('latency the webhook adds, one at a time: p50/p95', `${(percentile(withHookSerial, 50) - percentile(withoutSerial, 50)).toFixed(1)} / ${(percentile(withHookSerial, 95) - percentile(withoutSerial, 95)).toFixed(1)} ms`, 'p95 < 20 ms');
  line('webhook calls answered by each replica', after.map((r, i) => `${r.leader ? 'leader' : 'follower'} ${served[i]}`).join(', '));
  line('RSS per replica after the pods', perReplica(after));
  line('leader pod deleted -> the other holds the Lease', `${(takeoverMs / 1000).toFixed(1)} s`, '< 20 s');
} finally {
  if (manifests && keep) log(`kept: KUBECONFIG=${clusterDir}/kubeconfig`);
  if (!keep) cluster('down');
}
