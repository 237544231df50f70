// Kubernetes access beyond connecting: the few wide reads every verb starts from (paginated
// LISTs, never a GET per object), the marks that say a secret is ours, and the guarded writes
// to ServiceAccounts. imagePullSecrets has no merge key, so a strategic-merge patch would replace
// the whole list: every edit here is a JSON patch guarded by a resourceVersion `test`, retried
// after a fresh read when someone else wrote first.
import { existsSync } from 'node:fs';
import type { V1DeleteOptions, V1Namespace, V1Pod, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { DOCKERCFG_TYPE, DOCKERCONFIGJSON_TYPE } from './dockerconfig';
import { ApiError, apiCall, apiStatus, describeApiError, requestFrames, requestJson, requestLines, type Connection } from './connect';
import { ProtobufError, decodeWatchEvent } from './protobuf';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'kubectl-pullsecret';
/** sha256 of the secret's content (never the content), so changes are visible without reading it. */
export const CONTENT_HASH_ANNOTATION = 'kubectl-pullsecret/content-sha256';
export const FIELD_MANAGER = 'kubectl-pullsecret';

export const PULL_SECRET_TYPES = [DOCKERCONFIGJSON_TYPE, DOCKERCFG_TYPE] as const;

export function isPullSecret(secret: V1Secret): boolean {
  return (PULL_SECRET_TYPES as readonly string[]).includes(secret.type ?? '');
}

/** Ours: carries the managed-by label. */
export function isManaged(object: { metadata?: { labels?: Record<string, string> } }): boolean {
  return object.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
}

/** Where to read: one namespace, or all of them. */
export type Scope = { namespace: string } | { allNamespaces: true };

const PAGE_SIZE = 500;

/** The core resources the plugin lists. */
export type ListedResource = 'namespaces' | 'secrets' | 'serviceaccounts' | 'pods';

export interface ListOptions {
  /** One namespace; all when undefined (namespaces themselves are cluster-scoped). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** A large read (every namespace's objects): streamed as a watch-list where the server can (see watchList). */
  streamed?: boolean;
}

const KINDS: Record<ListedResource, string> = { namespaces: 'Namespace', secrets: 'Secret', serviceaccounts: 'ServiceAccount', pods: 'Pod' };

interface ListPage<T> {
  items?: T[] | null;
  metadata?: { continue?: string; resourceVersion?: string };
}

/** API path of a core resource, in one namespace or across all. */
export function resourcePath(resource: ListedResource, namespace?: string): string {
  return namespace && resource !== 'namespaces' ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/${resource}` : `/api/v1/${resource}`;
}

/**
 * Whether a failed LIST request may be answered by listing again in full: a 410 (Expired) to a
 * request that carried a continue token means the snapshot the earlier pages came from was
 * compacted away between pages. A 410 to a first page (no token) is not this case: nothing was
 * read yet that a fresh LIST could replace, so it stays an error.
 */
export function continueExpired(error: unknown, continueToken: string | undefined): boolean {
  return continueToken !== undefined && apiStatus(error) === 410;
}

/**
 * A complete LIST, following limit/continue, each page retried on transient errors; also the
 * list's resourceVersion, from which a WATCH can start. Plain JSON (see requestJson): the objects
 * have the API's own field names, with timestamps as strings.
 *
 * When a continued page gets 410 Expired, the pages read so far are dropped and the LIST is made
 * again once, in full (no limit), as client-go's pager does (FullListIfExpired): that one request
 * is one consistent snapshot with its own resourceVersion and cannot expire half-way. Restarting
 * the paginated LIST instead could meet the next compaction again (the API server compacts every
 * 5 minutes by default, and a list slow enough to meet one is likely to meet another); the cost,
 * one answer held whole in memory, is paid only on this rare path. The server's 410 also offers an
 * "inconsistent" continue token; it is not used, since the result would mix two points in time
 * under one resourceVersion, and the controller starts its watches from that version.
 */
export async function listWithVersion<T>(
  connection: Connection,
  resource: ListedResource,
  options: ListOptions = {},
  /** What to keep of each item, applied page by page, so a whole list is never held at once (but after a 410, see above). */
  keep: (item: T) => T = withoutManagedFields,
): Promise<{ items: T[]; resourceVersion: string }> {
  if (options.streamed && testPageSize() === undefined && !watchListRefused.has(connection.config)) {
    try {
      return await retrying(() => watchList(connection, resource, options, keep));
    } catch (error) {
      if (error instanceof ProtobufError && !protobufRefused.has(connection.config)) {
        // JSON from now on: something answered in JSON, or in protobuf we cannot read.
        protobufRefused.add(connection.config);
        return listWithVersion(connection, resource, options, keep);
      }
      if (!refusesWatchList(error)) throw describeApiError(error, connection);
      // Pages, from now on: the server said no once (an older server, the feature off, no watch right).
      watchListRefused.add(connection.config);
    }
  }
  const items: T[] = [];
  let next: string | undefined;
  let limit: number | undefined = testPageSize() ?? PAGE_SIZE;
  let resourceVersion = '';
  let first = true;
  do {
    const request = () =>
      requestJson<ListPage<T>>(connection, {
        path: resourcePath(resource, options.namespace),
        query: { limit, continue: next, labelSelector: options.labelSelector, fieldSelector: options.fieldSelector },
      });
    let page: ListPage<T>;
    try {
      page = await retrying(request);
    } catch (error) {
      if (limit === undefined || !continueExpired(error, next)) throw describeApiError(error, connection);
      testAnnounce(`${resource}: continue expired (410), listing again in full`);
      items.length = 0;
      limit = undefined;
      next = undefined;
      // The full LIST replaces everything read so far, its resourceVersion included.
      page = await apiCall(connection, () => retrying(request));
    }
    // Items of a list carry no kind; stamp it, as kubectl does, so printed objects are complete.
    for (const item of page.items ?? []) items.push(keep({ apiVersion: 'v1', kind: KINDS[resource], ...item }));
    next = page.metadata?.continue || undefined;
    resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    if (first && next) await testPauseAfterFirstPage(resource);
    first = false;
  } while (next);
  return { items, resourceVersion };
}

/**
 * An object without its managedFields: the server's bookkeeping of who set which field, often
 * most of an object's size. Nothing here reads them and nothing prints them (kubectl hides them
 * too), and a sync of 60,000 ServiceAccounts spent a quarter of its CPU collecting the garbage
 * they made while they were kept.
 */
export function withoutManagedFields<T>(object: T): T {
  const metadata = (object as { metadata?: Record<string, unknown> }).metadata;
  if (!metadata || !('managedFields' in metadata)) return object;
  const { managedFields: _managedFields, ...rest } = metadata;
  return { ...object, metadata: rest };
}

/** The initial-events-end bookmark's annotation: what came before it is the complete list. */
const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

/** One line of a WATCH: an event, a bookmark, or an error (a Status as the object). */
export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T & { metadata?: { resourceVersion?: string; annotations?: Record<string, string> }; code?: number; message?: string };
}

/** Connections whose server refused a watch-list: they read in pages. */
const watchListRefused = new WeakSet<object>();

/** Connections whose watch-lists are read in JSON, protobuf having failed once (see listWithVersion). */
const protobufRefused = new WeakSet<object>();

/**
 * Whether a watch-list was refused as such (so pages will do): 422 from a server where the
 * WatchList feature is off (1.33's default) or which predates it, 400/405 from something in
 * between that does not take it, 403 for a user who may list but not watch.
 */
function refusesWatchList(error: unknown): boolean {
  const status = apiStatus(error);
  return status === 400 || status === 403 || status === 405 || status === 422;
}

/** The resources whose objects lib/protobuf decodes: their watch-lists are read in protobuf. */
const PROTOBUF_RESOURCES: ReadonlySet<ListedResource> = new Set(['namespaces', 'secrets', 'serviceaccounts']);

/**
 * A complete list streamed as watch events (KEP-3157 "watch-list": a WATCH with
 * sendInitialEvents): one ADDED event per object, then a bookmark whose resourceVersion is the
 * list's. Measured on the local control plane with 60,000 ServiceAccounts, 121 LIST pages of 500
 * took 1.7 s and one unpaginated LIST 0.55 s; this stream 0.53 s, and neither side ever holds
 * the whole answer (the API server sends it from its watch cache, object by object). Consistent
 * like a LIST: with no resourceVersion and NotOlderThan, the server first brings its cache up
 * to date with etcd.
 *
 * Read in protobuf where lib/protobuf decodes the kind: the server encodes it in a third of the
 * time JSON takes (see there), into the same objects. `encoding` is for the tests that compare.
 */
export async function watchList<T>(
  connection: Connection,
  resource: ListedResource,
  options: ListOptions,
  keep: (item: T) => T,
  encoding: 'protobuf' | 'json' = PROTOBUF_RESOURCES.has(resource) && !protobufRefused.has(connection.config) && !testJsonStreams() ? 'protobuf' : 'json',
): Promise<{ items: T[]; resourceVersion: string }> {
  const items: T[] = [];
  let resourceVersion: string | undefined;
  const onEvent = (event: WatchEvent<T>): 'stop' | undefined => {
    if (event.type === 'ADDED') items.push(keep(event.object));
    // 410 Gone: the server dropped the stream's starting point; a new stream starts afresh.
    else if (event.type === 'ERROR' && event.object.code === 410) throw streamCut(resource);
    else if (event.type === 'ERROR') throw new ApiError(event.object.code ?? 500, JSON.stringify(event.object));
    else if (event.type === 'BOOKMARK' && event.object.metadata?.annotations?.[INITIAL_EVENTS_END] === 'true') {
      resourceVersion = event.object.metadata.resourceVersion ?? '';
      return 'stop';
    }
    return undefined;
  };
  const request = {
    path: resourcePath(resource, options.namespace),
    query: {
      watch: 'true', sendInitialEvents: 'true', resourceVersionMatch: 'NotOlderThan', allowWatchBookmarks: 'true',
      labelSelector: options.labelSelector, fieldSelector: options.fieldSelector,
    },
  };
  const signal = connection.requestTimeoutMs !== undefined ? AbortSignal.timeout(connection.requestTimeoutMs) : undefined;
  if (encoding === 'protobuf') await requestFrames(connection, request, (bytes, start, end) => onEvent(decodeWatchEvent(bytes, start, end) as WatchEvent<T>), signal);
  else await requestLines(connection, request, (line) => onEvent(JSON.parse(line) as WatchEvent<T>), signal);
  // The server ended the stream before the list was complete (it was restarted, say).
  if (resourceVersion === undefined) throw streamCut(resource);
  return { items, resourceVersion };
}

/** A watch-list cut short: a transient failure (see isTransient), so the whole stream is made again. */
const streamCut = (resource: ListedResource) => Object.assign(new Error(`the ${resource} stream ended before its last object`), { code: 'ECONNRESET' });

// Test seams, read only when set. For tests/integration/list-expired.test.ts: a continue token
// only expires when etcd is compacted between two pages, which a test can only arrange with
// small pages and a pause after the first one.

/**
 * KPS_TEST_PAGE_SIZE: pages of this many objects instead of PAGE_SIZE, and pages always, as from
 * an API server that refuses watch-lists (the RBAC minimality tests need that server too).
 */
function testPageSize(): number | undefined {
  const size = Number(process.env.KPS_TEST_PAGE_SIZE);
  return Number.isInteger(size) && size > 0 ? size : undefined;
}

/** KPS_TEST_STREAM_ENCODING=json: watch-lists in JSON, for the sync bench's side-by-side no-op. */
const testJsonStreams = () => process.env.KPS_TEST_STREAM_ENCODING === 'json';

const testAnnounce = (line: string) => {
  if (process.env.KPS_TEST_PAGE_SIZE || process.env.KPS_TEST_PAUSE_AFTER_FIRST_PAGE) process.stderr.write(`${line}\n`);
};

/**
 * KPS_TEST_PAUSE_AFTER_FIRST_PAGE=FILE: after the first page of a LIST that has more pages, says
 * so on stderr and waits until FILE exists. A file rather than a fixed time, because the API
 * server notices an etcd compaction only on its own schedule (its watch cache checks every 15 s),
 * so the test decides when the pause may end.
 */
async function testPauseAfterFirstPage(resource: ListedResource): Promise<void> {
  const gate = process.env.KPS_TEST_PAUSE_AFTER_FIRST_PAGE;
  if (!gate) return;
  testAnnounce(`paused after the first page of ${resource}`);
  while (!existsSync(gate)) await new Promise((resolve) => setTimeout(resolve, 50));
}

export async function listObjects<T>(connection: Connection, resource: ListedResource, options: ListOptions = {}, keep?: (item: T) => T): Promise<T[]> {
  return (await listWithVersion<T>(connection, resource, options, keep)).items;
}

const inScope = (scope: Scope): { namespace?: string } => ('namespace' in scope ? { namespace: scope.namespace } : {});

/** Every pull secret in scope: one paginated LIST per pull-secret type. */
export async function listPullSecrets(connection: Connection, scope: Scope): Promise<V1Secret[]> {
  const lists = await Promise.all(
    PULL_SECRET_TYPES.map((type) => listObjects<V1Secret>(connection, 'secrets', { ...inScope(scope), fieldSelector: `type=${type}` })),
  );
  return lists.flat();
}

export const listServiceAccounts = (connection: Connection, scope: Scope) =>
  listObjects<V1ServiceAccount>(connection, 'serviceaccounts', inScope(scope));

export const listPods = (connection: Connection, scope: Scope) => listObjects<V1Pod>(connection, 'pods', inScope(scope));

export const listNamespaces = (connection: Connection) => listObjects<V1Namespace>(connection, 'namespaces');

const TRANSIENT_STATUS = new Set([429, 500, 502, 503, 504]);
const TRANSIENT_NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']);

/** Throttling, a server error, or a dropped connection: worth trying again shortly. */
export function isTransient(error: unknown): boolean {
  const status = apiStatus(error);
  if (status !== undefined) return TRANSIENT_STATUS.has(status);
  const code = (error as { code?: string } | undefined)?.code;
  return code !== undefined && TRANSIENT_NETWORK.has(code);
}

/** The API server could not be reached at all (as opposed to refusing one request). */
export function isUnreachable(error: unknown): boolean {
  // A CliError that explains a network failure keeps it as its cause.
  const cause = (error as { cause?: unknown } | undefined)?.cause ?? error;
  const code = (cause as { code?: string } | undefined)?.code;
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT' || (cause as Error)?.name === 'AbortError';
}

/** How long to wait before retry `attempt` (1-based): exponential with jitter, capped. */
export function backoffMs(attempt: number, baseMs = 100, capMs = 2000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

const MAX_RETRY_AFTER_MS = 10_000;

/**
 * How long the API server asked us to wait (429 from priority and fairness, or a 503), from its
 * Retry-After seconds; undefined when it did not say.
 */
export function retryAfterMs(error: unknown): number | undefined {
  const headers = (error as { headers?: Record<string, string | string[] | undefined> } | undefined)?.headers;
  const value = headers?.['retry-after'];
  const seconds = Number(Array.isArray(value) ? value[0] : value);
  return value !== undefined && Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : undefined;
}

/**
 * The one retry policy for single API calls: transient failures are retried with backoff, or
 * after the Retry-After the API server named, whichever is longer.
 */
export async function retrying<T>(call: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.max(backoffMs(attempt), retryAfterMs(error) ?? 0)));
    }
  }
}

export function isNotFound(error: unknown): boolean {
  return apiStatus(error) === 404;
}

/** GET that answers undefined for 404 instead of failing. */
export async function readOrUndefined<T>(connection: Connection, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw describeApiError(error, connection);
  }
}

/**
 * One object by name through LIST with a field selector: the re-reads after a lost race use this
 * instead of GET, so sync needs no `get` permission beyond the `list` it already has.
 */
async function findByName<T>(connection: Connection, resource: ListedResource, name: string, options: ListOptions = {}): Promise<T | undefined> {
  return (await listObjects<T>(connection, resource, { ...options, fieldSelector: `metadata.name=${name}` }))[0];
}

export const findServiceAccount = (connection: Connection, namespace: string, name: string) =>
  findByName<V1ServiceAccount>(connection, 'serviceaccounts', name, { namespace });

export const findNamespace = (connection: Connection, name: string, labelSelector?: string) =>
  findByName<V1Namespace>(connection, 'namespaces', name, labelSelector ? { labelSelector } : {});

export const findSecret = (connection: Connection, namespace: string, name: string) =>
  findByName<V1Secret>(connection, 'secrets', name, { namespace });

export type DryRun = 'none' | 'client' | 'server';

/** The dryRun parameter of a write: only server-side dry runs send one. */
export function dryRunParam(dryRun: DryRun): { dryRun?: string } {
  return dryRun === 'server' ? { dryRun: 'All' } : {};
}

/**
 * DeleteOptions for a delete guarded by resourceVersion. A DELETE with a body takes its options
 * from the body alone (a dryRun query parameter would be ignored and the object really deleted),
 * so a server dry run is said here.
 */
export function guardedDeleteOptions(resourceVersion: string, dryRun: DryRun): V1DeleteOptions {
  return { preconditions: { resourceVersion }, ...(dryRun === 'server' ? { dryRun: ['All'] } : {}) };
}

// The secret writes, as plain JSON requests (see requestJson): a sync of thousands of namespaces
// neither loads the generated client nor runs each answer through its model serializer.

/** POST a Secret. */
export const createSecret = (connection: Connection, namespace: string, body: V1Secret, dryRun: DryRun = 'none') =>
  requestJson<V1Secret>(connection, {
    method: 'POST', path: resourcePath('secrets', namespace), query: { fieldManager: FIELD_MANAGER, ...dryRunParam(dryRun) }, body,
  });

/** PUT a Secret: the body's resourceVersion makes it fail with 409 after a concurrent edit. */
export const replaceSecret = (connection: Connection, namespace: string, name: string, body: V1Secret, dryRun: DryRun = 'none') =>
  requestJson<V1Secret>(connection, {
    method: 'PUT', path: `${resourcePath('secrets', namespace)}/${encodeURIComponent(name)}`, query: { fieldManager: FIELD_MANAGER, ...dryRunParam(dryRun) }, body,
  });

/** DELETE a Secret with these options (see guardedDeleteOptions). */
export const deleteSecret = (connection: Connection, namespace: string, name: string, options: V1DeleteOptions) =>
  requestJson<unknown>(connection, { method: 'DELETE', path: `${resourcePath('secrets', namespace)}/${encodeURIComponent(name)}`, body: options });

/** A JSON patch operation. */
export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'test';
  path: string;
  value?: unknown;
}

/**
 * Whether a guarded patch may have lost a race: 409, or 422 — which is how the API server
 * answers a failed JSON-patch `test` (with a generic "Invalid" message). Whether it really was a
 * race is decided after the next read: a resourceVersion that did not move means it was not.
 */
function mayHaveLostRace(error: unknown): boolean {
  const status = apiStatus(error);
  return status === 409 || status === 422;
}

export type ServiceAccountEdit = (current: V1ServiceAccount) => JsonPatchOp[] | undefined;

const MAX_ATTEMPTS = 40;

/**
 * Applies edit() to a ServiceAccount's latest version: edit returns the JSON-patch operations to
 * apply to what it was given (or undefined when nothing needs to change); the patch is guarded
 * by a `test` of the resourceVersion it was computed from and recomputed after a fresh read when
 * that test fails. Resolves to the patched object (serviceAccount undefined when it does not
 * exist, or stopped existing).
 */
export async function editServiceAccount(
  connection: Connection,
  namespace: string,
  name: string,
  edit: ServiceAccountEdit,
  dryRun: DryRun = 'none',
  known?: V1ServiceAccount,
): Promise<{ changed: boolean; serviceAccount?: V1ServiceAccount }> {
  let rejected: { error: unknown; resourceVersion?: string } | undefined;
  for (let attempt = 1; ; attempt++) {
    // A plan that just listed the ServiceAccount saves the first GET; a lost race re-reads.
    const current = attempt === 1 && known
      ? known
      : await findServiceAccount(connection, namespace, name);
    if (!current) return { changed: false };
    if (rejected && rejected.resourceVersion === current.metadata?.resourceVersion) {
      // Nobody wrote in between: the patch itself was refused.
      throw describeApiError(rejected.error, connection);
    }
    const ops = edit(current);
    if (!ops || ops.length === 0) return { changed: false, serviceAccount: current };
    if (dryRun === 'client') return { changed: true, serviceAccount: applyPatchLocally(current, ops) };
    const guarded: JsonPatchOp[] = [
      { op: 'test', path: '/metadata/resourceVersion', value: current.metadata?.resourceVersion },
      ...ops,
    ];
    try {
      // Retried as is on transient failures: the resourceVersion test makes a repeat harmless.
      const patched = await retrying(() =>
        requestJson<V1ServiceAccount>(connection, {
          method: 'PATCH',
          path: `${resourcePath('serviceaccounts', namespace)}/${encodeURIComponent(name)}`,
          query: { fieldManager: FIELD_MANAGER, ...dryRunParam(dryRun) },
          body: guarded,
          contentType: 'application/json-patch+json',
        }),
      );
      return { changed: true, serviceAccount: patched };
    } catch (error) {
      // Deleted since the read: the next read says so.
      if (isNotFound(error) && attempt < MAX_ATTEMPTS) continue;
      if (!mayHaveLostRace(error) || attempt >= MAX_ATTEMPTS) throw describeApiError(error, connection);
      rejected = { error, resourceVersion: current.metadata?.resourceVersion };
      // Spread competing writers out; the next attempt starts from a fresh read.
      await new Promise((resolve) => setTimeout(resolve, backoffMs(Math.min(attempt, 4), 20, 400)));
    }
  }
}

/** What a JSON patch of add/remove ops on imagePullSecrets would produce, for client dry runs. */
function applyPatchLocally(serviceAccount: V1ServiceAccount, ops: JsonPatchOp[]): V1ServiceAccount {
  const copy: V1ServiceAccount = structuredClone(serviceAccount);
  for (const op of ops) {
    if (op.path === '/imagePullSecrets' && op.op === 'add') copy.imagePullSecrets = op.value as { name: string }[];
    else if (op.path === '/imagePullSecrets/-' && op.op === 'add') {
      copy.imagePullSecrets = [...(copy.imagePullSecrets ?? []), op.value as { name: string }];
    } else if (op.path.startsWith('/imagePullSecrets/') && op.op === 'remove') {
      copy.imagePullSecrets?.splice(Number(op.path.split('/')[2]), 1);
    }
  }
  return copy;
}

/** The operations that attach secretName to a ServiceAccount, keeping every other entry. */
export function attachOps(serviceAccount: V1ServiceAccount, secretName: string): JsonPatchOp[] | undefined {
  const entries = serviceAccount.imagePullSecrets;
  if (entries?.some((entry) => entry.name === secretName)) return undefined;
  // JSON patch tells a missing list from an empty one: `add /-` needs the list to exist.
  return entries === undefined || entries === null
    ? [{ op: 'add', path: '/imagePullSecrets', value: [{ name: secretName }] }]
    : [{ op: 'add', path: '/imagePullSecrets/-', value: { name: secretName } }];
}

/** The operations that detach every entry naming secretName, keeping all others. */
export function detachOps(serviceAccount: V1ServiceAccount, secretName: string): JsonPatchOp[] | undefined {
  const indexes = (serviceAccount.imagePullSecrets ?? [])
    .map((entry, index) => (entry.name === secretName ? index : -1))
    .filter((index) => index >= 0);
  if (indexes.length === 0) return undefined;
  // Highest index first, so earlier removals do not shift later ones.
  return indexes.reverse().map((index) => ({ op: 'remove', path: `/imagePullSecrets/${index}` }));
}
