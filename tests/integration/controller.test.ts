// `sync --watch` as operators run a controller, against the real local control plane: two
// replicas with --leader-elect elect one writer and hand over on SIGTERM; /metrics, /healthz and
// /readyz answer as controller-runtime's do; --log-format json; `remove -A` while a controller
// runs leaves no reference behind and names the Lease holder; and --service-accounts none never
// writes a ServiceAccount (read back byte for byte, and in the API server's audit log) while
// pods still get the secret at admission.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  addLoginSource,
  admin,
  assertOk,
  clusterDir,
  createTestNamespace,
  deleteNamespaces,
  freePort,
  readSecret,
  readServiceAccount,
  removeEverywhere,
  run,
  startPlugin,
  waitFor,
  type PluginProcess,
} from './harness';

const REGISTRY = 'registry.example';
const TS = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let counter = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;
const password = () => `FAKE-controller-pw-${process.pid}-${++counter}`;

const created: string[] = [];
after(() => deleteNamespaces(created));
async function namespace(prefix: string, labels?: Record<string, string>) {
  const name = await createTestNamespace(prefix, labels ? { labels } : {});
  created.push(name);
  return name;
}

async function references(namespace: string, serviceAccount: string, name: string): Promise<boolean> {
  const sa = await readServiceAccount(namespace, serviceAccount);
  return (sa?.imagePullSecrets ?? []).some((r) => r.name === name);
}

/** The ports a controller logged: `serving /metrics on port N, /healthz and /readyz on port M`. */
async function portsOf(controller: PluginProcess): Promise<{ metrics: number; probes: number }> {
  const line = await controller.waitForLine(/serving \/metrics on port \d+, \/healthz and \/readyz on port \d+/, 20_000);
  const [, metrics, probes] = /on port (\d+), .* on port (\d+)/.exec(line)!;
  return { metrics: Number(metrics), probes: Number(probes) };
}

