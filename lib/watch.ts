// `sync --watch`: the controller. After one full sync it keeps a cache of namespaces,
// ServiceAccounts and our secrets from LIST+WATCH (reflectors), and re-plans only the namespaces
// an event touched — from the cache, so an event costs no read — then applies the differences
// with the same plan/apply code as a one-shot sync. It survives the real world: a watch that
// ends is resumed from its last resourceVersion, a 410 Gone re-lists, an API server that is down
// is retried with backoff, and SIGINT/SIGTERM stop it cleanly.
import { performance } from 'node:perf_hooks';
import type { KubernetesObject, V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { applyChanges, type Outcome } from './apply';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, backoffMs, findNamespace, isManaged, listWithVersion, resourcePath, type ListedResource, type WatchEvent } from './cluster';
import { apiStatus, describeApiError, requestLines, type Connection } from './connect';
import { createLogger } from './controller/log';
import { EventRecorder, type EventType, type ObjectReference } from './controller/events';
import { LeaderElector, defaultIdentity } from './controller/leader';
import { createMetrics } from './controller/metrics';
import { SERVES_ANNOTATION, type ManagerOptions } from './controller/options';
import { startControllerServers, type Check } from './controller/servers';
import { CliError, UsageError, oneLine } from './errors';
import { formatOutcome } from './print';
import {
  copyObject,
  isCopy,
  isSource,
  isTerminating,
  namespaceSelected,
  planSync,
  listForeignSameNamed,
  registriesOf,
  selectSources,
  sourceNames,
  type SyncRequest,
  type SyncState,
  SYNC_OPT_OUT_ANNOTATION,
} from './sync';
import { startWebhook, type RunningWebhook, type WebhookOptions } from './webhook';

export interface ControllerOptions {
  concurrency: number;
  /** Leader election, metrics and probe addresses, log format. */
  manager: ManagerOptions;
  /** Also serve the mutating admission webhook. */
  webhook?: WebhookOptions;
  /** Where each finished log line goes (default: stdout). */
  write?: (line: string) => void;
  /** Stops the controller (SIGINT and SIGTERM do too). */
  signal?: AbortSignal;
}

const keyOf = (object: KubernetesObject) =>
  object.metadata?.namespace ? `${object.metadata.namespace}/${object.metadata.name}` : object.metadata!.name!;

