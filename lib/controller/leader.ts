// Leader election on a coordination.k8s.io/v1 Lease, with the semantics of client-go's
// tools/leaderelection, so that our replicas and anyone reading the Lease (kubectl, other
// tooling) agree on who leads:
// - a candidate takes the Lease when it has no holder, or when the record it observed has not
//   changed for leaseDurationSeconds — measured on the local monotonic clock from when this
//   process saw the record change, never from renewTime, so clock skew between nodes is harmless;
// - every write is a create or a PUT carrying the resourceVersion last read: a 409 means another
//   replica won this round;
// - the leader renews every retry period; a renewal round that has not succeeded within the renew
//   deadline ends the leadership, and no request of that round outlives the deadline;
// - on stop, the leader clears holderIdentity with leaseDurationSeconds 1 (client-go's
//   ReleaseOnCancel), so another replica takes over at its next try instead of waiting out the
//   lease.
// Two deliberate differences from client-go: a leader that reads a valid Lease held by someone
// else steps down at once (client-go keeps its callbacks running until the renew deadline, though
// IsLeader() is already false), and after losing the lease the elector becomes a candidate again
// instead of returning, so a replica that lost the API server for a while rejoins by itself.
// Plain JSON requests (lib/connect): no client-node here, the controller's start-up stays small.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { apiStatus, describeApiError, requestJson, type Connection } from '../connect';
import { CliError, UsageError, oneLine } from '../errors';

export interface LeaderElectionConfig {
  namespace: string;
  name: string;
  /** Unique per replica: see defaultIdentity(). */
  identity: string;
  /** How long a candidate waits, after the record last changed, before taking the Lease over (whole seconds, >= 1 s). Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a renewal before it steps down. Default 10 s. */
  renewDeadlineMs?: number;
  /** Between attempts (candidates add up to 120 % jitter, as client-go does). Default 2 s. */
  retryPeriodMs?: number;
  /** Clear the Lease when run()'s signal aborts while leading (default true); false only to simulate a crash. */
  releaseOnCancel?: boolean;
  /** Put on the Lease by whoever holds it: how others find our Leases and what their holder does. */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface LeaderCallbacks {
  /** We hold the Lease now; `leadership` aborts the moment we stop leading (lost, or stopping). */
  onStartedLeading(leadership: AbortSignal): void;
  /**
   * We stopped leading: the renew deadline passed, another holder took the Lease, or run() is
   * stopping. On stop, the Lease is released only after a returned promise settles, so work
   * guarded by the lease can finish first — keep that well under the lease duration.
   */
  onStoppedLeading(): void | Promise<void>;
  /** The observed holder changed (reported on every replica, including the first holder seen). */
  onNewLeader?(identity: string): void;
}

export const DEFAULT_LEASE_DURATION_MS = 15_000;
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
export const DEFAULT_RETRY_PERIOD_MS = 2_000;
/** client-go's JitterFactor: candidates wait retryPeriod × (1 + random × 1.2) between tries. */
const JITTER_FACTOR = 1.2;

/** The Lease fields leader election reads and writes (the API's own names). */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; namespace?: string; resourceVersion?: string } & Record<string, unknown>;
  spec?: LeaseSpec & Record<string, unknown>;
}

/** A metav1.MicroTime: RFC 3339 in UTC with six fractional digits (JavaScript clocks give milliseconds). */
export function microTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * Whether a Lease read once has no live holder by the wall clock (renewTime + duration passed).
 * Only for one-shot readers such as leaseHolder(): the elector itself never trusts renewTime.
 */
export function leaseExpired(spec: LeaseSpec | undefined, nowMs: number = Date.now()): boolean {
  if (!spec?.holderIdentity) return true;
  const renewed = Date.parse(spec.renewTime ?? spec.acquireTime ?? '');
  if (Number.isNaN(renewed)) return false; // a holder without times: assume it is alive
  return renewed + (spec.leaseDurationSeconds ?? 0) * 1000 < nowMs;
}

/** The replica's identity: the pod name when run in a cluster (POD_NAME), else hostname_uuid like client-go's examples. */
export function defaultIdentity(environment: NodeJS.ProcessEnv = process.env): string {
  return environment.POD_NAME?.trim() || `${hostname()}_${randomUUID()}`;
}