async function get(port: number, pathname: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${pathname}`);
  return { status: response.status, body: await response.text() };
}

/** The value of a metric without labels (or with exactly these), from Prometheus text. */
function metricValue(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('sync --watch --leader-elect: two replicas, one writer', () => {
  const labels = { 'kps-controller': unique('le') };
  const selector = `kps-controller=${labels['kps-controller']}`;
  const name = unique('lead');
  const leaseId = unique('lease');
  let home = '';
  let leases = '';
  const replicas: PluginProcess[] = [];

  before(async () => {
    home = await namespace('le-home');
    leases = await namespace('le-leases');
    await addLoginSource(name, home, REGISTRY, password(), ['--no-attach']);
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
    await removeEverywhere(name);
  });

  const start = (id: string) => {
    const replica = startPlugin(
      ['sync', name, '-n', home, '-l', selector, '--watch', '--leader-elect', '--leader-election-namespace', leases, '--leader-election-id', leaseId],
      { env: { POD_NAME: id } },
    );
    replicas.push(replica);
    return replica;
  };
  const holder = async () => {
    const lease = await run(['get', 'lease', leaseId, '-n', leases, '-o', 'jsonpath={.spec.holderIdentity}'], { command: 'kubectl' });
    return lease.stdout.trim();
  };

  test('one leads and writes; the other only watches; metrics and probes say which', async () => {
    const a = start('replica-a');
    await a.waitForLine(/leader election: replica-a leads/, 20_000);
    const b = start('replica-b');
    await b.waitForLine(/leader election: the leader is replica-a/, 20_000);
    const target = await namespace('le-target', labels);
    await waitFor('the copy and its attachment in a new namespace', async () => (await readSecret(target, name)) !== undefined && (await references(target, 'default', name)), 15_000);
    await a.waitForLine(new RegExp(`secret/${name} created: .*namespace ${target}`), 5_000);
    assert.ok(!b.lines.some((l) => / created: | attached: /.test(l)), `the follower wrote:\n${b.lines.join('\n')}`);
    assert.equal(await holder(), 'replica-a');

    const [pa, pb] = await Promise.all([portsOf(a), portsOf(b)]);
    const [ma, mb] = await Promise.all([get(pa.metrics, '/metrics'), get(pb.metrics, '/metrics')]);
    assert.equal(metricValue(ma.body, 'kubectl_pullsecret_leader'), 1);
    assert.equal(metricValue(mb.body, 'kubectl_pullsecret_leader'), 0);
    for (const family of [
      'kubectl_pullsecret_writes_total', 'kubectl_pullsecret_reconcile_duration_seconds', 'kubectl_pullsecret_watch_restarts_total',
      'kubectl_pullsecret_queue_depth', 'kubectl_pullsecret_webhook_requests_total', 'kubectl_pullsecret_webhook_latency_seconds',
      'kubectl_pullsecret_leader', 'kubectl_pullsecret_certificate_expiry_timestamp_seconds', 'kubectl_pullsecret_process_resident_memory_bytes',
    ]) {
      assert.ok(new RegExp(`^# TYPE ${family} `, 'm').test(ma.body), `${family} missing from /metrics`);
    }
    assert.match(ma.body, new RegExp(`^kubectl_pullsecret_writes_total\\{kind="secret",result="created"\\} [1-9]`, 'm'));
    // Both replicas are ready (the follower serves the webhook too); /healthz answers.
    for (const ports of [pa, pb]) {
      assert.equal((await get(ports.probes, '/readyz')).status, 200);
      assert.equal((await get(ports.probes, '/healthz')).status, 200);
      assert.match((await get(ports.probes, '/readyz?verbose')).body, /\[\+\]informers ok/);
    }
  });

  test('SIGTERM of the leader: it releases the Lease, the other leads within seconds and handles a new namespace', async () => {
    const [a, b] = replicas as [PluginProcess, PluginProcess];
    const stopped = Date.now();
    const exit = await a.stop('SIGTERM', 15_000);
    assert.equal(exit.code, 0, a.stderr());
    assert.match(a.lines.join('\n'), /released Lease/);
    await b.waitForLine(/leader election: replica-b leads/, 10_000);
    const takeover = Date.now() - stopped;
    // Released, so no 15 s lease duration to wait out: one retry period (2 s, with up to 120 % jitter), with room for a loaded machine.
    assert.ok(takeover < 10_000, `takeover took ${takeover} ms`);
    console.log(`# takeover after the leader's SIGTERM: ${takeover} ms`);
    assert.equal(await holder(), 'replica-b');
    const target = await namespace('le-after', labels);
    await waitFor('the new leader copies and attaches', async () => (await readSecret(target, name)) !== undefined && (await references(target, 'default', name)), 15_000);
    const { metrics } = await portsOf(b);
    assert.equal(metricValue((await get(metrics, '/metrics')).body, 'kubectl_pullsecret_leader'), 1);
  });
});

