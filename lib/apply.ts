// Runs a plan: every change becomes exactly one outcome (done, unchanged, skipped or failed with
// why), so nothing is ever half-applied without being reported. Writes are guarded (resource-
// Version preconditions and JSON-patch tests) and run with bounded concurrency, in two phases
// per namespace: secrets are written (and references removed) before references are added (and
// secrets deleted), and a phase-two change is skipped when the phase-one change it depends on
// failed — never a ServiceAccount pointing at a secret we failed to write.
import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import {
  CONTENT_HASH_ANNOTATION,
  attachOps,
  createSecret,
  deleteSecret,
  detachOps,
  editServiceAccount,
  findSecret,
  guardedDeleteOptions,
  isManaged,
  isNotFound,
  isUnreachable,
  readOrUndefined,
  replaceSecret,
  resourcePath,
  retrying,
  type DryRun,
} from './cluster';
import { apiStatus, describeApiError, requestJson, type Connection } from './connect';
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
 * mapBounded for items that wait for others (needs: items of the list that must be done first).
 * An item whose prerequisites are done goes before items not yet started, so that one chain
 * (a secret, then its attaches) finishes early; in-flight work never exceeds the limit.
 */
export async function mapBoundedWithPrerequisites<T>(items: T[], needs: (item: T) => T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  const waitingOn = new Map<T, number>();
  const dependents = new Map<T, T[]>();
  const initial: T[] = [];
  for (const item of items) {
    const prerequisites = needs(item);
    if (prerequisites.length === 0) initial.push(item);
    else waitingOn.set(item, prerequisites.length);
    for (const prerequisite of prerequisites) {
      const list = dependents.get(prerequisite);
      if (list) list.push(item);
      else dependents.set(prerequisite, [item]);
    }
  }
  const ready: T[] = [];
  let nextInitial = 0;
  let running = 0;
  const idle: Array<() => void> = [];
  const next = (): T | undefined => ready.pop() ?? (nextInitial < initial.length ? initial[nextInitial++] : undefined);
  const worker = async () => {
    for (;;) {
      const item = next();
      if (item === undefined) {
        // Nothing ready: done when nothing runs that could release more.
        if (running === 0) return;
        await new Promise<void>((resolve) => idle.push(resolve));
        continue;
      }
      running++;
      try {
        await task(item);
      } finally {
        running--;
        for (const dependent of dependents.get(item) ?? []) {
          const left = waitingOn.get(dependent)! - 1;
          waitingOn.set(dependent, left);
          if (left === 0) ready.push(dependent);
        }
        // The idle workers look again: there may be more ready, or nothing left to wait for.
        for (const resume of idle.splice(0)) resume();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
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
    const found = await readOrUndefined(connection, () =>
      requestJson<V1ServiceAccount>(connection, { path: `${resourcePath('serviceaccounts', namespace)}/${encodeURIComponent(name)}` }));
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
          createSecret(connection, change.namespace, change.secret, dryRun),
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
          replaceSecret(connection, change.namespace, change.name, change.secret, dryRun),
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
        await deleteSecret(connection, change.namespace, change.name, guardedDeleteOptions(change.resourceVersion, dryRun));
      } catch (error) {
        if (isConflict(error)) return { result: 'failed', detail: 'it was changed by someone else since it was read; run the command again' };
        if (!isNotFound(error)) throw error;
      }
      if (dryRun === 'server') return { result: 'replaced', after: change.secret };
      const after = await createSecret(connection, change.namespace, change.secret);
      return { result: 'replaced', after };
    }
    case 'delete-secret': {
      if (!write) return { result: 'deleted' };
      try {
        await retrying(() =>
          deleteSecret(connection, change.namespace, change.name, guardedDeleteOptions(change.resourceVersion, dryRun)),
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

  // A phase-two change (attach, delete-secret) waits for the phase-one changes to the same secret
  // in its namespace (its write; its detaches), and only for those: a namespace's attaches start
  // as soon as its secret is written, while other namespaces' secrets are still being written.
  const secretKey = (namespace: string, secret: string) => `${namespace}/${secret}`;
  const prerequisites = new Map<string, Change[]>();
  for (const change of changes) {
    if (!firstPhase.has(change.kind)) continue;
    let key: string | undefined;
    if (change.kind === 'create-secret' || change.kind === 'update-secret' || change.kind === 'replace-secret') key = `write ${secretKey(change.namespace, change.name)}`;
    else if (change.kind === 'detach') key = `detach ${secretKey(change.namespace, change.secret)}`;
    if (!key) continue;
    const list = prerequisites.get(key);
    if (list) list.push(change);
    else prerequisites.set(key, [change]);
  }
  const needs = (change: Change): Change[] =>
    change.kind === 'attach' ? prerequisites.get(`write ${secretKey(change.namespace, change.secret)}`) ?? []
      : change.kind === 'delete-secret' ? prerequisites.get(`detach ${secretKey(change.namespace, change.name)}`) ?? []
        : [];
  const runAfterPrerequisites = async (change: Change) => {
    const base = { change, namespace: change.namespace, object: changeObject(change) };
    const failed = needs(change).some((prerequisite) => outcomes.get(prerequisite)?.result === 'failed');
    if (failed && change.kind === 'attach') {
      record({ ...base, result: 'skipped', detail: `secret ${change.secret} was not written, so it is not attached` });
    } else if (failed && change.kind === 'delete-secret') {
      record({ ...base, result: 'skipped', detail: 'not deleted: some ServiceAccounts could not be detached from it' });
    } else {
      await run(change);
    }
  };
  await mapBoundedWithPrerequisites(changes, needs, concurrency, runAfterPrerequisites);
  return changes.map((change) => outcomes.get(change)!);
}
