// `sync` as desired state: every source (a pull secret made by `add`) copied into every selected
// namespace and attached to the selected ServiceAccounts there. Planned from a fixed number of
// reads (namespaces, our secrets and ServiceAccounts as complete lists, foreign same-named
// secrets), so a sync that finds nothing to change makes no write and its cost does not grow
// with GETs per object.
import type { V1Namespace, V1Pod, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import {
  CONTENT_HASH_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  isManaged,
  isPullSecret,
  listObjects,
  resourcePath,
  retrying,
} from './cluster';
import { describeApiError, requestJson, type Connection } from './connect';
import { DOCKERCONFIGJSON_KEY, contentHash } from './dockerconfig';
import { UsageError } from './errors';
import { pullSecretObject, type Change } from './plan';
import { hostLabelMatches, matchingKeys } from './registry';

/** On a copy: the `namespace/name` of its source. */
export const SOURCE_ANNOTATION = 'kubectl-pullsecret/source';
/** On a namespace: "false" keeps sync out of it, whatever the flags say. */
export const SYNC_OPT_OUT_ANNOTATION = 'kubectl-pullsecret/sync';

/** Which namespaces sync writes to. */
export interface NamespaceSelection {
  /** Only these (--namespaces); undefined means all. */
  names?: string[];
  /** Label selector on namespaces (-l), applied by the API server. */
  labelSelector?: string;
  /** Globs of namespaces to leave out (--exclude). */
  exclude: string[];
}

/**
 * Which ServiceAccounts sync attaches to: all, names and globs (`default` is one), or none — the
 * GitOps-safe mode, where ServiceAccounts are never written (another tool owns them) and pods get
 * the secret from the admission webhook alone.
 */
export type ServiceAccountPatterns = 'all' | 'none' | string[];

export interface SyncRequest {
  /** One source (`namespace/name`), or all of them. */
  source: { namespace: string; name: string } | 'all';
  namespaces: NamespaceSelection;
  serviceAccounts: ServiceAccountPatterns;
  prune: boolean;
  force: boolean;
}

/** Everything a sync plan is computed from. */
export interface SyncState {
  /** The namespaces the plan covers (all of them, or the few an event touched). */
  namespaces: V1Namespace[];
  /** With -l: the names of the namespaces that match the selector (the API server decides). */
  labelSelected?: Set<string>;
  /** Every secret we manage: sources and copies. */
  managed: V1Secret[];
  /** Secrets a copy may meet in its namespace: ours, and foreign ones that carry a source's name. */
  sameNamed: V1Secret[];
  serviceAccounts: V1ServiceAccount[];
}

const ref = (secret: V1Secret) => `${secret.metadata!.namespace}/${secret.metadata!.name}`;

export const isCopy = (secret: V1Secret) => isManaged(secret) && Boolean(secret.metadata?.annotations?.[SOURCE_ANNOTATION]);
export const isSource = (secret: V1Secret) => isManaged(secret) && isPullSecret(secret) && !isCopy(secret);

/** Go filepath.Match globs (`*`, `?`, `[...]`), as the kubelet matches registry hosts. */
const matchesGlob = (pattern: string, name: string) => hostLabelMatches(pattern, name);

export function namespaceSelected(namespace: V1Namespace, selection: NamespaceSelection, labelSelected?: Set<string>): boolean {
  const name = namespace.metadata!.name!;
  if (namespace.metadata?.annotations?.[SYNC_OPT_OUT_ANNOTATION] === 'false') return false;
  if (selection.names && !selection.names.includes(name)) return false;
  if (labelSelected && !labelSelected.has(name)) return false;
  return !selection.exclude.some((pattern) => matchesGlob(pattern, name));
}

export function serviceAccountSelected(name: string, patterns: ServiceAccountPatterns): boolean {
  if (patterns === 'none') return false;
  return patterns === 'all' || patterns.some((pattern) => matchesGlob(pattern, name));
}

export const isTerminating = (namespace: V1Namespace) =>
  namespace.status?.phase === 'Terminating' || Boolean(namespace.metadata?.deletionTimestamp);

/** The content a copy carries: the source's data, exactly. */
export function copyObject(source: V1Secret, namespace: string, base?: V1Secret): V1Secret {
  const content = Buffer.from(source.data?.[DOCKERCONFIGJSON_KEY] ?? '', 'base64').toString('utf8');
  const copy = pullSecretObject(namespace, source.metadata!.name!, content, base);
  copy.metadata!.annotations![SOURCE_ANNOTATION] = ref(source);
  return copy;
}

function sourceHash(source: V1Secret): string {
  return contentHash(Buffer.from(source.data?.[DOCKERCONFIGJSON_KEY] ?? '', 'base64'));
}

export function registriesOf(source: V1Secret): string[] {
  try {
    const text = Buffer.from(source.data?.[DOCKERCONFIGJSON_KEY] ?? '', 'base64').toString('utf8');
    return Object.keys((JSON.parse(text) as { auths?: object }).auths ?? {});
  } catch {
    return [];
  }
}

/** The sources in scope; with --all, two sources of one name are an error naming both. */
export function selectSources(request: SyncRequest, managed: V1Secret[]): V1Secret[] {
  const sources = managed.filter(isSource);
  if (request.source !== 'all') {
    const { namespace, name } = request.source;
    const source = sources.find((s) => s.metadata!.namespace === namespace && s.metadata!.name === name);
    if (!source) {
      // A source that is gone still has copies to prune: that is what --prune is for.
      if (request.prune) return [];
      const copy = managed.find((s) => s.metadata!.namespace === namespace && s.metadata!.name === name && isCopy(s));
      throw new UsageError(
        copy
          ? `secret ${namespace}/${name} is a copy of ${copy.metadata!.annotations![SOURCE_ANNOTATION]}; sync its source instead`
          : `no source ${namespace}/${name}: create it first with kubectl pullsecret add ${name} -n ${namespace} (or remove its copies with --prune)`,
      );
    }
    return [source];
  }
  const byName = new Map<string, V1Secret>();
  for (const source of sources) {
    const other = byName.get(source.metadata!.name!);
    if (other) {
      throw new UsageError(
        `two sources are named "${source.metadata!.name}": ${ref(other)} and ${ref(source)}; sync one of them by name (sync NAME -n NAMESPACE) or rename one`,
      );
    }
    byName.set(source.metadata!.name!, source);
  }
  return sources;
}

/** The changes that make the cluster match the request; pure. */
export function planSync(request: SyncRequest, state: SyncState): Change[] {
  const sources = selectSources(request, state.managed);
  const changes: Change[] = [];
  const accountsByNamespace = new Map<string, V1ServiceAccount[]>();
  for (const sa of state.serviceAccounts) {
    const list = accountsByNamespace.get(sa.metadata!.namespace!) ?? [];
    list.push(sa);
    accountsByNamespace.set(sa.metadata!.namespace!, list);
  }
  const secretAt = new Map(state.sameNamed.map((s) => [ref(s), s]));
  const targets = state.namespaces.filter((ns) => namespaceSelected(ns, request.namespaces, state.labelSelected));
  const targetNames = new Set(targets.map((ns) => ns.metadata!.name!));

  const attachments = (namespace: string, name: string) => {
    for (const sa of accountsByNamespace.get(namespace) ?? []) {
      const account = sa.metadata!.name!;
      if (!serviceAccountSelected(account, request.serviceAccounts)) continue;
      if (sa.imagePullSecrets?.some((r) => r.name === name)) continue;
      changes.push({ kind: 'attach', namespace, serviceAccount: account, secret: name, waitForServiceAccount: false, known: sa });
    }
  };

  for (const source of sources) {
    const name = source.metadata!.name!;
    const home = source.metadata!.namespace!;
    const hash = sourceHash(source);
    const registries = registriesOf(source);
    for (const ns of targets) {
      const namespace = ns.metadata!.name!;
      if (isTerminating(ns)) {
        changes.push({ kind: 'skip', namespace, object: `namespace/${namespace}`, reason: 'terminating' });
        continue;
      }
      if (namespace === home) {
        attachments(namespace, name);
        continue;
      }
      const existing = secretAt.get(`${namespace}/${name}`);
      if (!existing) {
        changes.push({ kind: 'create-secret', namespace, name, registries, secret: copyObject(source, namespace) });
      } else if (isCopy(existing) && existing.metadata!.annotations![SOURCE_ANNOTATION] === ref(source)) {
        // Rotation updates in place: never delete and re-create (a window with no credentials).
        if (existing.metadata?.annotations?.[CONTENT_HASH_ANNOTATION] !== hash || existing.data?.[DOCKERCONFIGJSON_KEY] !== source.data?.[DOCKERCONFIGJSON_KEY]) {
          changes.push({ kind: 'update-secret', namespace, name, registries, secret: copyObject(source, namespace, existing) });
        }
      } else if (isManaged(existing) && !request.force) {
        const what = isCopy(existing) ? `a copy of ${existing.metadata!.annotations![SOURCE_ANNOTATION]}` : 'its own source';
        changes.push({ kind: 'fail', namespace, object: `secret/${name}`, reason: `namespace has ${what} named ${name}; not overwritten` });
        continue;
      } else if (!request.force && !isManaged(existing)) {
        changes.push({
          kind: 'fail',
          namespace,
          object: `secret/${name}`,
          reason: `a secret "${name}" not managed by kubectl-pullsecret is in the way (type ${existing.type}); use --force to take it over`,
        });
        continue;
      } else if (existing.type !== source.type) {
        changes.push({
          kind: 'replace-secret', namespace, name, registries,
          resourceVersion: existing.metadata?.resourceVersion ?? '',
          secret: copyObject(source, namespace),
        });
      } else {
        changes.push({ kind: 'update-secret', namespace, name, registries, secret: copyObject(source, namespace, existing) });
      }
      attachments(namespace, name);
    }
  }

  // Copies that should no longer be there: namespace not selected, or source gone. Only in the
  // namespaces this plan covers (the controller plans a few at a time).
  const sourceRefs = new Set(state.managed.filter(isSource).map(ref));
  const inScope = new Set(sources.map(ref));
  const covered = new Set(state.namespaces.map((ns) => ns.metadata!.name!));
  for (const copy of state.managed.filter(isCopy)) {
    const of = copy.metadata!.annotations![SOURCE_ANNOTATION]!;
    const namespace = copy.metadata!.namespace!;
    if (!covered.has(namespace)) continue;
    const sourceGone = !sourceRefs.has(of);
    const deselected = inScope.has(of) && !targetNames.has(namespace);
    // A sync of one source only prunes that source's copies (and copies of nothing).
    if (!(deselected || (sourceGone && (request.source === 'all' || of === refOf(request.source))))) continue;
    const why = sourceGone ? `its source ${of} is gone` : 'its namespace is no longer selected';
    if (!request.prune) {
      changes.push({ kind: 'skip', namespace, object: `secret/${copy.metadata!.name}`, reason: `stale copy (${why}); --prune removes it` });
      continue;
    }
    const name = copy.metadata!.name!;
    const referencing = (accountsByNamespace.get(namespace) ?? []).filter((sa) => sa.imagePullSecrets?.some((r) => r.name === name));
    if (request.serviceAccounts === 'none' && referencing.length > 0) {
      // Detaching would write a ServiceAccount, and deleting would leave it a dangling reference.
      const names = referencing.map((sa) => sa.metadata!.name!).join(', ');
      changes.push({
        kind: 'skip', namespace, object: `secret/${name}`,
        reason: `stale copy (${why}) still referenced by serviceaccount ${names}; --service-accounts none never edits ServiceAccounts`,
      });
      continue;
    }
    for (const sa of referencing) changes.push({ kind: 'detach', namespace, serviceAccount: sa.metadata!.name!, secret: name });
    changes.push({ kind: 'delete-secret', namespace, name, resourceVersion: copy.metadata?.resourceVersion ?? '' });
  }
  return changes;
}

const refOf = (source: { namespace: string; name: string } | 'all') => (source === 'all' ? '' : `${source.namespace}/${source.name}`);

const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

/** The names the sources in scope carry (whether or not a named source is there: planSync says). */
export function sourceNames(request: SyncRequest, managed: V1Secret[]): string[] {
  if (request.source !== 'all') return [request.source.name];
  return [...new Set(managed.filter(isSource).map((s) => s.metadata!.name!))];
}

/**
 * Secrets that are not ours but carry a source's name, in any namespace: what a copy would
 * overwrite. One LIST per name, filtered by the API server on the name and on the missing label,
 * so it returns the few foreign ones, not the thousands of copies the managed LIST already has.
 */
export async function listForeignSameNamed(connection: Connection, names: string[], trim?: (secret: V1Secret) => V1Secret): Promise<V1Secret[]> {
  const lists = await Promise.all(
    names.map((name) =>
      listObjects<V1Secret>(connection, 'secrets', { fieldSelector: `metadata.name=${name}`, labelSelector: `${MANAGED_BY_LABEL}!=${MANAGED_BY_VALUE}` }, trim),
    ),
  );
  return lists.flat();
}

/**
 * The reads a sync plan needs, all at once: the complete lists streamed where the server can
 * (see listWithVersion), and the foreign same-named secrets.
 */
export async function readSyncState(connection: Connection, request: SyncRequest): Promise<SyncState> {
  const { labelSelector } = request.namespaces;
  // A named source's name is known before anything is read: its foreign LIST goes with the others.
  const foreignOfNamed = request.source === 'all' ? undefined : listForeignSameNamed(connection, [request.source.name]);
  const [allNamespaces, labelMatches, managed, serviceAccounts, foreignNamed] = await Promise.all([
    // With -l, the selector's own list says which match, as the API server evaluates it; the
    // others that matter are those holding copies (see namespacesWithCopies), not all of them.
    labelSelector ? undefined : listObjects<V1Namespace>(connection, 'namespaces', { streamed: true }),
    labelSelector ? listObjects<V1Namespace>(connection, 'namespaces', { labelSelector, streamed: true }) : undefined,
    listObjects<V1Secret>(connection, 'secrets', { labelSelector: MANAGED_SELECTOR, streamed: true }),
    listObjects<V1ServiceAccount>(connection, 'serviceaccounts', { streamed: true }),
    foreignOfNamed,
  ]);
  const foreign = foreignNamed ?? (await listForeignSameNamed(connection, sourceNames(request, managed)));
  return {
    namespaces: allNamespaces ?? namespacesWithCopies(labelMatches!, managed),
    ...(labelMatches ? { labelSelected: new Set(labelMatches.map((ns) => ns.metadata!.name!)) } : {}),
    managed,
    sameNamed: [...managed, ...foreign],
    serviceAccounts,
  };
}

/**
 * The namespaces a plan with -l covers: those that match, and those holding copies, where a copy
 * may have gone stale because its namespace stopped matching. Of the latter, a plan reads only
 * the name (they are never targets), so they are not read: at 10,000 namespaces, leaving out the
 * list of every namespace takes a fifth off a no-op sync's reads.
 */
function namespacesWithCopies(matching: V1Namespace[], managed: V1Secret[]): V1Namespace[] {
  const names = new Set(matching.map((ns) => ns.metadata!.name!));
  const namespaces = [...matching];
  for (const copy of managed.filter(isCopy)) {
    const name = copy.metadata!.namespace!;
    if (names.has(name)) continue;
    names.add(name);
    namespaces.push({ metadata: { name } });
  }
  return namespaces;
}

/** A pod that cannot pull an image which a synced secret now covers. */
export interface StuckPod {
  pod: V1Pod;
  image: string;
  secret: string;
}

const PULL_FAILURES = new Set(['ImagePullBackOff', 'ErrImagePull']);

/**
 * The pods that may be stuck: one LIST of the pending ones. Pods got their ServiceAccount's pull
 * secrets when they were created, so what a sync writes cannot change which are stuck: the LIST
 * can run while the sync reads and writes.
 */
export function listPendingPods(connection: Connection): Promise<V1Pod[]> {
  return listObjects<V1Pod>(connection, 'pods', { fieldSelector: 'status.phase=Pending' });
}

/**
 * Of the pending pods, those stuck in ImagePullBackOff for an image that a synced source covers
 * and that they do not already reference, in the selected namespaces: created before the secret
 * was attached, they stay stuck until re-created.
 */
export function findStuckPods(request: SyncRequest, state: SyncState, pods: V1Pod[]): StuckPod[] {
  const sources = selectSources(request, state.managed);
  const selected = new Set(
    state.namespaces.filter((ns) => namespaceSelected(ns, request.namespaces, state.labelSelected)).map((ns) => ns.metadata!.name!),
  );
  const stuck: StuckPod[] = [];
  for (const pod of pods) {
    if (!selected.has(pod.metadata!.namespace!)) continue;
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    for (const status of statuses) {
      if (!PULL_FAILURES.has(status.state?.waiting?.reason ?? '')) continue;
      const source = sources.find((s) => {
        const name = s.metadata!.name!;
        if (pod.spec?.imagePullSecrets?.some((r) => r.name === name)) return false;
        try {
          return matchingKeys(status.image, registriesOf(s)).length > 0;
        } catch {
          return false;
        }
      });
      if (source) {
        stuck.push({ pod, image: status.image, secret: source.metadata!.name! });
        break;
      }
    }
  }
  return stuck;
}

/** Deletes the stuck pods that a controller re-creates (with the secret); reports the others. */
export async function restartStuckPods(connection: Connection, stuck: StuckPod[]): Promise<string[]> {
  const lines: string[] = [];
  for (const { pod } of stuck) {
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    const owner = pod.metadata?.ownerReferences?.find((o) => o.controller);
    if (!owner) {
      lines.push(`pod/${name} skipped: no controller re-creates it; re-create it yourself (namespace ${namespace})`);
      continue;
    }
    try {
      await retrying(() => requestJson(connection, { method: 'DELETE', path: `${resourcePath('pods', namespace)}/${encodeURIComponent(name)}` }));
      lines.push(`pod/${name} deleted: its ${owner.kind} re-creates it with the pull secret (namespace ${namespace})`);
    } catch (error) {
      lines.push(`pod/${name} failed: ${describeApiError(error, connection).message} (namespace ${namespace})`);
    }
  }
  return lines;
}