describe('sync --watch operations', () => {
  test('--log-format json: one JSON object per line, with ts, level and msg', async () => {
    const home = await namespace('json-home');
    const name = unique('json');
    await addLoginSource(name, home, REGISTRY, password(), ['--no-attach']);
    const controller = startPlugin(['sync', name, '-n', home, '--namespaces', home, '--watch', '--log-format', 'json']);
    try {
      await controller.waitForLine(/watching namespaces/, 20_000);
      for (const line of controller.lines) {
        const record = JSON.parse(line) as { ts: string; level: string; msg: string };
        assert.match(record.ts, /^\d{4}-\d{2}-\d{2}T/);
        assert.equal(record.level, 'info');
        assert.equal(typeof record.msg, 'string');
      }
    } finally {
      await controller.stop();
      await removeEverywhere(name);
    }
  });

  test('watches the API server ends are resumed from their resourceVersion: no change missed, nothing re-listed', async () => {
    // Every WATCH ends after 1 s here (KPS_TEST_WATCH_TIMEOUT_SECONDS), where the controller asks
    // for 5 to 10 minutes: the resume path runs several times in the test instead of once in minutes.
    const labels = { 'kps-controller': unique('resume') };
    const name = unique('resume');
    const home = await namespace('resume-home');
    await addLoginSource(name, home, REGISTRY, password(), ['--no-attach']);
    const controller = startPlugin(['sync', name, '-n', home, '-l', `kps-controller=${labels['kps-controller']}`, '--watch'], {
      env: { KPS_TEST_WATCH_TIMEOUT_SECONDS: '1' },
    });
    try {
      await controller.waitForLine(/ watching .* for changes$/, 20_000);
      const { metrics } = await portsOf(controller);
      // One namespace every 400 ms for about 3 s: some are made while a watch is being resumed.
      const targets: string[] = [];
      for (let i = 0; i < 8; i++) {
        targets.push(await namespace('resume', labels));
        await sleep(400);
      }
      for (const target of targets) {
        await waitFor(`the copy and its attachment in ${target}`, async () => (await readSecret(target, name)) !== undefined && (await references(target, 'default', name)), 15_000);
      }
      const scrape = (await get(metrics, '/metrics')).body;
      for (const resource of ['namespaces', 'serviceaccounts', 'secrets']) {
        const restarts = metricValue(scrape, `kubectl_pullsecret_watch_restarts_total{resource="${resource}"}`) ?? 0;
        assert.ok(restarts >= 2, `the ${resource} watch was started again ${restarts} times: the API server did not end it after the second asked for`);
      }
      assert.doesNotMatch(controller.lines.join('\n'), /re-listed|lost \(/, 'a watch was re-listed or failed instead of resumed');
      assert.equal(controller.stderr(), '');
    } finally {
      await controller.stop('SIGKILL');
      await removeEverywhere(name);
    }
  });

  test('a probe port already taken is a one-line error and exit 1, not a stack trace', async () => {
    const port = await freePort();
    const blocker = startPlugin(['sync', '--all', '--namespaces', 'default', '--watch', '--health-probe-bind-address', `127.0.0.1:${port}`]);
    try {
      await blocker.waitForLine(/watching namespaces/, 20_000);
      const second = await run(['sync', '--all', '--namespaces', 'default', '--watch', '--metrics-bind-address', '0', '--health-probe-bind-address', `127.0.0.1:${port}`]);
      assert.equal(second.code, 1);
      assert.match(second.stderr, /^error: cannot serve health probes on "127\.0\.0\.1:\d+" \(--health-probe-bind-address\): the address is already in use/m);
      assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr);
    } finally {
      await blocker.stop();
    }
  });

  test('flags of the controller are refused where they mean nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['sync', '--all', '--leader-elect'], /--leader-elect sets up the controller: use with --watch/],
      [['sync', '--all', '--watch', '--leader-election-id', 'x'], /--leader-election-namespace and --leader-election-id go with --leader-elect/],
      [['sync', '--all', '--service-accounts', 'none'], /--service-accounts none never attaches .*: use it with --watch --webhook/],
      [['sync', '--all', '--watch', '--service-accounts', 'none'], /use it with --watch --webhook/],
      [['sync', '--all', '--replicas', '2'], /--replicas sets the Deployment of --print-manifests/],
      [['sync', '--all', '--watch', '--print-manifests', '--replicas', '0'], /--replicas must be a whole number of at least 1/],
      [['sync', '--all', '--watch', '--log-format', 'xml'], /Invalid values|log-format/],
    ];
    for (const [args, error] of cases) {
      const result = await run(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, error, args.join(' '));
    }
  });
});

