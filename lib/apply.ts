// Runs a plan: every change becomes exactly one outcome (done, unchanged, skipped or failed with
// why), so nothing is ever half-applied without being reported. Writes are guarded (resource-
// Version preconditions and JSON-patch tests) and run with bounded concurrency, in two phases
// per namespace: secrets are written (and references removed) before references are added (and
// secrets deleted), and a phase-two change is skipped when the phase-one change it depends on
// failed — never a ServiceAccount pointing at a secret we failed to write.
import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { coreApi } from './client';
import {
  CONTENT_HASH_ANNOTATION,
  FIELD_MANAGER,
  attachOps,
  detachOps,
  dryRunParam,
  editServiceAccount,
  findSecret,
  guardedDeleteOptions,
  isManaged,
  isNotFound,
  isUnreachable,
  readOrUndefined,
  retrying,
  type DryRun,
} from './cluster';
import { apiStatus, describeApiError, type Connection } from './connect';
import { oneLine } from './errors';
import { changeObject, type Change } from './plan';

export type OutcomeResult =
  | 'created'
  | 'updated'
  | 'replaced'
  | 'deleted'
  | 'attached'
  | 'detached'
  | 'unchanged'
  | 'skipped'
  | 'failed';

export interface Outcome {
  change: Change;
  namespace: string;
  /** kubectl-style `kind/name`. */
  object: string;
  result: OutcomeResult;
  detail?: string;
  /** The object as written (or as it would be, in a dry run), for -o json|yaml. */
  after?: V1Secret | V1ServiceAccount;
}

export interface ApplyOptions {
  dryRun: DryRun;
  concurrency?: number;
  /** How long an attach waits for a ServiceAccount the controller has yet to create. */
  serviceAccountWaitMs?: number;
  /** Stops starting new changes (the ones in flight finish); the rest are reported skipped. */
  signal?: AbortSignal;
  /** Called as each outcome is known, e.g. for a progress line. */
  onOutcome?: (outcome: Outcome) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs task over items with at most `limit` in flight, keeping the order of results. */
export async function mapBounded<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * A seam for the reliability tests: with KPS_TEST_PAUSE_BEFORE_APPLY_MS set, waits that long
 * between plan and apply (announced on stderr), so a test can change the cluster in between
 * (delete a ServiceAccount, edit a secret) and check that the run reports it and loses nothing.
 */
async function testPauseBeforeApply(changes: number): Promise<void> {
  const ms = Number(process.env.KPS_TEST_PAUSE_BEFORE_APPLY_MS ?? 0);
  if (!(ms > 0) || changes === 0) return;
  process.stderr.write(`paused before applying ${changes} changes\n`);
  await sleep(ms);
}

const isConflict = (error: unknown) => apiStatus(error) === 409;

async function waitForServiceAccount(connection: Connection, namespace: string, name: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await readOrUndefined(connection, () => coreApi(connection).readNamespacedServiceAccount({ name, namespace }));
    if (found) return true;
    if (Date.now() >= deadline) return false;
    await sleep(200);
  }
}

type Done = Omit<Outcome, 'change' | 'namespace' | 'object'>;

const registriesDetail = (registries: string[]) => `registries ${registries.join(', ')}`;

