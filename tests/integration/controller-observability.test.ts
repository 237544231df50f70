// The controller's observability against the real API server: the Event recorder's Events and
// series as the admin reads them back from events.k8s.io/v1, and the metrics and probe servers
// over real sockets.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe, test } from 'node:test';
import { connect, requestJson } from '../../lib/connect';
import { CliError } from '../../lib/errors';
import { EventRecorder, type KubeEvent, type ObjectReference } from '../../lib/controller/events';
import { createMetrics } from '../../lib/controller/metrics';
import { startControllerServers, type Check } from '../../lib/controller/servers';
import { adminKubeconfig, waitFor, withNamespace } from './harness';

const admin = connect({ kubeconfig: adminKubeconfig });

interface EventList {
  items: (KubeEvent & { metadata: { name: string; namespace: string; resourceVersion: string } })[];
}

const listEvents = async (namespace: string, reason?: string) =>
  (await requestJson<EventList>(admin, { path: `/apis/events.k8s.io/v1/namespaces/${namespace}/events` })).items.filter(
    (event) => event.reportingController === 'kubectl-pullsecret' && (reason === undefined || event.reason === reason),
  );

async function waitForEvents(namespace: string, reason: string, accept: (events: EventList['items']) => boolean, what: string) {
  let seen: EventList['items'] = [];
  await waitFor(what, async () => accept((seen = await listEvents(namespace, reason))), 15_000);
  return seen;
}

async function serviceAccountRef(namespace: string): Promise<ObjectReference> {
  const sa = await requestJson<{ metadata: { uid: string; resourceVersion: string } }>(admin, {
    path: `/api/v1/namespaces/${namespace}/serviceaccounts/default`,
  });
  return { kind: 'ServiceAccount', apiVersion: 'v1', namespace, name: 'default', uid: sa.metadata.uid, resourceVersion: sa.metadata.resourceVersion };
}

