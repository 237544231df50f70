// Kubernetes Events (events.k8s.io/v1) about what the controller did, so `kubectl events` and
// `kubectl describe` show it next to the object. Deduplicated the way client-go's
// k8s.io/client-go/tools/events recorder does it, so the API server sees the same load from us as
// from any controller:
//
// - Events are identical when type, action, reason, reportingController, reportingInstance,
//   regarding and related are (client-go's eventKey; the note is not part of it: the series keeps
//   the first one's note).
// - The first one is created. The second, while the first is remembered, turns it into a series
//   (`series.count: 2`, `series.lastObservedTime`) with an immediate patch. Later ones only count
//   in memory; the series is patched on a heartbeat (client-go: every 30 minutes) and one last
//   time when it ends.
// - A series ends (is forgotten, the next identical event is a new Event) once nothing was
//   observed for 6 minutes; a single Event is forgotten 6 minutes after it happened. Both are
//   checked every 6 minutes, as in client-go.
// - A patched Event that is gone (Events expire after the API server's --event-ttl) is created again.
//
// Differences, on purpose: the heartbeat and the final patch are sent only for series whose count
// changed since it was last sent (client-go re-sends every series), a series' pending patch is
// coalesced with later ones, and shutdown (flush) sends what is pending. Writes never block or fail
// the caller: they go through a bounded queue (1000, as client-go's broadcaster), and an event
// that does not fit is dropped and counted.
import { randomUUID } from 'node:crypto';
import { isNotFound, isTransient } from '../cluster';
import { apiStatus, describeApiError, requestJson, type Connection } from '../connect';
import { oneLine } from '../errors';

export const REPORTING_CONTROLLER = 'kubectl-pullsecret';

export type EventType = 'Normal' | 'Warning';

export interface ObjectReference {
  kind?: string;
  apiVersion?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
  fieldPath?: string;
}

export interface EventSeries {
  count: number;
  /** MicroTime: RFC 3339 with microseconds. */
  lastObservedTime: string;
}

/** An events.k8s.io/v1 Event, as far as we write it. */
export interface KubeEvent {
  apiVersion: 'events.k8s.io/v1';
  kind: 'Event';
  metadata: { name: string; namespace: string };
  eventTime: string;
  series?: EventSeries;
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  regarding: ObjectReference;
  related?: ObjectReference;
  note: string;
  type: EventType;
}

// The API server's limits (pkg/apis/core/validation/events.go), in bytes like Go's len().
const NOTE_LIMIT = 1024;
const REPORTING_INSTANCE_LIMIT = 128;

/** client-go's finishTime: how long an Event or a series is remembered after it was last seen. */
export const FINISH_MS = 6 * 60_000;
/** client-go's refreshTime: how often the counts of live series are sent. */
export const HEARTBEAT_MS = 30 * 60_000;
/** client-go's maxQueuedEvents. */
export const QUEUE_CAP = 1000;
/** client-go's maxTriesPerEvent and defaultSleepDuration (jittered by 25%). */
const MAX_TRIES = 12;
const RETRY_SLEEP_MS = 10_000;

/** A MicroTime from milliseconds since the epoch (the extra digits are zeros). */
export const microTime = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000Z');