const leasePath = (namespace: string, name?: string) =>
  `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;

/**
 * Who holds the Lease now, by the wall clock; undefined when it does not exist, has no holder,
 * or has expired. For one-shot verbs (e.g. `remove` warning that a controller runs).
 */
export async function leaseHolder(
  connection: Connection,
  namespace: string,
  name: string,
): Promise<{ holder: string; renewTime?: string } | undefined> {
  let lease: Lease;
  try {
    lease = await requestJson<Lease>(connection, { path: leasePath(namespace, name) });
  } catch (error) {
    if (apiStatus(error) === 404) return undefined;
    throw describeApiError(error, connection);
  }
  const spec = lease.spec;
  if (!spec?.holderIdentity || leaseExpired(spec)) return undefined;
  return { holder: spec.holderIdentity, ...(spec.renewTime ? { renewTime: spec.renewTime } : {}) };
}

/** The election fields of a spec, in a fixed order: "did the record change" compares these. */
function recordOf(spec: LeaseSpec | undefined): LeaseSpec {
  return {
    holderIdentity: spec?.holderIdentity ?? '',
    leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
    acquireTime: spec?.acquireTime ?? '',
    renewTime: spec?.renewTime ?? '',
    leaseTransitions: spec?.leaseTransitions ?? 0,
  };
}

/** Sleeps ms, or less when signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A round's deadline passed before a request could be sent. */
class DeadlinePassed extends Error {}

/** Outcome of one tryAcquireOrRenew. */
type Attempt = 'holding' | 'held-by-other' | 'failed';

export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly description: string;
  /** The Lease as last read or written: its resourceVersion guards the next PUT. */
  private lease: Lease | undefined;
  /** The record last observed, and when (performance.now()) it was first seen as it is. */
  private observed: LeaseSpec = recordOf(undefined);
  private observedRaw = '';
  private observedAt = Number.NEGATIVE_INFINITY;
  private reportedLeader = '';
  private leading = false;
  private lastFailure = '';

  constructor(
    private readonly connection: Connection,
    private readonly config: LeaderElectionConfig,
    private readonly callbacks: LeaderCallbacks,
    private readonly log: (line: string) => void,
  ) {
    this.leaseDurationMs = config.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.renewDeadlineMs = config.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
    this.retryPeriodMs = config.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
    this.description = `Lease ${config.namespace}/${config.name}`;
    // The checks of client-go's NewLeaderElector: a leader must give up before a candidate may
    // take over, and must get several tries within its deadline.
    if (!config.identity) throw new UsageError('leader election needs an identity for this replica');
    if (this.leaseDurationMs < 1000 || this.leaseDurationMs % 1000 !== 0) {
      throw new UsageError(`the lease duration must be a whole number of seconds, at least 1s (got ${this.leaseDurationMs}ms)`);
    }
    if (this.leaseDurationMs <= this.renewDeadlineMs) throw new UsageError('the lease duration must be longer than the renew deadline');
    if (this.renewDeadlineMs <= JITTER_FACTOR * this.retryPeriodMs) {
      throw new UsageError(`the renew deadline must be longer than ${JITTER_FACTOR} × the retry period`);
    }
    if (this.retryPeriodMs <= 0) throw new UsageError('the retry period must be positive');
  }

  /** Whether we lead now: between onStartedLeading and onStoppedLeading. */
  isLeader(): boolean {
    return this.leading;
  }

  /** The holder last observed on the Lease (undefined: none seen, or released). */
  holder(): string | undefined {
    return this.observed.holderIdentity || undefined;
  }

  /**
   * Campaigns, leads and renews until signal aborts; then releases the Lease if we hold it and
   * resolves. Rejects with a one-line CliError when the Lease cannot be used at all (forbidden,
   * unauthorized, the namespace missing): the caller should exit non-zero.
   */
  async run(signal: AbortSignal): Promise<void> {
    this.log(`leader election: ${this.config.identity} is a candidate for ${this.description}`);
    while (!signal.aborted) {
      if (!(await this.acquire(signal))) return;
      if (signal.aborted) {
        // Won just as we were told to stop: nobody has started work under this lease.
        await this.release();
        return;
      }
      const leadership = new AbortController();
      this.leading = true;
      this.log(`leader election: ${this.config.identity} leads (${this.description})`);
      let fatal: unknown;
      let why = 'stopping';
      try {
        this.callbacks.onStartedLeading(leadership.signal);
        why = await this.renew(signal);
      } catch (error) {
        fatal = error;
        why = error instanceof Error ? error.message : String(error);
      } finally {
        this.leading = false;
        leadership.abort();
      }
      this.log(`leader election: ${this.config.identity} stopped leading: ${why}`);
      try {
        await this.callbacks.onStoppedLeading();
      } finally {
        if (signal.aborted && this.config.releaseOnCancel !== false) await this.release();
      }
      if (fatal !== undefined) throw fatal;
    }
  }

  /** Tries until we hold the Lease (true) or signal aborts (false); jittered like client-go's acquire. */
  private async acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      const attempt = await this.tryAcquireOrRenew(undefined);
      this.reportTransition();
      if (attempt === 'holding') return true;
      await sleep(this.retryPeriodMs * (1 + Math.random() * JITTER_FACTOR), signal);
    }
    return false;
  }

  /**
   * Renews every retry period while we lead. Each round retries until the renew deadline from its
   * start; returns why leadership ended. client-go's wait.Until(PollImmediateUntil(...)).
   */
  private async renew(signal: AbortSignal): Promise<string> {
    for (;;) {
      // The first round too waits a retry period: client-go renews at once, a write that the
      // acquisition has just made.
      await sleep(this.retryPeriodMs, signal);
      if (signal.aborted) return 'stopping';
      const deadline = performance.now() + this.renewDeadlineMs;
      for (;;) {
        if (signal.aborted) return 'stopping';
        const attempt = await this.tryAcquireOrRenew(deadline);
        this.reportTransition();
        if (attempt === 'holding') break;
        if (attempt === 'held-by-other') return `${this.observed.holderIdentity} holds the lease now`;
        const left = deadline - performance.now();
        if (left <= 0) return `could not renew the lease within the renew deadline (${this.renewDeadlineMs / 1000}s)`;
        await sleep(Math.min(this.retryPeriodMs, left), signal);
        if (!signal.aborted && performance.now() >= deadline) {
          return `could not renew the lease within the renew deadline (${this.renewDeadlineMs / 1000}s)`;
        }
      }
    }
  }

  /** Whether the observed record, as first seen at observedAt, is still within its lease duration. */
  private observedValid(now: number): boolean {
    return this.observedAt + (this.observed.leaseDurationSeconds ?? 0) * 1000 > now;
  }

  private setObserved(lease: Lease): void {
    this.lease = lease;
    this.observed = recordOf(lease.spec);
    this.observedRaw = JSON.stringify(this.observed);
    this.observedAt = performance.now();
  }

  /**
   * client-go's tryAcquireOrRenew: the leader first PUTs on the resourceVersion it last wrote (one
   * request per renewal); otherwise, or when that conflicts, it reads the Lease, and writes only
   * when the Lease is ours, has no holder, or has not changed for its lease duration.
   */
  private async tryAcquireOrRenew(deadline: number | undefined): Promise<Attempt> {
    const now = microTime();
    const identity = this.config.identity;
    const record: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: this.leaseDurationMs / 1000,
      acquireTime: now,
      renewTime: now,
    };
    try {
      if (this.lease && this.observed.holderIdentity === identity && this.observedValid(performance.now())) {
        try {
          this.setObserved(await this.put({ ...record, acquireTime: this.observed.acquireTime, leaseTransitions: this.observed.leaseTransitions }, deadline));
          return this.succeeded();
        } catch {
          // Someone wrote after our last renewal (409), or the Lease is gone, or the request
          // failed: as client-go, read the Lease and decide on the slow path.
        }
      }
      let current: Lease;
      try {
        current = await requestJson<Lease>(this.withTimeout(deadline), { path: leasePath(this.config.namespace, this.config.name) });
      } catch (error) {
        if (apiStatus(error) !== 404) throw error;
        try {
          this.setObserved(await this.create({ ...record, leaseTransitions: 0 }, deadline));
        } catch (createError) {
          // The Lease was missing; a 404 now means its namespace is: no retry will help.
          if (apiStatus(createError) === 404) throw this.fatal(createError);
          throw createError;
        }
        return this.succeeded();
      }
      this.lease = current;
      const seen = recordOf(current.spec);
      const raw = JSON.stringify(seen);
      if (raw !== this.observedRaw) {
        this.observed = seen;
        this.observedRaw = raw;
        this.observedAt = performance.now();
      }
      const ours = seen.holderIdentity === identity;
      if (seen.holderIdentity && !ours && this.observedValid(performance.now())) return 'held-by-other';
      const next: LeaseSpec = ours
        ? { ...record, acquireTime: seen.acquireTime, leaseTransitions: seen.leaseTransitions }
        : { ...record, leaseTransitions: (seen.leaseTransitions ?? 0) + 1 };
      this.setObserved(await this.put(next, deadline));
      return this.succeeded();
    } catch (error) {
      return this.failed(error);
    }
  }

  private succeeded(): Attempt {
    this.lastFailure = '';
    return 'holding';
  }

  /**
   * A write that lost (409), a transient failure, or the deadline: 'failed', to retry; logged
   * once until it changes. Errors that no retry can fix are thrown as one line.
   */
  private failed(error: unknown): Attempt {
    if (error instanceof CliError) throw error;
    const status = apiStatus(error);
    if (status === 409) return 'failed';
    if (status !== undefined && status >= 400 && status < 500 && status !== 404 && status !== 408 && status !== 429) {
      throw this.fatal(error);
    }
    const message = error instanceof DeadlinePassed ? 'the renew deadline passed' : this.describeTransient(error);
    if (message !== this.lastFailure) {
      this.lastFailure = message;
      this.log(`leader election: ${this.description}: ${message}; retrying every ${this.retryPeriodMs / 1000}s`);
    }
    return 'failed';
  }

  /** One line for a failure worth retrying; our own request timeouts are not --request-timeout's. */
  private describeTransient(error: unknown): string {
    const name = (error as { name?: string } | undefined)?.name;
    if (name === 'AbortError' || name === 'TimeoutError') {
      return `the API server at ${this.connection.config.server} did not answer in time`;
    }
    return describeApiError(error, this.connection).message;
  }

  private fatal(error: unknown): CliError {
    const described = describeApiError(error, this.connection);
    const rights =
      apiStatus(error) === 403 ? `; leader election needs get, create and update on leases.coordination.k8s.io in namespace "${this.config.namespace}"` : '';
    return new CliError(`leader election on ${this.description}: ${oneLine(described.message)}${rights}`, described.exitCode, error);
  }

  /** The connection with a request timeout that ends at the round's deadline, and never exceeds the renew deadline. */
  private withTimeout(deadline: number | undefined): Pick<Connection, 'config' | 'requestTimeoutMs'> {
    let timeout = Math.min(this.connection.requestTimeoutMs ?? Number.POSITIVE_INFINITY, this.renewDeadlineMs);
    if (deadline !== undefined) {
      const left = Math.floor(deadline - performance.now());
      if (left <= 0) throw new DeadlinePassed();
      timeout = Math.min(timeout, left);
    }
    return { config: this.connection.config, requestTimeoutMs: timeout };
  }

  private async create(spec: LeaseSpec, deadline: number | undefined): Promise<Lease> {
    return requestJson<Lease>(this.withTimeout(deadline), {
      method: 'POST',
      path: leasePath(this.config.namespace),
      body: {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.config.name, namespace: this.config.namespace, ...this.ownMetadata(undefined) },
        spec,
      },
    });
  }

  /** PUT of the Lease last seen with a new spec: its resourceVersion makes a concurrent write a 409. */
  private async put(spec: LeaseSpec, deadline: number | undefined): Promise<Lease> {
    const lease = this.lease!;
    return requestJson<Lease>(this.withTimeout(deadline), {
      method: 'PUT',
      path: leasePath(this.config.namespace, this.config.name),
      body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { ...lease.metadata, ...this.ownMetadata(lease.metadata) }, spec },
    });
  }

  /** The configured labels and annotations over those the Lease has. */
  private ownMetadata(metadata: Lease['metadata'] | undefined): { labels?: Record<string, string>; annotations?: Record<string, string> } {
    const merged = (key: 'labels' | 'annotations') => {
      const own = this.config[key];
      return own ? { [key]: { ...(metadata?.[key] as Record<string, string> | undefined), ...own } } : {};
    };
    return { ...merged('labels'), ...merged('annotations') };
  }

  /** client-go's release: if we still appear as the holder, clear it with a 1 s duration so others take over at once. */
  private async release(): Promise<void> {
    if (!this.lease || this.observed.holderIdentity !== this.config.identity) return;
    const now = microTime();
    try {
      this.setObserved(
        await this.put({ holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: this.observed.leaseTransitions }, undefined),
      );
      this.reportTransition();
      this.log(`leader election: ${this.config.identity} released ${this.description}`);
    } catch (error) {
      // Someone else wrote it (409), or the API server is unreachable: it expires by itself.
      const message = apiStatus(error) === 409 ? 'another replica wrote it first' : this.describeTransient(error);
      this.log(`leader election: could not release ${this.description}: ${message}`);
    }
  }

  /** client-go's maybeReportTransition: onNewLeader once per change of the observed holder. */
  private reportTransition(): void {
    const holder = this.observed.holderIdentity ?? '';
    if (holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    if (!holder) return;
    if (holder !== this.config.identity) this.log(`leader election: ${holder} leads ${this.description}`);
    this.callbacks.onNewLeader?.(holder);
  }
}
