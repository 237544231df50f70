// Leader election on a real Lease: several electors in this process, each with its own identity,
// against the local API server, with short durations (lease 2 s, renew deadline 1.5 s, retry
// 0.3 s) so that takeovers happen within the test's time.
import assert from 'node:assert/strict';
import { connect as connectTcp, createServer, type Server, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { connect, requestJson, type Connection } from '../../lib/connect';
import { LeaderElector, leaseHolder, type LeaderElectionConfig, type LeaseSpec } from '../../lib/controller/leader';
import { CliError } from '../../lib/errors';
import { adminKubeconfig, restrictedKubeconfig, waitFor, withNamespace } from './harness';

const LEASE = 'kps-leader';
const durations = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 300 };
const admin = connect({ kubeconfig: adminKubeconfig });

interface Lease {
  metadata: { resourceVersion: string } & Record<string, unknown>;
  spec: LeaseSpec;
}
const leasePath = (namespace: string) => `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${LEASE}`;
const readLease = (namespace: string) => requestJson<Lease>(admin, { path: leasePath(namespace) });

/** Who leads each Lease now, across all electors of this file: two at once fails the test. */
const leaders = new Map<string, Set<string>>();

interface Candidate {
  identity: string;
  elector: LeaderElector;
  /** performance.now() of each callback. */
  started: number[];
  stopped: number[];
  newLeaders: string[];
  lines: string[];
  /** Aborts run(); resolves when run() has (released and) returned. */
  stop(): Promise<void>;
  done: Promise<void>;
}