async function applyOne(connection: Connection, change: Change, options: ApplyOptions): Promise<Done> {
  const { dryRun } = options;
  const write = dryRun !== 'client';
  const dry = dryRunParam(dryRun);
  switch (change.kind) {
    case 'unchanged':
      return { result: 'unchanged', ...(change.reason ? { detail: change.reason } : {}) };
    case 'skip':
      return { result: 'skipped', detail: change.reason };
    case 'fail':
      return { result: 'failed', detail: change.reason };
    case 'create-secret': {
      if (!write) return { result: 'created', detail: registriesDetail(change.registries), after: change.secret };
      try {
        const after = await retrying(() =>
          coreApi(connection).createNamespacedSecret({ namespace: change.namespace, body: change.secret, fieldManager: FIELD_MANAGER, ...dry }),
        );
        return { result: 'created', detail: registriesDetail(change.registries), after };
      } catch (error) {
        if (!isConflict(error)) throw error;
        // Our own earlier attempt may have landed before its answer was lost.
        const existing = await findSecret(connection, change.namespace, change.name);
        const hash = change.secret.metadata?.annotations?.[CONTENT_HASH_ANNOTATION];
        if (existing && isManaged(existing) && existing.metadata?.annotations?.[CONTENT_HASH_ANNOTATION] === hash) {
          return { result: 'created', detail: registriesDetail(change.registries), after: existing };
        }
        return { result: 'failed', detail: 'it was created by someone else in the meantime; run the command again' };
      }
    }
    case 'update-secret': {
      if (!write) return { result: 'updated', detail: registriesDetail(change.registries), after: change.secret };
      try {
        // The body carries the resourceVersion we planned from: a concurrent edit makes this a 409.
        // A repeat after a lost answer fails its resourceVersion precondition: reported, never doubled.
        const after = await retrying(() =>
          coreApi(connection).replaceNamespacedSecret({
            name: change.name, namespace: change.namespace, body: change.secret, fieldManager: FIELD_MANAGER, ...dry,
          }),
        );
        return { result: 'updated', detail: registriesDetail(change.registries), after };
      } catch (error) {
        if (isConflict(error)) return { result: 'failed', detail: 'it was changed by someone else since it was read; run the command again' };
        if (isNotFound(error)) return { result: 'failed', detail: 'it was deleted by someone else since it was read; run the command again' };
        throw error;
      }
    }
    case 'replace-secret': {
      if (!write) return { result: 'replaced', after: change.secret };
      try {
        await coreApi(connection).deleteNamespacedSecret({
          name: change.name, namespace: change.namespace, body: guardedDeleteOptions(change.resourceVersion, dryRun),
        });
      } catch (error) {
        if (isConflict(error)) return { result: 'failed', detail: 'it was changed by someone else since it was read; run the command again' };
        if (!isNotFound(error)) throw error;
      }
      if (dryRun === 'server') return { result: 'replaced', after: change.secret };
      const after = await coreApi(connection).createNamespacedSecret({ namespace: change.namespace, body: change.secret, fieldManager: FIELD_MANAGER });
      return { result: 'replaced', after };
    }
    case 'delete-secret': {
      if (!write) return { result: 'deleted' };
      try {
        await retrying(() =>
          coreApi(connection).deleteNamespacedSecret({
            name: change.name, namespace: change.namespace, body: guardedDeleteOptions(change.resourceVersion, dryRun),
          }),
        );
        return { result: 'deleted' };
      } catch (error) {
        if (isNotFound(error)) return { result: 'unchanged', detail: 'already deleted' };
        if (isConflict(error)) return { result: 'failed', detail: 'it was changed by someone else since it was read; not deleted' };
        throw error;
      }
    }
    case 'attach': {
      const waitMs = options.serviceAccountWaitMs ?? 15_000;
      if (change.waitForServiceAccount && !(await waitForServiceAccount(connection, change.namespace, change.serviceAccount, waitMs))) {
        return {
          result: 'failed',
          detail: `serviceaccount "${change.serviceAccount}" did not appear within ${waitMs / 1000}s (the controller manager creates it in new namespaces)`,
        };
      }
      const edited = await editServiceAccount(
        connection, change.namespace, change.serviceAccount, (sa) => attachOps(sa, change.secret), dryRun, change.known,
      );
      if (!edited.serviceAccount) return { result: 'failed', detail: `serviceaccount "${change.serviceAccount}" no longer exists` };
      return edited.changed
        ? { result: 'attached', detail: change.secret, after: edited.serviceAccount }
        : { result: 'unchanged', detail: `already references ${change.secret}`, after: edited.serviceAccount };
    }
    case 'detach': {
      const edited = await editServiceAccount(connection, change.namespace, change.serviceAccount, (sa) => detachOps(sa, change.secret), dryRun);
      if (!edited.serviceAccount) return { result: 'unchanged', detail: 'the serviceaccount no longer exists' };
      return edited.changed
        ? { result: 'detached', detail: change.secret, after: edited.serviceAccount }
        : { result: 'unchanged', detail: `no longer references ${change.secret}`, after: edited.serviceAccount };
    }
  }
}

const firstPhase = new Set<Change['kind']>(['create-secret', 'update-secret', 'replace-secret', 'detach', 'unchanged', 'skip', 'fail']);

/** Applies the changes and returns one outcome per change, in the plan's order. */
export async function applyChanges(connection: Connection, changes: Change[], options: ApplyOptions): Promise<Outcome[]> {
  const concurrency = options.concurrency ?? 8;
  await testPauseBeforeApply(changes.length);
  const outcomes = new Map<Change, Outcome>();
  const record = (outcome: Outcome) => {
    outcomes.set(outcome.change, outcome);
    options.onOutcome?.(outcome);
  };
  // Once the API server cannot be reached even after retries, the remaining changes are
  // reported as not applied at once, instead of each waiting out its own retries.
  let unreachable: string | undefined;
  const run = async (change: Change) => {
    const base = { change, namespace: change.namespace, object: changeObject(change) };
    if (options.signal?.aborted) {
      record({ ...base, result: 'skipped', detail: 'interrupted before it was applied' });
      return;
    }
    if (unreachable) {
      record({ ...base, result: 'failed', detail: `not applied: ${unreachable}` });
      return;
    }
    try {
      record({ ...base, ...(await applyOne(connection, change, options)) });
    } catch (error) {
      const message = oneLine(describeApiError(error, connection));
      if (isUnreachable(error)) unreachable ??= message;
      record({ ...base, result: 'failed', detail: message });
    }
  };

  const first = changes.filter((change) => firstPhase.has(change.kind));
  await mapBounded(first, concurrency, run);

  // A phase-two change depends on the phase-one changes to the same secret in its namespace.
  const failedFirst = new Set(
    first
      .filter((c) => outcomes.get(c)?.result === 'failed')
      .map((c) => `${c.kind}:${c.namespace}/${'name' in c ? c.name : 'secret' in c ? c.secret : ''}`),
  );
  const failedFor = (namespace: string, secret: string, kinds: Change['kind'][]) =>
    kinds.some((kind) => failedFirst.has(`${kind}:${namespace}/${secret}`));
  const second = changes.filter((change) => !firstPhase.has(change.kind));
  await mapBounded(second, concurrency, async (change) => {
    const base = { change, namespace: change.namespace, object: changeObject(change) };
    if (change.kind === 'attach' && failedFor(change.namespace, change.secret, ['create-secret', 'update-secret', 'replace-secret'])) {
      record({ ...base, result: 'skipped', detail: `secret ${change.secret} was not written, so it is not attached` });
      return;
    }
    if (change.kind === 'delete-secret' && failedFor(change.namespace, change.name, ['detach'])) {
      record({ ...base, result: 'skipped', detail: 'not deleted: some ServiceAccounts could not be detached from it' });
      return;
    }
    await run(change);
  });
  return changes.map((change) => outcomes.get(change)!);
}