describe('EventRecorder against the API server', () => {
  test('an Event, then a series: count 2 at once, later counts on the heartbeat', async () => {
    await withNamespace('obs-events', async (namespace) => {
      const regarding = await serviceAccountRef(namespace);
      const logs: string[] = [];
      const recorder = new EventRecorder(admin, { identity: 'kps-test-pod', log: (line) => logs.push(line), heartbeatMs: 300 });
      try {
        recorder.event(regarding, 'Normal', 'PullSecretAttached', 'Attach', 'attached regcred');
        const [created] = await waitForEvents(namespace, 'PullSecretAttached', (events) => events.length === 1, 'the first Event');
        assert.equal(created!.reportingController, 'kubectl-pullsecret');
        assert.equal(created!.reportingInstance, 'kps-test-pod');
        assert.equal(created!.action, 'Attach');
        assert.equal(created!.note, 'attached regcred');
        assert.equal(created!.type, 'Normal');
        assert.deepEqual(created!.regarding, regarding);
        assert.equal(created!.series, undefined);
        assert.match(created!.metadata.name, /^default\.[0-9a-f]+$/);
        assert.match(created!.eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

        recorder.event(regarding, 'Normal', 'PullSecretAttached', 'Attach', 'a different note: still the same event');
        const [series] = await waitForEvents(namespace, 'PullSecretAttached', (events) => events[0]?.series?.count === 2, 'a series of 2');
        assert.equal(series!.metadata.name, created!.metadata.name, 'the first Event became the series');
        assert.equal(series!.note, 'attached regcred');

        recorder.event(regarding, 'Normal', 'PullSecretAttached', 'Attach', 'again');
        recorder.event(regarding, 'Normal', 'PullSecretAttached', 'Attach', 'again');
        const [heartbeat] = await waitForEvents(namespace, 'PullSecretAttached', (events) => events[0]?.series?.count === 4, 'the heartbeat: count 4');
        assert.ok(Date.parse(heartbeat!.series!.lastObservedTime) >= Date.parse(series!.series!.lastObservedTime));
        assert.equal((await listEvents(namespace)).length, 1, 'one Event in all');

        // Another reason is another Event; a Warning is one too.
        recorder.event(regarding, 'Warning', 'PullSecretAttached', 'Attach', 'warned');
        await waitForEvents(namespace, 'PullSecretAttached', (events) => events.length === 2, 'a second Event for the Warning');

        // An Event gone from the API server (--event-ttl) is created again with its series.
        await requestJson(admin, { method: 'DELETE', path: `/apis/events.k8s.io/v1/namespaces/${namespace}/events/${created!.metadata.name}` });
        recorder.event(regarding, 'Normal', 'PullSecretAttached', 'Attach', 'after expiry');
        const recreated = await waitForEvents(
          namespace,
          'PullSecretAttached',
          (events) => events.some((event) => event.metadata.name === created!.metadata.name && event.series?.count === 5),
          'the series created again',
        );
        assert.equal(recreated.length, 2);
        assert.deepEqual(logs, []);
      } finally {
        await recorder.flush();
      }
    });
  });

  test('a Namespace (no namespace of its own) gets its Event in default; flush sends the last count', async () => {
    await withNamespace('obs-nsless', async (namespace) => {
      const ns = await requestJson<{ metadata: { uid: string } }>(admin, { path: `/api/v1/namespaces/${namespace}` });
      const regarding: ObjectReference = { kind: 'Namespace', apiVersion: 'v1', name: namespace, uid: ns.metadata.uid };
      // The default heartbeat (30 minutes): only flush can send counts past 2 here.
      const recorder = new EventRecorder(admin, { identity: 'kps-test-pod' });
      let name: string | undefined;
      try {
        const byUs = (events: EventList['items']) => events.filter((event) => event.regarding.name === namespace);
        const synced = () => recorder.event(regarding, 'Normal', 'Synced', 'Sync', `namespace ${namespace} synced`);
        synced();
        const [first] = byUs(await waitForEvents('default', 'Synced', (events) => byUs(events).length === 1, 'the Event in default'));
        name = first!.metadata.name;
        assert.equal(first!.metadata.namespace, 'default');
        assert.equal(first!.regarding.namespace, undefined);
        synced();
        await waitForEvents('default', 'Synced', (events) => byUs(events)[0]?.series?.count === 2, 'the series');
        synced();
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(byUs(await listEvents('default', 'Synced'))[0]!.series?.count, 2, 'the third waits for the heartbeat');
        await recorder.flush();
        const [flushed] = byUs(await listEvents('default', 'Synced'));
        assert.equal(flushed!.series?.count, 3, 'flush sent the count the heartbeat had not');
        recorder.event(regarding, 'Normal', 'Synced', 'Sync', 'after flush: ignored');
      } finally {
        await recorder.flush();
        if (name) await requestJson(admin, { method: 'DELETE', path: `/apis/events.k8s.io/v1/namespaces/default/events/${name}` });
      }
    });
  });

  test('bounded: a full queue drops and counts; an unreachable API server never reaches the caller', async () => {
    await withNamespace('obs-bounded', async (namespace) => {
      const regarding = await serviceAccountRef(namespace);
      let onDrop = 0;
      const recorder = new EventRecorder(admin, { identity: 'kps-test-pod', queueCap: 1, onDrop: () => onDrop++ });
      // The first write leaves the queue at once, the second waits in it, the rest do not fit.
      for (const reason of ['One', 'Two', 'Three', 'Four', 'Five']) recorder.event(regarding, 'Normal', reason, 'Test', reason);
      assert.equal(recorder.dropped, 3);
      assert.equal(onDrop, 3);
      await recorder.flush();
      assert.deepEqual((await listEvents(namespace)).map((event) => event.reason).sort(), ['One', 'Two']);
    });

    // A port nothing listens on: every write fails; one line is logged, nothing is thrown.
    const closed = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const nowhere = { ...admin, config: { ...admin.config, server: `https://127.0.0.1:${closed}` } };
    const logs: string[] = [];
    const recorder = new EventRecorder(nowhere, { identity: 'kps-test-pod', log: (line) => logs.push(line), maxTries: 2, retrySleepMs: 10 });
    const started = Date.now();
    recorder.event({ kind: 'Namespace', name: 'nowhere' }, 'Warning', 'Failed', 'Sync', 'x');
    recorder.event({ kind: 'Namespace', name: 'nowhere-2' }, 'Warning', 'Failed', 'Sync', 'x');
    assert.ok(Date.now() - started < 50, 'event() returns at once');
    await waitFor('the failure to be logged', async () => logs.length > 0, 5000);
    await recorder.flush(2000);
    assert.equal(logs.length, 1, `rate-limited to one line: ${logs.join(' | ')}`);
    assert.match(logs[0]!, /^events: could not write the event Failed about Namespace nowhere: cannot reach the API server .*connection refused/);
    assert.ok(!logs[0]!.includes('\n'));
  });
});

function get(port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: new http.Agent({ keepAlive: true }) }, (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body, type: String(response.headers['content-type']) }));
      })
      .on('error', reject);
  });
}