/** The parts of a key made by keyOf. */
function splitKey(key: string): { namespace?: string; name: string } {
  const slash = key.indexOf('/');
  return slash === -1 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/**
 * How long the API server keeps one WATCH open: 5 to 10 minutes, at random, as client-go's
 * reflectors ask. Left to the server, it is its --min-request-timeout (30 minutes by default)
 * times 1 to 2. A watch that ends is resumed from its resourceVersion, with no re-list, so an
 * end costs one request. Ending them regularly lets a load balancer move them between API
 * servers, and keeps the resume path in use rather than first run after half an hour or more.
 * KPS_TEST_WATCH_TIMEOUT_SECONDS: the tests' seconds.
 */
function watchTimeoutSeconds(): number {
  const forTests = Number(process.env.KPS_TEST_WATCH_TIMEOUT_SECONDS);
  if (Number.isInteger(forTests) && forTests > 0) return forTests;
  return Math.floor(300 * (1 + Math.random()));
}

/** Whether a's resourceVersion is older than b's (they are etcd revisions in practice). */
function older(a: KubernetesObject, b: KubernetesObject): boolean {
  const [x, y] = [a.metadata?.resourceVersion, b.metadata?.resourceVersion];
  return x !== undefined && y !== undefined && /^\d+$/.test(x) && /^\d+$/.test(y) && BigInt(x) < BigInt(y);
}

/** Errors that no retry fixes: the controller stops with them. */
function fatal(error: unknown): boolean {
  const status = apiStatus(error);
  return status === 401 || status === 403;
}

/**
 * One copy of each string that many cached objects repeat: copies carry their source's content,
 * type, labels and annotations, and every object of a namespace its name. A 10,000-namespace
 * cache held 20,000 equal copies of each (7 MB for the content alone). Emptied when it grows
 * past its bound, which only costs sharing, so namespaces that come and go cannot make it leak.
 */
class StringTable {
  private readonly table = new Map<string, string>();
  private readonly references = new Map<string, { name: string }>();
  constructor(private readonly bound = 200_000) {}

  of<V extends string | undefined>(value: V): V {
    if (value === undefined) return value;
    const known = this.table.get(value);
    if (known !== undefined) return known as V;
    if (this.table.size >= this.bound) this.table.clear();
    this.table.set(value, value);
    return value;
  }

  /** `{ name }` (an imagePullSecrets entry), one frozen object per name: 60,000 ServiceAccounts name a few secrets. */
  reference(entry: { name?: string }): { name?: string } {
    const { name } = entry;
    if (name === undefined || Object.keys(entry).length !== 1) return entry;
    let shared = this.references.get(name);
    if (!shared) {
      if (this.references.size >= this.bound) this.references.clear();
      this.references.set(name, (shared = Object.freeze({ name: this.of(name) })));
    }
    return shared;
  }

  record(values: Record<string, string> | undefined): Record<string, string> | undefined {
    if (!values) return undefined;
    const shared: Record<string, string> = {};
    for (const [key, value] of Object.entries(values)) shared[key] = this.of(value);
    return shared;
  }
}

/**
 * What the controller keeps of each object: only the fields planning reads. Whole objects (their
 * managedFields above all) made the cache of a 10,000-namespace cluster several times larger;
 * uids, and the labels of namespaces and ServiceAccounts (the API server evaluates -l), are not
 * read either. Each kind is built with one fixed shape (absent fields are undefined): objects
 * built from conditional spreads got a hidden class each in V8, 5 MB for 20,000 secrets.
 */
function trimmers(strings: StringTable) {
  const namespace = ({ metadata = {}, status }: V1Namespace): V1Namespace => {
    // Of a namespace's annotations (a last-applied configuration, say), only ours is read.
    const optOut = metadata.annotations?.[SYNC_OPT_OUT_ANNOTATION];
    return {
      metadata: {
        name: strings.of(metadata.name),
        resourceVersion: metadata.resourceVersion,
        annotations: optOut === undefined ? undefined : { [SYNC_OPT_OUT_ANNOTATION]: optOut },
        deletionTimestamp: metadata.deletionTimestamp,
      },
      status: status?.phase === undefined ? undefined : { phase: status.phase },
    };
  };
  const serviceAccount = ({ metadata = {}, imagePullSecrets }: V1ServiceAccount): V1ServiceAccount => ({
    metadata: { name: strings.of(metadata.name), namespace: strings.of(metadata.namespace), resourceVersion: metadata.resourceVersion },
    imagePullSecrets: imagePullSecrets?.map((entry) => strings.reference(entry)),
  });
  /**
   * Our own secrets: an update (a PUT) writes back what is kept, so their labels and annotations
   * are kept whole, and the owner references and finalizers others may have set (else the PUT
   * would take them off).
   */
  const secret = ({ apiVersion, kind, metadata = {}, type, data }: V1Secret): V1Secret => ({
    apiVersion: strings.of(apiVersion),
    kind: strings.of(kind),
    metadata: {
      name: strings.of(metadata.name),
      namespace: strings.of(metadata.namespace),
      resourceVersion: metadata.resourceVersion,
      labels: strings.record(metadata.labels),
      annotations: strings.record(metadata.annotations),
      ownerReferences: metadata.ownerReferences,
      finalizers: metadata.finalizers,
      deletionTimestamp: metadata.deletionTimestamp,
    },
    type: strings.of(type),
    data: strings.record(data),
  });
  return { namespace, serviceAccount, secret };
}

/** LIST then WATCH of one resource into a cache, resuming or re-listing as needed. */
class Reflector<T extends KubernetesObject> {
  /** Cluster-scoped objects (namespaces), by name. */
  private readonly byName = new Map<string, T>();
  /**
   * Namespaced objects, an array per namespace (a namespace holds a few), so that a batch of
   * namespaces costs what it holds, not what the cluster holds. There is no map by
   * namespace/name beside it: its keys and hash tables were a fifth of a 10,000-namespace cache,
   * and a Map per namespace another fifth.
   */
  private readonly byNamespace = new Map<string, T[]>();
  private resourceVersion = '';
  private watcher?: AbortController;
  private stopped = false;
  private failures = 0;

  constructor(
    private readonly what: string,
    private readonly connection: Connection,
    private readonly resource: ListedResource,
    private readonly labelSelector: string | undefined,
    private readonly onEvent: (type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T, previous?: T) => void,
    private readonly onRelist: () => void,
    private readonly onFatal: (error: CliError) => void,
    private readonly log: (line: string) => void,
    private readonly trim: (object: T) => T,
    /** Each time the watch is started again (ended, failed, or 410 Gone). */
    private readonly onRestart: () => void = () => {},
  ) {}

  /** The object of a key (`namespace/name`, or a cluster-scoped object's name). */
  get(key: string): T | undefined {
    const { namespace, name } = splitKey(key);
    if (namespace === undefined) return this.byName.get(name);
    return this.byNamespace.get(namespace)?.find((item) => item.metadata?.name === name);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Every object in the cache (one of the two stores is always empty). */
  all(): T[] {
    return [...this.byName.values(), ...[...this.byNamespace.values()].flat()];
  }

  /** The names of the cluster-scoped objects. */
  names(): IterableIterator<string> {
    return this.byName.keys();
  }

  /** The objects of one namespace. */
  inNamespace(namespace: string): T[] {
    return [...(this.byNamespace.get(namespace) ?? [])];
  }

  private put(object: T): void {
    const { name, namespace } = object.metadata ?? {};
    if (namespace === undefined) {
      this.byName.set(name!, object);
      return;
    }
    const inNamespace = this.byNamespace.get(namespace);
    const at = inNamespace ? inNamespace.findIndex((item) => item.metadata?.name === name) : -1;
    if (at >= 0) inNamespace![at] = object;
    // A new array of the exact size: push() would reserve room for 16 more in each namespace.
    else this.byNamespace.set(namespace, inNamespace ? [...inNamespace, object] : [object]);
  }

  private drop(key: string): void {
    const { namespace, name } = splitKey(key);
    if (namespace === undefined) {
      this.byName.delete(name);
      return;
    }
    const rest = this.byNamespace.get(namespace)?.filter((item) => item.metadata?.name !== name) ?? [];
    if (rest.length > 0) this.byNamespace.set(namespace, rest);
    else this.byNamespace.delete(namespace);
  }

  /** Resolves once the cache holds the complete list; the watch goes on from there. */
  async start(): Promise<void> {
    await this.relist();
    this.watch();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.abort();
  }

  /** Stores our own write, unless the cache already holds something newer. */
  remember(object: T): void {
    const current = this.get(keyOf(object));
    if (!current || !older(object, current)) this.put(this.trim(object));
  }

  forget(key: string): void {
    this.drop(key);
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await listWithVersion<T>(this.connection, this.resource, { labelSelector: this.labelSelector, streamed: true }, this.trim);
    this.byName.clear();
    this.byNamespace.clear();
    for (const item of items) this.put(item);
    this.resourceVersion = resourceVersion;
  }

  /**
   * WATCH from the cache's resourceVersion, handling each event as its line arrives; when the
   * server ends the watch (its timeout), it fails, or says 410 Gone, reconnect() takes over.
   */
  private watch(): void {
    if (this.stopped) return;
    let gone = false;
    const watcher = new AbortController();
    this.watcher = watcher;
    const query = { watch: 'true', resourceVersion: this.resourceVersion, allowWatchBookmarks: 'true', labelSelector: this.labelSelector, timeoutSeconds: watchTimeoutSeconds() };
    requestLines(this.connection, { path: resourcePath(this.resource), query }, (line) => {
      const { type, object } = JSON.parse(line) as WatchEvent<T>;
      if (type === 'ERROR') {
        // 410 Gone: our resourceVersion was compacted away; only a fresh LIST helps.
        if (object.code === 410) gone = true;
        else this.log(`watch of ${this.what}: ${object.message ?? 'error event'}`);
        return;
      }
      this.failures = 0;
      if (object.metadata?.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
      if (type === 'BOOKMARK') return;
      const key = keyOf(object);
      const previous = this.get(key);
      if (type === 'DELETED') this.drop(key);
      else if (!previous || !older(object, previous)) this.put(this.trim(object));
      this.onEvent(type as 'ADDED' | 'MODIFIED' | 'DELETED', object, previous);
    }, watcher.signal).then(
      () => void this.reconnect(undefined, gone),
      // A 410 may also come as the answer's own status, when the watch is not even started.
      (error: unknown) => void (watcher.signal.aborted ? undefined : this.reconnect(error, gone || apiStatus(error) === 410)),
    );
  }

  /** A refused watch: say which right is missing. */
  private watchRefused(error: unknown): CliError {
    if (apiStatus(error) === 403) {
      return new CliError(
        `forbidden: cannot watch ${this.resource} at the cluster scope (check with: kubectl auth can-i watch ${this.resource} --all-namespaces)`,
      );
    }
    return describeApiError(error, this.connection);
  }

  private async reconnect(error: unknown, gone: boolean): Promise<void> {
    if (this.stopped) return;
    this.onRestart();
    if (error && fatal(error)) {
      this.onFatal(this.watchRefused(error));
      return;
    }
    // A watch the server ended normally (its timeout) resumes at once; failures back off.
    if (error || gone) {
      this.failures++;
      const delay = backoffMs(Math.min(this.failures, 8), 250, 10_000);
      if (error) this.log(`watch of ${this.what} lost (${oneLine(describeApiError(error, this.connection))}); retrying in ${(delay / 1000).toFixed(1)}s`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    while (!this.stopped) {
      try {
        if (gone || !this.resourceVersion) {
          await this.relist();
          this.log(`${this.what}: re-listed`);
          this.onRelist();
        }
        this.watch();
        return;
      } catch (relistError) {
        if (fatal(relistError) || (relistError instanceof CliError && /^(forbidden|unauthorized)/.test(relistError.message))) {
          this.onFatal(describeApiError(relistError, this.connection));
          return;
        }
        this.failures++;
        const delay = backoffMs(Math.min(this.failures, 8), 250, 10_000);
        this.log(`${this.what}: ${oneLine(describeApiError(relistError, this.connection))}; retrying in ${(delay / 1000).toFixed(1)}s`);
        await new Promise((resolve) => setTimeout(resolve, delay));
        gone = true;
      }
    }
  }
}

/** How long a replica in a pod keeps answering the webhook after SIGTERM: until its endpoint is gone from the Service. */
const WEBHOOK_DRAIN_MS = 5_000;

/** What an outcome wrote, for the metrics and Events (undefined: nothing was written). */
const writtenKind = (outcome: Outcome) =>
  outcome.change.kind === 'attach' || outcome.change.kind === 'detach' ? 'serviceaccount' : outcome.change.kind.endsWith('secret') ? 'secret' : undefined;

/** The Event for an outcome: Normal for what we changed, Warning for what we could not. */
function eventFor(outcome: Outcome): { regarding: ObjectReference; type: EventType; reason: string; action: string; note: string } | undefined {
  const { change, result, detail } = outcome;
  const kind = writtenKind(outcome);
  if (!kind || result === 'unchanged' || result === 'skipped') return undefined;
  const [, name] = outcome.object.split('/');
  const regarding: ObjectReference = kind === 'serviceaccount'
    ? { apiVersion: 'v1', kind: 'ServiceAccount', namespace: change.namespace, name: name! }
    : { apiVersion: 'v1', kind: 'Secret', namespace: change.namespace, name: name! };
  const action = change.kind === 'attach' ? 'Attach' : change.kind === 'detach' ? 'Detach' : change.kind === 'delete-secret' ? 'Delete' : 'Copy';
  if (result === 'failed') return { regarding, type: 'Warning', reason: `${action}Failed`, action, note: detail ?? 'failed' };
  const reasons: Record<string, string> = { attached: 'PullSecretAttached', detached: 'PullSecretDetached', created: 'PullSecretCopied', updated: 'PullSecretUpdated', replaced: 'PullSecretReplaced', deleted: 'PullSecretPruned' };
  return { regarding, type: 'Normal', reason: reasons[result] ?? 'PullSecretSynced', action, note: formatOutcome(outcome) };
}

/**
 * Runs until stopped: every replica keeps the caches and serves the webhook, probes and metrics;
 * the leader (every process, without --leader-elect) makes the initial sync, then one re-plan per
 * batch of touched namespaces. SIGTERM stops taking work, lets the writes in flight finish,
 * releases the Lease, and keeps answering the webhook until the pod's endpoint is gone.
 */
export async function runController(connection: Connection, request: SyncRequest, options: ControllerOptions): Promise<void> {
  const { manager } = options;
  const logger = createLogger({ format: manager.logFormat, ...(options.write ? { write: options.write } : {}) });
  const log = (line: string) => (/^error: /.test(line) ? logger.error(line.replace(/^error: /, '')) : logger.info(line));
  const stop = new AbortController();
  options.signal?.addEventListener('abort', () => stop.abort());
  let signalled = false;
  const onSignal = () => {
    signalled = true;
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const metrics = createMetrics();
  let synced = false;
  let certificateLoaded = !options.webhook;
  const readyChecks = new Map<string, Check>([['informers', () => synced || 'the caches have not synced yet']]);
  if (options.webhook) readyChecks.set('webhook', () => certificateLoaded || 'the serving certificate is not loaded yet');
  const servers = await startControllerServers({
    metricsBindAddress: manager.metricsBindAddress,
    healthProbeBindAddress: manager.healthProbeBindAddress,
    registry: metrics.registry,
    readyChecks,
  });
  const serving = [
    ...(servers.metricsPort !== undefined ? [`/metrics on port ${servers.metricsPort}`] : []),
    ...(servers.probePort !== undefined ? [`/healthz and /readyz on port ${servers.probePort}`] : []),
  ];
  if (serving.length > 0) log(`serving ${serving.join(', ')}`);
  const identity = defaultIdentity();
  const events = new EventRecorder(connection, { identity, log, onDrop: () => metrics.eventsDropped.inc() });

  const dirty = new Set<string>();
  let allDirty = false;
  let wake: (() => void) | undefined;
  const touch = (namespace?: string) => {
    if (namespace === undefined) allDirty = true;
    else dirty.add(namespace);
    metrics.queueDepth.set(dirty.size);
    wake?.();
  };
  let failure: CliError | undefined;
  const onFatal = (error: CliError) => {
    failure = error;
    stop.abort();
    wake?.();
  };
  const restarted = (resource: string) => () => metrics.watchRestarts.inc({ resource });
  const managedSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
  const trim = trimmers(new StringTable());

  const namespaces = new Reflector<V1Namespace>(
    'namespaces', connection, 'namespaces', undefined,
    (type, ns) => type !== 'DELETED' && touch(ns.metadata!.name!),
    () => touch(), onFatal, log, trim.namespace, restarted('namespaces'),
  );
  // With -l, a second watch says which namespaces match: one that stops matching leaves it.
  const { labelSelector } = request.namespaces;
  const labelled = labelSelector
    ? new Reflector<V1Namespace>(
        `namespaces matching ${labelSelector}`, connection, 'namespaces', labelSelector,
        (_type, ns) => touch(ns.metadata!.name!),
        () => touch(), onFatal, log, trim.namespace, restarted('namespaces'),
      )
    : undefined;
  const serviceAccounts = new Reflector<V1ServiceAccount>(
    'serviceaccounts', connection, 'serviceaccounts', undefined,
    (type, sa) => type !== 'DELETED' && touch(sa.metadata!.namespace!),
    () => touch(), onFatal, log, trim.serviceAccount, restarted('serviceaccounts'),
  );
  const secrets = new Reflector<V1Secret>(
    'secrets', connection, 'secrets', managedSelector,
    (type, secret, previous) => {
      if (isCopy(secret)) return touch(secret.metadata!.namespace!);
      knownSources = undefined;
      // A source that appeared, went, or changed content concerns every namespace.
      if (type !== 'MODIFIED' || JSON.stringify(secret.data) !== JSON.stringify(previous?.data)) touch();
    },
    () => {
      knownSources = undefined;
      touch();
    },
    onFatal, log, trim.secret, restarted('secrets'),
  );
  // The sources among the cached secrets, found again only when a source event or a re-list says so.
  let knownSources: V1Secret[] | undefined;
  const sources = () => (knownSources ??= secrets.all().filter(isSource));
  const reflectors: Reflector<KubernetesObject>[] = [namespaces, serviceAccounts, secrets, ...(labelled ? [labelled] : [])] as Reflector<KubernetesObject>[];

  const remember = (outcomes: Outcome[]) => {
    for (const outcome of outcomes) {
      const change = outcome.change;
      if (change.kind === 'delete-secret' && outcome.result === 'deleted') secrets.forget(`${change.namespace}/${change.name}`);
      const after = outcome.after;
      if (!after?.metadata?.resourceVersion) continue;
      if (change.kind === 'attach' || change.kind === 'detach') serviceAccounts.remember(after as V1ServiceAccount);
      else if (isManaged(after)) secrets.remember(after as V1Secret);
    }
  };
  const seenSkips = new Set<string>();
  const report = (outcomes: Outcome[]) => {
    for (const outcome of outcomes) {
      const kind = writtenKind(outcome);
      if (kind && outcome.result !== 'skipped') metrics.writes.inc({ kind, result: outcome.result });
      if (outcome.result === 'unchanged') continue;
      const line = formatOutcome(outcome);
      // A stale copy or a foreign secret in the way is said once, not on every event.
      if (outcome.result === 'skipped' || outcome.result === 'failed') {
        if (seenSkips.has(line)) continue;
        seenSkips.add(line);
      }
      log(line);
      const event = eventFor(outcome);
      if (event) events.event(event.regarding, event.type, event.reason, event.action, event.note);
    }
  };
  // A source named on the command line that is deleted is not an error of the controller: there
  // is nothing to sync until it comes back (and no copy or reference is made for it meanwhile).
  const sourceGone = (error: unknown) => error instanceof UsageError && /^no source /.test(error.message);
  const apply = async (state: SyncState, signal: AbortSignal) => {
    let changes;
    try {
      changes = planSync(request, state);
    } catch (error) {
      if (!sourceGone(error)) throw error;
      const line = `${(error as Error).message.replace(/: create it first.*/, '')}: nothing to sync until it is created again`;
      if (!seenSkips.has(line)) log(line);
      seenSkips.add(line);
      return;
    }
    seenSkips.forEach((line) => /^no source /.test(line) && seenSkips.delete(line));
    const started = performance.now();
    const outcomes = await applyChanges(connection, changes, { dryRun: 'none', concurrency: options.concurrency, signal });
    metrics.reconcileDuration.observe((performance.now() - started) / 1000);
    remember(outcomes);
    report(outcomes);
  };

  // Leadership: without --leader-elect this process leads from the start.
  let leadership: AbortSignal | undefined = manager.leaderElect ? undefined : stop.signal;
  /**
   * The passes in flight, and the namespaces of their batches. Batches of different namespaces
   * run side by side (at most MAX_BATCHES): a namespace created while another's writes are in
   * flight does not queue behind them. A namespace is in one batch at a time, and a full pass
   * (the first, or after a relist) runs alone.
   */
  const passes = new Set<Promise<void>>();
  const busy = new Set<string>();
  // Settled, not all fulfilled: a failed pass has said so already (or ends the controller).
  const reconciling = () => Promise.allSettled(passes).then(() => undefined);
  const elector = manager.leaderElect
    ? new LeaderElector(
        connection,
        {
          namespace: manager.leaderElectionNamespace,
          name: manager.leaderElectionId,
          identity,
          labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
          annotations: { [SERVES_ANNOTATION]: servesOf(request) },
        },
        {
          onStartedLeading: (signal) => {
            leadership = signal;
            metrics.leader.set(1);
            // A new leader trusts nothing it did not read itself: a full pass.
            touch();
          },
          onStoppedLeading: async () => {
            leadership = undefined;
            metrics.leader.set(0);
            // The Lease is released only once the writes in flight have finished.
            await reconciling();
            if (!stop.signal.aborted) onFatal(new CliError(`leader election lost: Lease ${manager.leaderElectionNamespace}/${manager.leaderElectionId} is no longer ours; stopping so that only the leader writes`));
          },
          onNewLeader: (holder) => holder !== identity && log(`leader election: the leader is ${holder}`),
        },
        log,
      )
    : undefined;
  if (!elector) metrics.leader.set(1);

  let webhook: RunningWebhook | undefined;
  let electing: Promise<void> | undefined;
  let initialPassDone = false;
  /**
   * The state a plan reads, from the caches: of every namespace, or of a batch of a few, whose
   * cost does not grow with the cluster. Only our own secrets are watched; a foreign one in the
   * way shows up as a conflict on create.
   */
  const cachedState = (batch?: Set<string>): SyncState => {
    const managed = batch
      ? [...new Set([...sources(), ...[...batch].flatMap((namespace) => secrets.inNamespace(namespace))])]
      : secrets.all();
    return {
      namespaces: batch ? [...batch].flatMap((namespace) => namespaces.get(namespace) ?? []) : namespaces.all(),
      ...(labelled ? { labelSelected: new Set(batch ? [...batch].filter((namespace) => labelled.has(namespace)) : labelled.names()) } : {}),
      managed,
      sameNamed: managed,
      serviceAccounts: batch ? [...batch].flatMap((namespace) => serviceAccounts.inNamespace(namespace)) : serviceAccounts.all(),
    };
  };
  // The first pass plans from the caches the reflectors have just filled (reading everything a
  // second time doubled the controller's memory at start), plus one small LIST per source name
  // for foreign secrets in the way, so that those are reported before any create meets them.
  const initialPass = async (signal: AbortSignal) => {
    const state = cachedState();
    const foreign = await listForeignSameNamed(connection, sourceNames(request, state.managed), trim.secret);
    await apply({ ...state, sameNamed: [...state.managed, ...foreign] }, signal);
    initialPassDone = true;
  };
  try {
    await Promise.all(reflectors.map((r) => r.start()));
    synced = true;
    // Without leader election the first pass comes before anything else, as it always has; a
    // leader makes it when it starts leading.
    if (!elector) await initialPass(stop.signal);
    if (options.webhook) {
      const serves = servesOf(request);
      webhook = await startWebhook(connection, options.webhook, serves, {
        // A namespace created a moment ago may not have reached the cache: ask the API server.
        selectedNamespace: async (name) => {
          const ns = namespaces.get(name) ?? (await findNamespace(connection, name));
          if (!ns || isTerminating(ns)) return undefined;
          let matches: Set<string> | undefined;
          if (labelled) {
            matches = new Set(labelled.names());
            if (!matches.has(name) && (await findNamespace(connection, name, labelSelector))) matches.add(name);
          }
          return namespaceSelected(ns, request.namespaces, matches) ? ns : undefined;
        },
        sources: () => {
          try {
            return selectSources(request, sources());
          } catch {
            return [];
          }
        },
        // Every replica may write this copy: two that race are safe (the loser's create finds ours).
        ensureCopy: async (source, namespace) => {
          const name = source.metadata!.name!;
          if (namespace === source.metadata!.namespace || secrets.has(`${namespace}/${name}`)) return;
          const outcomes = await applyChanges(
            connection,
            [{ kind: 'create-secret', namespace, name, registries: registriesOf(source), secret: copyObject(source, namespace) }],
            { dryRun: 'none', concurrency: 1 },
          );
          remember(outcomes);
          report(outcomes);
        },
        log,
        observe: (outcome, seconds) => {
          metrics.webhookRequests.inc({ outcome });
          metrics.webhookLatency.observe(seconds);
        },
        onCertificate: (notAfter) => {
          certificateLoaded = true;
          metrics.certificateExpiry.set(notAfter.getTime() / 1000);
        },
      });
    }
    if (elector) {
      electing = elector.run(stop.signal).catch((error: unknown) => onFatal(error instanceof CliError ? error : new CliError(oneLine(error))));
    }
    log(`watching namespaces, serviceaccounts and pull secrets for changes${elector ? ` (leader election on Lease ${manager.leaderElectionNamespace}/${manager.leaderElectionId} as ${identity})` : ''}`);

    while (!stop.signal.aborted) {
      const leading = leadership;
      const full = !initialPassDone || allDirty;
      const waiting = full ? passes.size > 0 : passes.size >= MAX_BATCHES || ![...dirty].some((namespace) => !busy.has(namespace));
      if (!leading || leading.aborted || (!allDirty && dirty.size === 0) || waiting) {
        // Woken by new work, or by a pass that ends. One abort listener per wait, removed again:
        // the loop waits for ever.
        await new Promise<void>((resolve) => {
          const onAbort = () => resolve();
          wake = () => {
            stop.signal.removeEventListener('abort', onAbort);
            resolve();
          };
          stop.signal.addEventListener('abort', onAbort, { once: true });
        });
        wake = undefined;
        continue;
      }
      if (full) {
        allDirty = false;
        dirty.clear();
        metrics.queueDepth.set(0);
        const pass = initialPassDone ? apply(cachedState(), leading) : initialPass(leading);
        passes.add(pass);
        try {
          await pass;
        } catch (error) {
          // Without a first pass there is no controller: a source that is not there, no rights.
          if (!initialPassDone) throw error;
          log(`error: ${oneLine(error)}`);
        } finally {
          passes.delete(pass);
        }
        continue;
      }
      // A batch of a few namespaces is planned from what those namespaces hold, and the sources.
      const batch = [...dirty].filter((namespace) => !busy.has(namespace));
      for (const namespace of batch) {
        dirty.delete(namespace);
        busy.add(namespace);
      }
      metrics.queueDepth.set(dirty.size);
      const pass: Promise<void> = apply(cachedState(new Set(batch)), leading)
        .catch((error: unknown) => log(`error: ${oneLine(error)}`))
        .finally(() => {
          passes.delete(pass);
          for (const namespace of batch) busy.delete(namespace);
          wake?.();
        });
      passes.add(pass);
    }
  } finally {
    // Stop taking work; the writes in flight finish (apply starts no new one once stopped).
    await reconciling();
    await electing;
    for (const reflector of reflectors) reflector.stop();
    if (webhook) {
      // The API server may still call this replica until its endpoint leaves the Service.
      if (signalled && process.env.POD_NAME) await new Promise((resolve) => setTimeout(resolve, WEBHOOK_DRAIN_MS));
      await webhook.close();
    }
    await events.flush();
    await servers.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (failure) throw failure;
  log('stopped');
}

/** Batches of namespaces planned and applied side by side, at most (see runController). */
const MAX_BATCHES = 4;

const servesOf = (request: SyncRequest) => (request.source === 'all' ? 'all' : `${request.source.namespace}/${request.source.name}`);