function candidate(namespace: string, identity: string, options: Partial<LeaderElectionConfig> = {}, connection: Connection = admin): Candidate {
  const controller = new AbortController();
  const key = `${namespace}/${LEASE}`;
  if (!leaders.has(key)) leaders.set(key, new Set());
  const current = leaders.get(key)!;
  const self: Omit<Candidate, 'elector' | 'done' | 'stop'> = { identity, started: [], stopped: [], newLeaders: [], lines: [] };
  const elector = new LeaderElector(
    connection,
    { namespace, name: LEASE, identity, ...durations, ...options },
    {
      onStartedLeading: () => {
        assert.equal(current.size, 0, `${identity} started leading while ${[...current].join(', ')} led`);
        current.add(identity);
        self.started.push(performance.now());
      },
      onStoppedLeading: () => {
        current.delete(identity);
        self.stopped.push(performance.now());
      },
      onNewLeader: (leader) => self.newLeaders.push(leader),
    },
    (line) => self.lines.push(line),
  );
  const done = elector.run(controller.signal);
  return {
    ...self,
    elector,
    done,
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

const leading = (candidates: Candidate[]) => candidates.filter((c) => c.elector.isLeader());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('leader election on a Lease', () => {
  test('two electors on one Lease: exactly one leads, the other sees it and waits', async () => {
    await withNamespace('leader-two', async (namespace) => {
      const [a, b] = [candidate(namespace, 'replica-a'), candidate(namespace, 'replica-b')];
      try {
        await waitFor('a leader', async () => leading([a, b]).length === 1, 10_000);
        const [leader] = leading([a, b]);
        const follower = leader === a ? b : a;
        // Three lease durations: the leader renews, the follower never takes over.
        for (let i = 0; i < 30; i++) {
          assert.deepEqual(leading([a, b]), [leader]);
          await sleep(200);
        }
        assert.deepEqual([a.started.length + b.started.length, a.stopped.length + b.stopped.length], [1, 0]);
        const lease = await readLease(namespace);
        assert.equal(lease.spec.holderIdentity, leader!.identity);
        assert.equal(lease.spec.leaseDurationSeconds, 2);
        assert.equal(lease.spec.leaseTransitions, 0, 'created by the leader, never taken over');
        assert.match(lease.spec.renewTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
        assert.ok(Date.now() - Date.parse(lease.spec.renewTime!) < 1000, `renewed lately: ${lease.spec.renewTime}`);
        assert.equal(follower!.elector.holder(), leader!.identity);
        assert.deepEqual(follower!.newLeaders, [leader!.identity]);
        assert.deepEqual(await leaseHolder(admin, namespace, LEASE), { holder: leader!.identity, renewTime: lease.spec.renewTime });
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
      assert.equal(await leaseHolder(admin, namespace, LEASE), undefined, 'released');
    });
  });

  test('a leader that stops releases the Lease: the other leads within a retry period or so, and transitions are counted', async () => {
    await withNamespace('leader-release', async (namespace) => {
      const a = candidate(namespace, 'replica-a');
      await waitFor('replica-a to lead', async () => a.elector.isLeader(), 10_000);
      const b = candidate(namespace, 'replica-b');
      try {
        await waitFor('replica-b to see replica-a', async () => b.newLeaders.includes('replica-a'), 5000);
        await a.stop();
        const released = performance.now();
        const lease = await readLease(namespace);
        if (lease.spec.holderIdentity !== 'replica-b') {
          // client-go's ReleaseOnCancel record: no holder, 1 s, times of the release.
          assert.equal(lease.spec.holderIdentity, '');
          assert.equal(lease.spec.leaseDurationSeconds, 1);
          assert.equal(lease.spec.leaseTransitions, 0);
        }
        await waitFor('replica-b to lead', async () => b.elector.isLeader(), 5000);
        const takeover = b.started[0]! - released;
        // Candidates retry every 0.3 s × (1 + up to 1.2 jitter): 0.66 s at most, plus the request.
        assert.ok(takeover < 1000, `replica-b led ${takeover.toFixed(0)} ms after the release`);
        console.log(`# takeover after release: ${takeover.toFixed(0)} ms`);
        assert.equal((await readLease(namespace)).spec.leaseTransitions, 1);

        // And back: a new replica takes over from replica-b; a second transition.
        const c = candidate(namespace, 'replica-c');
        await waitFor('replica-c to see replica-b', async () => c.newLeaders.includes('replica-b'), 5000);
        await b.stop();
        await waitFor('replica-c to lead', async () => c.elector.isLeader(), 5000);
        const final = await readLease(namespace);
        assert.equal(final.spec.holderIdentity, 'replica-c');
        assert.equal(final.spec.leaseTransitions, 2);
        await c.stop();
        assert.deepEqual([a.stopped.length, b.stopped.length, c.stopped.length], [1, 1, 1]);
        assert.ok(a.lines.some((line) => /replica-a released Lease/.test(line)), a.lines.join('\n'));
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });
  });

  test('a leader that dies without releasing: the other takes over after the lease duration, not before', async () => {
    await withNamespace('leader-crash', async (namespace) => {
      const a = candidate(namespace, 'replica-a', { releaseOnCancel: false });
      await waitFor('replica-a to lead', async () => a.elector.isLeader(), 10_000);
      const b = candidate(namespace, 'replica-b');
      try {
        await waitFor('replica-b to see replica-a', async () => b.newLeaders.includes('replica-a'), 5000);
        await sleep(700);
        await a.stop(); // stops renewing, leaves the Lease as it is: a crash, for the others
        const last = await readLease(namespace);
        assert.equal(last.spec.holderIdentity, 'replica-a', 'not released');
        // renewTime was stamped before its request went out, so B cannot have seen it earlier.
        const lastRenewal = Date.parse(last.spec.renewTime!);
        let tookOverAt = 0;
        await waitFor('replica-b to lead', async () => {
          if (b.elector.isLeader()) tookOverAt = Date.now();
          return tookOverAt > 0;
        }, 10_000);
        const after = tookOverAt - lastRenewal;
        console.log(`# takeover after the last renewal: ${after} ms (lease 2000 ms)`);
        assert.ok(after >= 2000, `replica-b took over ${after} ms after replica-a's last renewal: before the lease expired`);
        assert.ok(after < 2000 + 2000, `replica-b took over ${after} ms after replica-a's last renewal`);
        const lease = await readLease(namespace);
        assert.equal(lease.spec.holderIdentity, 'replica-b');
        assert.equal(lease.spec.leaseTransitions, 1);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });
  });

  test('a third party that writes another holder into the Lease: our leader steps down within the renew deadline and stops writing', async () => {
    await withNamespace('leader-intruder', async (namespace) => {
      const a = candidate(namespace, 'replica-a');
      try {
        await waitFor('replica-a to lead', async () => a.elector.isLeader(), 10_000);
        const lease = await readLease(namespace);
        const now = new Date().toISOString().replace('Z', '000Z');
        const intruded = await requestJson<Lease>(admin, {
          method: 'PUT',
          path: leasePath(namespace),
          body: { ...lease, spec: { holderIdentity: 'intruder', leaseDurationSeconds: 60, acquireTime: now, renewTime: now, leaseTransitions: 7 } },
        });
        const written = performance.now();
        await waitFor('replica-a to step down', async () => !a.elector.isLeader(), 5000);
        const stepDown = a.stopped[0]! - written;
        console.log(`# step-down after the overwrite: ${stepDown.toFixed(0)} ms`);
        assert.ok(stepDown <= durations.renewDeadlineMs, `stepped down ${stepDown.toFixed(0)} ms after the overwrite`);
        assert.equal(a.elector.holder(), 'intruder');
        assert.ok(a.newLeaders.includes('intruder'));
        // Still a candidate: it waits for the intruder's 60 s lease and never writes meanwhile.
        await sleep(1500);
        const after = await readLease(namespace);
        assert.equal(after.metadata.resourceVersion, intruded.metadata.resourceVersion, 'nobody wrote after the intruder');
      } finally {
        await a.stop();
      }
      assert.equal((await readLease(namespace)).spec.holderIdentity, 'intruder', 'stopping does not release a lease we do not hold');
    });
  });

  test('a leader cut off from the API server steps down at the renew deadline, before the lease expires for the others', async () => {
    await withNamespace('leader-cutoff', async (namespace) => {
      const proxy = await blackHoleProxy(new URL(admin.config.server));
      const throughProxy: Connection = { ...admin, config: { ...admin.config, server: `https://127.0.0.1:${proxy.port}` } };
      // A renew deadline well inside the lease, so that the margin is not the test machine's timer slack.
      const cutoff = { ...durations, renewDeadlineMs: 1200 };
      const a = candidate(namespace, 'replica-a', cutoff, throughProxy);
      try {
        await waitFor('replica-a to lead', async () => a.elector.isLeader(), 10_000);
        await sleep(500);
        proxy.cut();
        const cut = performance.now();
        const lastRenewal = Date.parse((await readLease(namespace)).spec.renewTime!);
        await waitFor('replica-a to step down', async () => !a.elector.isLeader(), 5000);
        const stepDownWall = Date.now() - (performance.now() - a.stopped[0]!);
        const sinceCut = a.stopped[0]! - cut;
        console.log(`# step-down after the cut: ${sinceCut.toFixed(0)} ms; after the last renewal: ${(stepDownWall - lastRenewal).toFixed(0)} ms`);
        // The failing round started after the last renewal was sent and gives up at its deadline:
        // before the lease expires for the others, not before the deadline.
        assert.ok(stepDownWall - lastRenewal < cutoff.leaseDurationMs, 'stepped down before the lease expired for the others');
        assert.ok(stepDownWall - lastRenewal >= cutoff.renewDeadlineMs - 20, `stepped down ${stepDownWall - lastRenewal} ms after the last renewal: before the deadline`);
        assert.ok(a.lines.some((line) => /did not answer in time|renew deadline/.test(line)), a.lines.join('\n'));
      } finally {
        proxy.close();
        await a.stop();
      }
    });
  });

  test('a user without rights on leases gets one line naming the missing right, and the elector stops', async () => {
    await withNamespace('leader-forbidden', async (namespace) => {
      const restricted = connect({ kubeconfig: restrictedKubeconfig });
      const r = candidate(namespace, 'replica-r', {}, restricted);
      const error = await r.done.then(
        () => undefined,
        (rejection: unknown) => rejection,
      );
      assert.ok(error instanceof CliError, `run() rejected with ${String(error)}`);
      assert.doesNotMatch(error.message, /\n/);
      assert.match(
        error.message,
        new RegExp(
          `^leader election on Lease ${namespace}/${LEASE}: forbidden: .*User "restricted" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "${namespace}" \\(check with: kubectl auth can-i get leases.coordination.k8s.io -n ${namespace}\\); leader election needs get, create and update on leases.coordination.k8s.io in namespace "${namespace}"$`,
        ),
      );
      assert.deepEqual([r.started.length, r.stopped.length], [0, 0]);
    });
  });
});

/** A TCP proxy to the API server that can be made to swallow everything, as a network partition does. */
async function blackHoleProxy(target: URL): Promise<{ port: number; cut(): void; close(): void }> {
  let cut = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    if (cut) return; // accepted, never answered
    const upstream = connectTcp(Number(target.port), target.hostname);
    sockets.add(upstream);
    client.on('data', (chunk) => (cut ? undefined : upstream.write(chunk)));
    upstream.on('data', (chunk) => (cut ? undefined : client.write(chunk)));
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    cut: () => {
      cut = true;
    },
    close: () => {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}