describe('metrics and probe servers', () => {
  test('/metrics in Prometheus text format; /readyz flips from 500 to 200; /healthz answers', async () => {
    const metrics = createMetrics();
    metrics.writes.inc({ kind: 'secret', result: 'created' });
    const readyChecks = new Map<string, Check>();
    let leading = false;
    readyChecks.set('leader', () => leading || 'not the leader yet');
    readyChecks.set('informers', () => true);
    const servers = await startControllerServers({
      metricsBindAddress: '127.0.0.1:0',
      healthProbeBindAddress: '127.0.0.1:0',
      registry: metrics.registry,
      readyChecks,
    });
    try {
      assert.ok(servers.metricsPort! > 0 && servers.probePort! > 0 && servers.metricsPort !== servers.probePort);
      const scrape = await get(servers.metricsPort!, '/metrics');
      assert.equal(scrape.status, 200);
      assert.match(scrape.type, /^text\/plain; version=0\.0\.4/);
      for (const family of [
        'kubectl_pullsecret_writes_total',
        'kubectl_pullsecret_reconcile_duration_seconds',
        'kubectl_pullsecret_watch_restarts_total',
        'kubectl_pullsecret_queue_depth',
        'kubectl_pullsecret_webhook_requests_total',
        'kubectl_pullsecret_webhook_latency_seconds',
        'kubectl_pullsecret_leader',
        'kubectl_pullsecret_certificate_expiry_timestamp_seconds',
        'kubectl_pullsecret_process_resident_memory_bytes',
      ]) {
        assert.ok(scrape.body.includes(`# TYPE ${family} `), family);
      }
      assert.ok(scrape.body.includes('kubectl_pullsecret_writes_total{kind="secret",result="created"} 1'));
      assert.equal((await get(servers.metricsPort!, '/healthz')).status, 404, 'the metrics server serves /metrics only');

      assert.deepEqual(await get(servers.probePort!, '/healthz'), { status: 200, body: 'ok', type: 'text/plain; charset=utf-8' });
      const notReady = await get(servers.probePort!, '/readyz');
      assert.equal(notReady.status, 500);
      assert.equal(notReady.body, '[+]informers ok\n[-]leader failed: not the leader yet\nreadyz check failed\n');
      assert.equal((await get(servers.probePort!, '/readyz/informers')).status, 200);
      leading = true;
      assert.equal((await get(servers.probePort!, '/readyz')).body, 'ok');
      assert.equal((await get(servers.probePort!, '/readyz?verbose')).body, '[+]informers ok\n[+]leader ok\nreadyz check passed\n');
      readyChecks.set('webhook', () => false);
      assert.equal((await get(servers.probePort!, '/readyz')).status, 500, 'a check added while serving counts');
    } finally {
      const started = Date.now();
      await servers.close();
      assert.ok(Date.now() - started < 1000, 'close does not wait for kept-alive connections');
    }
  });

  test('a taken port is one clear line, and nothing stays open; "0" turns a server off', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const metrics = createMetrics();
      const probe = net.createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const free = (probe.address() as net.AddressInfo).port;
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      await assert.rejects(
        startControllerServers({ metricsBindAddress: `127.0.0.1:${free}`, healthProbeBindAddress: `127.0.0.1:${taken}`, registry: metrics.registry, readyChecks: new Map() }),
        (error: unknown) => {
          assert.ok(error instanceof CliError);
          assert.equal(
            error.message,
            `cannot serve health probes on "127.0.0.1:${taken}" (--health-probe-bind-address): the address is already in use (another process, or another replica on the host network); choose another address with --health-probe-bind-address, or 0 to turn it off`,
          );
          return true;
        },
      );
      // The metrics server that had started was closed again: its port is free.
      const again = net.createServer();
      await new Promise<void>((resolve, reject) => again.once('error', reject).listen(free, '127.0.0.1', resolve));
      await new Promise<void>((resolve) => again.close(() => resolve()));

      const off = await startControllerServers({ metricsBindAddress: '0', healthProbeBindAddress: '0', registry: metrics.registry, readyChecks: new Map() });
      assert.equal(off.metricsPort, undefined);
      assert.equal(off.probePort, undefined);
      await off.close();
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
