// `remove` as desired state: the exact undo of `add` for one name — detach it from every
// ServiceAccount that references it and delete the secrets we manage, in one namespace or all.
import type { V1Secret } from '@kubernetes/client-node';
import { applyChanges, type ApplyOptions, type Outcome } from './apply';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, listObjects, listServiceAccounts, type Scope } from './cluster';
import { apiStatus, requestJson, type Connection } from './connect';
import { planRemove, type Change, type RemoveRequest } from './plan';
import { isSource } from './sync';
import { SERVES_ANNOTATION } from './controller/options';

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

/** How long a re-check waits for a running controller's writes in flight to land. */
const SETTLE_MS = 1_000;
/** Re-checks before giving up on something that keeps re-making what was removed. */
const MAX_PASSES = 5;

export interface RemovalResult {
  outcomes: Outcome[];
  /** Something still re-made the name after the last pass (a controller that does not stop). */
  stillRemade: boolean;
}

/**
 * Applies a removal: detaches first, then deletes what nothing references any more (a secret is
 * never deleted while a ServiceAccount still names it). A running `sync --watch` controller
 * copies and attaches a source for as long as it exists, so while this runs it can attach the
 * name again, or re-create a copy, and its writes in flight can land just after the source goes.
 * Once a source has been deleted, the removal is checked again (two LISTs) and what was re-made
 * is undone, until a check finds nothing: first after a pause when a controller is known to run
 * (`expectController`), then after a pause each time something was found.
 */
export async function applyRemoval(
  connection: Connection,
  scope: Scope,
  request: RemoveRequest,
  removal: Removal,
  options: ApplyOptions & { expectController?: boolean },
): Promise<RemovalResult> {
  const outcomes = await applyChanges(connection, removal.changes, options);
  const sourceDeleted = outcomes.some((outcome) => removal.sourceDeletes.has(outcome.change) && outcome.result === 'deleted');
  if (!sourceDeleted || (options.dryRun ?? 'none') !== 'none') return { outcomes, stillRemade: false };
  let settle = Boolean(options.expectController);
  for (let pass = 1; pass <= MAX_PASSES; pass++) {
    if (settle) await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const again = await planRemoval(connection, scope, request);
    const undo = again.changes.filter((change) => change.kind === 'detach' || change.kind === 'delete-secret');
    if (undo.length === 0) return { outcomes, stillRemade: false };
    outcomes.push(...(await applyChanges(connection, undo, options)));
    settle = true;
  }
  return { outcomes, stillRemade: true };
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
      ? [{ lease: `${metadata.namespace}/${metadata.name}`, holder: spec!.holderIdentity!, serves: metadata.annotations?.[SERVES_ANNOTATION] ?? 'all' }]
      : [];
  });
}