describe('remove -A while a controller runs', () => {
  test('no copy and no reference is left behind: what the controller re-made before the source went is undone; remove names the Lease holder', async () => {
    const home = await namespace('rm-src');
    const targets = [await namespace('rm-a'), await namespace('rm-b')];
    const leases = await namespace('rm-leases');
    const name = unique('regrm');
    await addLoginSource(name, home, REGISTRY, password());
    const controller = startPlugin(
      ['sync', name, '-n', home, '--namespaces', targets.join(','), '--watch', '--leader-elect', '--leader-election-namespace', leases],
      { env: { POD_NAME: 'rm-controller' } },
    );
    try {
      await controller.waitForLine(/leader election: rm-controller leads/, 20_000);
      for (const target of targets) {
        await waitFor(`${name} attached in ${target}`, () => references(target, 'default', name), 15_000);
      }
      const removed = await run(['remove', name, '-A']);
      assertOk(removed, 'remove -A');
      assert.match(removed.stderr, new RegExp(`^warning: a sync controller \\(lease ${leases}/kubectl-pullsecret, held by rm-controller\\) syncs ${home}/${name}; once the source is deleted, what it copies or attaches meanwhile is undone$`, 'm'));
      await controller.waitForLine(new RegExp(`no source ${home}/${name}: nothing to sync until it is created again`), 10_000);
      // Long enough for the controller to have re-attached, as it did before remove made a second pass.
      await sleep(3_000);
      for (const namespace of [home, ...targets]) {
        assert.equal(await references(namespace, 'default', name), false, `default in ${namespace} references ${name} again`);
        assert.equal(await readSecret(namespace, name), undefined, `secret ${namespace}/${name} is back`);
      }
      assert.equal(controller.exited(), undefined, 'the controller keeps running');
    } finally {
      await controller.stop();
    }
  });
});

/** The API server's audit log (cluster.sh turns it on): one JSON event per line. */
const auditLog = path.join(clusterDir, 'logs', 'audit.log');
interface AuditEvent {
  verb: string;
  stage: string;
  userAgent?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string };
}
function auditEvents(): AuditEvent[] {
  return readFileSync(auditLog, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as AuditEvent);
}

describe('--service-accounts none: GitOps-safe, ServiceAccounts are never written', () => {
  test('a ServiceAccount applied server-side by another manager stays byte-identical through sync, watch and prune; new pods still get the secret', async (t) => {
    if (!existsSync(auditLog)) assert.fail(`no audit log at ${auditLog}: the local cluster must run the API server with its audit log`);
    const labels = { 'kps-gitops': unique('g') };
    const home = await namespace('gitops-home');
    const target = await namespace('gitops-target', labels);
    const name = unique('gitops');
    await addLoginSource(name, home, REGISTRY, password(), ['--no-attach']);
    // As Argo CD applies it: server-side, its own field manager, its own pull secret list.
    const manifest = JSON.stringify({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'app', namespace: target }, imagePullSecrets: [{ name: 'team-owned' }] });
    assertOk(await run(['apply', '--server-side', '--field-manager', 'argocd-controller', '-f', '-'], { command: 'kubectl', stdin: manifest }), 'kubectl apply --server-side');
    const before = JSON.stringify(await admin.core.readNamespacedServiceAccount({ name: 'app', namespace: target }));
    const defaultBefore = JSON.stringify(await admin.core.readNamespacedServiceAccount({ name: 'default', namespace: target }));
    const since = auditEvents().length;

    const port = await freePort();
    const controller = startPlugin([
      'sync', name, '-n', home, '-l', `kps-gitops=${labels['kps-gitops']}`, '--service-accounts', 'none', '--prune', '--watch',
      '--webhook', '--webhook-listen', `127.0.0.1:${port}`, '--webhook-url', `https://127.0.0.1:${port}/mutate`, '--webhook-namespace', home,
    ]);
    try {
      await controller.waitForLine(new RegExp(`^${TS} watching`), 20_000);
      await waitFor('the copy in the target namespace', async () => (await readSecret(target, name)) !== undefined, 15_000);
      // A new ServiceAccount and a pod: the pod gets the secret from the webhook alone.
      await admin.core.createNamespacedServiceAccount({ namespace: target, body: { metadata: { name: 'later' } } });
      const pod = await admin.core.createNamespacedPod({
        namespace: target,
        body: { metadata: { name: 'app' }, spec: { serviceAccountName: 'app', containers: [{ name: 'app', image: `${REGISTRY}/team/app:1` }] } },
      });
      assert.deepEqual(pod.spec?.imagePullSecrets?.map((r) => r.name), ['team-owned', name]);
      // The source goes: prune deletes the copy (nothing references it), still without touching a ServiceAccount.
      await admin.core.deleteNamespacedSecret({ name, namespace: home });
      await waitFor('the copy pruned', async () => (await readSecret(target, name)) === undefined, 15_000);
      await sleep(1_000);
    } finally {
      await controller.stop();
    }
    const session = auditEvents().slice(since);
    // The webhook configuration it registered (serving home/name) goes with the undo.
    await removeEverywhere(name);
    assert.equal(JSON.stringify(await admin.core.readNamespacedServiceAccount({ name: 'app', namespace: target })), before);
    assert.equal(JSON.stringify(await admin.core.readNamespacedServiceAccount({ name: 'default', namespace: target })), defaultBefore);
    const ours = session.filter((e) => e.userAgent?.startsWith('kubectl-pullsecret/'));
    const writes = (resource: string) => ours.filter((e) => e.objectRef?.resource === resource && ['create', 'update', 'patch', 'delete'].includes(e.verb));
    assert.deepEqual(writes('serviceaccounts'), [], 'ServiceAccount writes by the plugin in the audit log');
    assert.ok(writes('secrets').length >= 2, `the audit log shows the plugin's secret writes (copy, prune): ${JSON.stringify(ours.slice(0, 5))}`);
    t.diagnostic(`audit: ${ours.length} requests by the plugin, ${writes('secrets').length} secret writes, 0 ServiceAccount writes`);
  });
});