/** Cuts a string to at most `bytes` UTF-8 bytes without splitting a character. */
export function truncateBytes(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  let cut = Buffer.from(text).subarray(0, bytes).toString('utf8');
  // A split character decodes as U+FFFD at the end: drop it.
  while (cut.endsWith('\uFFFD') && Buffer.byteLength(cut) > bytes - 3) cut = cut.slice(0, -1);
  return cut;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * client-go's event name: `<regarding name>.<creation time in hex nanoseconds>`, or a UUID when
 * that is not a valid name (the regarding object's name may not be; kubernetes issue 127594).
 */
export function eventName(regardingName: string | undefined, unixNanos: bigint): string {
  const name = `${regardingName ?? ''}.${unixNanos.toString(16)}`;
  return name.length <= 253 && DNS_SUBDOMAIN.test(name) ? name : randomUUID();
}

/** A reference with its fields in one order and without empty ones, so equal references compare equal. */
function canonicalReference(reference: ObjectReference | undefined): ObjectReference | undefined {
  if (!reference) return undefined;
  const fields = ['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath'] as const;
  const result: ObjectReference = {};
  for (const field of fields) if (reference[field]) result[field] = reference[field];
  return result;
}

/** client-go's eventKey: what makes two events the same. */
export function eventKey(event: Pick<KubeEvent, 'type' | 'action' | 'reason' | 'reportingController' | 'reportingInstance' | 'regarding' | 'related'>): string {
  return JSON.stringify([
    event.type,
    event.action,
    event.reason,
    event.reportingController,
    event.reportingInstance,
    canonicalReference(event.regarding),
    canonicalReference(event.related) ?? null,
  ]);
}

/** One remembered Event and what the API server has of it. */
export interface CachedEvent {
  key: string;
  event: KubeEvent;
  /** Milliseconds of the first occurrence (the Event's eventTime). */
  firstMs: number;
  /** Milliseconds of the last occurrence. */
  lastMs: number;
  /** The API server has the Event (created, maybe patched since). */
  created: boolean;
  /** series.count the API server has (1 for a single Event, 0 for nothing yet). */
  sentCount: number;
  /** A write for it is waiting in the queue (later changes ride along with it). */
  queued: boolean;
}

const countOf = (entry: CachedEvent) => entry.event.series?.count ?? 1;

/** Whether the API server's copy is behind what we observed. */
export const isDirty = (entry: CachedEvent) => countOf(entry) !== entry.sentCount;

/**
 * The deduplication state, without timers or I/O: tests drive it with their own clock.
 * `observe` says whether an occurrence needs a write now; `heartbeat` and `finish` say which
 * series to send on those ticks.
 */
export class EventCache {
  readonly entries = new Map<string, CachedEvent>();

  constructor(private readonly finishMs = FINISH_MS) {}

  /**
   * Records one occurrence. `write`: a new Event to create, or the second occurrence that makes
   * it a series (sent at once, as client-go does); false for later ones, which the heartbeat sends.
   */
  observe(event: KubeEvent, nowMs: number): { entry: CachedEvent; write: boolean; isNew: boolean } {
    const key = eventKey(event);
    const existing = this.entries.get(key);
    if (!existing) {
      const entry: CachedEvent = { key, event, firstMs: nowMs, lastMs: nowMs, created: false, sentCount: 0, queued: false };
      return { entry, write: true, isNew: true };
    }
    existing.lastMs = nowMs;
    const series = existing.event.series;
    existing.event.series = { count: (series?.count ?? 1) + 1, lastObservedTime: microTime(nowMs) };
    return { entry: existing, write: !series, isNew: false };
  }

  /** Keeps a new entry (once it is sure to be sent: a dropped one is not remembered). */
  remember(entry: CachedEvent): void {
    this.entries.set(entry.key, entry);
  }

  /** The series whose count the API server does not have yet. */
  heartbeat(): CachedEvent[] {
    return [...this.entries.values()].filter((entry) => entry.event.series && isDirty(entry));
  }

  /**
   * Forgets what ended more than finishMs ago (series: last seen; single Events: happened) and
   * returns the ended series that still need their final count sent.
   */
  finish(nowMs: number): CachedEvent[] {
    const final: CachedEvent[] = [];
    for (const [key, entry] of this.entries) {
      const since = entry.event.series ? entry.lastMs : entry.firstMs;
      if (since >= nowMs - this.finishMs) continue;
      this.entries.delete(key);
      if (entry.event.series && isDirty(entry)) final.push(entry);
    }
    return final;
  }
}

export interface EventRecorderOptions {
  /** reportingInstance: which replica (the pod name, or the leader election identity). */
  identity: string;
  /** Where failures to write Events are reported (one line each, rate-limited). */
  log?: (line: string) => void;
  /** Called for each Event dropped because the queue was full (e.g. a metrics counter). */
  onDrop?: () => void;
  queueCap?: number;
  heartbeatMs?: number;
  finishMs?: number;
  maxTries?: number;
  retrySleepMs?: number;
  /** Timeout of one Event write (the connection's own may be none). */
  requestTimeoutMs?: number;
  now?: () => number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });

const isRetryable = (error: unknown) => {
  const name = (error as { name?: string } | undefined)?.name;
  return isTransient(error) || name === 'TimeoutError' || name === 'AbortError';
};

export class EventRecorder {
  /** Events dropped because the queue was full. */
  dropped = 0;
  private readonly cache: EventCache;
  private readonly queue: CachedEvent[] = [];
  private readonly timers: NodeJS.Timeout[];
  private readonly wake = new AbortController();
  private abandoned = false;
  private readonly identity: string;
  private readonly now: () => number;
  private lastNanos = 0n;
  private draining: Promise<void> | undefined;
  private closed = false;
  private lastLogMs = -Infinity;
  private suppressed = 0;

  constructor(
    private readonly connection: Pick<Connection, 'config' | 'requestTimeoutMs'>,
    private readonly options: EventRecorderOptions,
  ) {
    this.cache = new EventCache(options.finishMs ?? FINISH_MS);
    this.identity = truncateBytes(options.identity, REPORTING_INSTANCE_LIMIT);
    this.now = options.now ?? Date.now;
    // unref: Events are never a reason to keep the process alive.
    this.timers = [
      setInterval(() => this.enqueueAll(this.cache.heartbeat()), options.heartbeatMs ?? HEARTBEAT_MS).unref(),
      setInterval(() => this.enqueueAll(this.cache.finish(this.now())), options.finishMs ?? FINISH_MS).unref(),
    ];
  }

  /**
   * Records that something happened to `regarding`. Returns at once; the write happens in the
   * background and its failure is only logged.
   */
  event(regarding: ObjectReference, type: EventType, reason: string, action: string, note: string, related?: ObjectReference): void {
    if (this.closed) return;
    const nowMs = this.now();
    const event: KubeEvent = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      // Objects without a namespace (a Namespace, a ClusterRole) get their Events in "default", as in client-go.
      metadata: { name: eventName(regarding.name, this.uniqueNanos(nowMs)), namespace: regarding.namespace || 'default' },
      eventTime: microTime(nowMs),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.identity,
      action,
      reason,
      regarding: canonicalReference(regarding)!,
      ...(related ? { related: canonicalReference(related)! } : {}),
      note: truncateBytes(oneLine(note), NOTE_LIMIT),
      type,
    };
    const { entry, write, isNew } = this.cache.observe(event, nowMs);
    if (isNew) {
      if (this.queue.length >= (this.options.queueCap ?? QUEUE_CAP)) return this.drop();
      this.cache.remember(entry);
    }
    // A series whose write cannot be queued now stays dirty: the heartbeat sends it.
    if (write) this.enqueue(entry);
  }

  /**
   * Stops the timers, sends what is pending (the latest counts included) and waits for it, at
   * most timeoutMs; what is left then is abandoned. Never rejects. Later events are ignored.
   */
  async flush(timeoutMs = 5000): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    // A write sleeping before its retry goes now, once (no retries after close).
    this.wake.abort();
    this.enqueueAll(this.cache.heartbeat());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.draining, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    const left = this.queue.length + (this.draining ? 1 : 0);
    if (left > 0) this.report(`events: ${left} not sent before shutdown`);
    this.queue.length = 0;
    this.abandoned = true;
  }

  /** How many writes are waiting (for tests and metrics). */
  get pending(): number {
    return this.queue.length;
  }

  /** Creation times in nanoseconds, unique within the process (names must not collide). */
  private uniqueNanos(nowMs: number): bigint {
    const nanos = BigInt(nowMs) * 1_000_000n;
    this.lastNanos = nanos > this.lastNanos ? nanos : this.lastNanos + 1n;
    return this.lastNanos;
  }

  private drop(): void {
    this.dropped++;
    this.options.onDrop?.();
  }

  private enqueueAll(entries: CachedEvent[]): void {
    for (const entry of entries) this.enqueue(entry);
  }

  private enqueue(entry: CachedEvent): void {
    if (entry.queued) return;
    if (this.queue.length >= (this.options.queueCap ?? QUEUE_CAP)) return;
    entry.queued = true;
    this.queue.push(entry);
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  private async drain(): Promise<void> {
    // One write at a time: Events are few, and this keeps them from competing with the
    // controller's own writes for the client's share of the API server.
    while (this.queue.length > 0 && !this.abandoned) {
      const entry = this.queue.shift()!;
      entry.queued = false;
      await this.write(entry);
    }
  }

  private async write(entry: CachedEvent): Promise<void> {
    const maxTries = this.options.maxTries ?? MAX_TRIES;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.send(entry);
        return;
      } catch (error) {
        if (!isRetryable(error) || attempt >= maxTries || this.closed) {
          const what = `${entry.event.reason} about ${entry.event.regarding.kind ?? 'object'} ${[entry.event.regarding.namespace, entry.event.regarding.name].filter(Boolean).join('/')}`;
          this.report(`events: could not write the event ${what}: ${oneLine(describeApiError(error, this.connection))}`);
          return;
        }
        const base = this.options.retrySleepMs ?? RETRY_SLEEP_MS;
        await sleep(base * (1 + Math.random() * 0.25), this.wake.signal);
      }
    }
  }

  /** One attempt: patch the series if the API server has the Event, create it otherwise. */
  private async send(entry: CachedEvent): Promise<void> {
    const connection = { config: this.connection.config, requestTimeoutMs: this.options.requestTimeoutMs ?? 10_000 };
    const { namespace, name } = entry.event.metadata;
    const body: KubeEvent = structuredClone(entry.event);
    const path = `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`;
    // Two passes at most: a create that finds the Event there already (the answer to our own
    // earlier create was lost) turns into the patch of its series.
    for (let pass = 1; pass <= 2; pass++) {
      if (entry.created && body.series) {
        try {
          // What client-go sends: a strategic merge patch of the series alone.
          await requestJson(connection, {
            method: 'PATCH',
            path: `${path}/${encodeURIComponent(name)}`,
            contentType: 'application/strategic-merge-patch+json',
            body: { series: body.series },
          });
          entry.sentCount = body.series.count;
          return;
        } catch (error) {
          // Expired (--event-ttl) or deleted: created again below, series and all, as client-go does.
          if (!isNotFound(error)) throw error;
        }
      }
      try {
        await requestJson(connection, { method: 'POST', path, body });
      } catch (error) {
        if (apiStatus(error) !== 409) throw error;
        entry.created = true;
        if (body.series && pass === 1) continue;
      }
      entry.created = true;
      entry.sentCount = body.series?.count ?? 1;
      return;
    }
  }

  /** A failure line, at most one every 10 s (an unreachable API server fails every write). */
  private report(line: string): void {
    const nowMs = this.now();
    if (nowMs - this.lastLogMs < 10_000) {
      this.suppressed++;
      return;
    }
    const more = this.suppressed > 0 ? ` (and ${this.suppressed} more since the last report)` : '';
    this.suppressed = 0;
    this.lastLogMs = nowMs;
    this.options.log?.(`${line}${more}`);
  }
}
