// `remove` as desired state: the exact undo of `add` for one name — detach it from every
// ServiceAccount that references it and delete the secrets we manage, in one namespace or all.
import type { V1Secret } from '@kubernetes/client-node';
import { applyChanges, type ApplyOptions, type Outcome } from './apply';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, listObjects, listServiceAccounts, type Scope } from './cluster';
import { apiStatus, requestJson, type Connection } from './connect';
import { planRemove, type Change, type RemoveRequest } from './plan';
import { isSource } from './sync';
import { LEASE_SERVES_ANNOTATION } from './controller/options';

export interface Removal {
  changes: Change[];
  /** The delete-secret changes that delete a source (a managed pull secret made by add). */
  sourceDeletes: Set<Change>;
}

/** Two paginated LISTs (secrets of that name, ServiceAccounts), whatever the number of namespaces. */
export async function planRemoval(connection: Connection, scope: Scope, request: RemoveRequest): Promise<Removal> {
  const fieldSelector = `metadata.name=${request.name}`;
  const [secrets, serviceAccounts] = await Promise.all([
    listObjects<V1Secret>(connection, 'secrets', { ...('namespace' in scope ? { namespace: scope.namespace } : {}), fieldSelector }),
    listServiceAccounts(connection, scope),
  ]);
  const changes = planRemove(request, secrets, serviceAccounts);
  const sources = new Set(secrets.filter(isSource).map((s) => s.metadata!.namespace!));
  const sourceDeletes = new Set(changes.filter((c) => c.kind === 'delete-secret' && sources.has(c.namespace)));
  return { changes, sourceDeletes };
}

/**
 * Applies a removal: detaches first, then deletes what nothing references any more (a secret is
 * never deleted while a ServiceAccount still names it). A running `sync --watch` controller
 * copies and attaches a source for as long as the source exists, so while this runs it can attach
 * the name again, or re-create a copy, before the source goes. Once a source has been deleted, a
 * second pass (two more LISTs) undoes what it made meanwhile: the controller has nothing left to
 * sync, so that pass stays done.
 */
export async function applyRemoval(connection: Connection, scope: Scope, request: RemoveRequest, removal: Removal, options: ApplyOptions): Promise<Outcome[]> {
  const outcomes = await applyChanges(connection, removal.changes, options);
  const sourceDeleted = outcomes.some((outcome) => removal.sourceDeletes.has(outcome.change) && outcome.result === 'deleted');
  if (!sourceDeleted || (options.dryRun ?? 'none') !== 'none') return outcomes;
  const again = await planRemoval(connection, scope, request);
  const undo = again.changes.filter((change) => change.kind === 'detach' || change.kind === 'delete-secret');
  return undo.length === 0 ? outcomes : [...outcomes, ...(await applyChanges(connection, undo, options))];
}

/** A `sync --watch --leader-elect` controller seen through its Lease. */
export interface RunningController {
  /** The Lease, `namespace/name`. */
  lease: string;
  holder: string;
  /** What it syncs: `all`, or a source `namespace/name`. */
  serves: string;
}

interface LeaseList {
  items: { metadata: { namespace: string; name: string; annotations?: Record<string, string> }; spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number } }[];
}

/**
 * The controllers whose Lease is held now (one LIST of our Leases, wherever they are). A courtesy
 * for warnings: without the right to list Leases, the answer is none.
 */
export async function runningControllers(connection: Connection, now = Date.now()): Promise<RunningController[]> {
  let list: LeaseList;
  try {
    list = await requestJson<LeaseList>(connection, {
      path: '/apis/coordination.k8s.io/v1/leases',
      query: { labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` },
    });
  } catch (error) {
    if ([401, 403, 404].includes(apiStatus(error) ?? 0)) return [];
    throw error;
  }
  return list.items.flatMap(({ metadata, spec }) => {
    const renewed = Date.parse(spec?.renewTime ?? '');
    const held = spec?.holderIdentity && Number.isFinite(renewed) && renewed + (spec.leaseDurationSeconds ?? 0) * 1000 > now;
    return held
      ? [{ lease: `${metadata.namespace}/${metadata.name}`, holder: spec!.holderIdentity!, serves: metadata.annotations?.[LEASE_SERVES_ANNOTATION] ?? 'all' }]
      : [];
  });
}