describe('two replicas admitting pods at once', () => {
  test('both write the copy for a brand-new namespace at admission: one creates it, the other finds it; both pods get it, nothing fails', async () => {
    const labels = { 'kps-race': unique('r') };
    const home = await namespace('race-home');
    const leases = await namespace('race-leases');
    const name = unique('race');
    await addLoginSource(name, home, REGISTRY, password(), ['--no-attach']);
    const ports = [await freePort(), await freePort()];
    const replicas = ports.map((port, i) => startPlugin([
      'sync', name, '-n', home, '-l', `kps-race=${labels['kps-race']}`, '--watch', '--leader-elect', '--leader-election-namespace', leases,
      '--webhook', '--webhook-listen', `127.0.0.1:${port}`, '--webhook-url', `https://127.0.0.1:${port}/mutate`, '--webhook-namespace', home,
    ], { env: { POD_NAME: `race-${i}` } }));
    try {
      await Promise.all(replicas.map((r) => r.waitForLine(/watching namespaces/, 30_000)));
      const tls = await admin.core.readNamespacedSecret({ name: 'kubectl-pullsecret-webhook-tls', namespace: home });
      const ca = Buffer.from(tls.data!['ca.crt']!, 'base64');
      // Created, and at once (before any watch event can have been handled) a pod reviewed by both.
      const target = `race-target-${process.pid}-${++counter}`;
      await admin.core.createNamespace({ body: { metadata: { name: target, labels } } });
      created.push(target);
      const review = (uid: string) => ({
        apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
        request: { uid, namespace: target, operation: 'CREATE', object: { metadata: { name: uid, namespace: target }, spec: { containers: [{ name: 'app', image: `${REGISTRY}/app:1` }] } } },
      });
      const answers = await Promise.all(ports.map((port, i) => postJson(port, ca, review(`pod-${i}`))));
      for (const answer of answers) {
        const patch = JSON.parse(Buffer.from((answer as { response: { patch: string } }).response.patch, 'base64').toString('utf8')) as { value: unknown }[];
        assert.deepEqual(patch[0]!.value, [{ name }]);
      }
      const copy = await readSecret(target, name);
      assert.equal(copy?.metadata?.annotations?.['kubectl-pullsecret/source'], `${home}/${name}`);
      await sleep(500);
      for (const replica of replicas) {
        assert.ok(!replica.lines.some((l) => / failed: /.test(l)), replica.lines.join('\n'));
        assert.equal(replica.stderr(), '');
      }
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
      await removeEverywhere(name);
    }
  });
});

/** POSTs a JSON body to a webhook replica on 127.0.0.1 over TLS, trusting its CA. */
function postJson(port: number, ca: Buffer, body: object): Promise<object> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const request = https.request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca, headers: { 'Content-Type': 'application/json', 'Content-Length': payload.length } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as object);
        } catch (error) {
          reject(error);
        }
      });
    });
    request.on('error', reject);
    request.end(payload);
  });
}
