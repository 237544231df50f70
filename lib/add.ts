// `add` as desired state: read what each target namespace holds (its Namespace, the named
// secret, its ServiceAccounts) and plan the secret write and the attachments there.
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import { coreApi } from './client';
import { apiStatus, describeApiError, type Connection } from './connect';
import { CliError } from './errors';
import { listPods, listServiceAccounts, readOrUndefined } from './cluster';
import type { DockerConfigJson } from './dockerconfig';
import { planAdd, type AddRequest, type Change, type NamespaceState } from './plan';
import type { Outcome } from './apply';

/**
 * The namespace object, or undefined when it does not exist. Users with rights in a namespace
 * often may not read the Namespace object itself: then it is assumed to exist and be active,
 * and the writes say otherwise if it is not.
 */
async function readNamespace(connection: Connection, name: string): Promise<V1Namespace | undefined> {
  try {
    return await coreApi(connection).readNamespace({ name });
  } catch (error) {
    if (apiStatus(error) === 404) return undefined;
    if (apiStatus(error) === 403) return { metadata: { name }, status: { phase: 'Active' } };
    throw describeApiError(error, connection);
  }
}

async function readNamespaceState(connection: Connection, namespace: string, secretName: string): Promise<NamespaceState> {
  const namespaceObject = await readNamespace(connection, namespace);
  if (!namespaceObject) return { namespace, serviceAccounts: [] };
  const [secret, serviceAccounts] = await Promise.all([
    readOrUndefined(connection, () => coreApi(connection).readNamespacedSecret({ name: secretName, namespace })),
    listServiceAccounts(connection, { namespace }),
  ]);
  return { namespace, namespaceObject, ...(secret ? { secret } : {}), serviceAccounts };
}

/** Reads each namespace once and plans `add` there. */
export async function planAddition(
  connection: Connection,
  namespaces: string[],
  request: AddRequest,
  added: DockerConfigJson,
): Promise<Change[]> {
  const states = await Promise.all(namespaces.map((namespace) => readNamespaceState(connection, namespace, request.name)));
  refuseUnknownTargets(states, request);
  return states.flatMap((state) => planAdd(request, state, added));
}

/**
 * A namespace or a named ServiceAccount that does not exist is a mistake in the command (a typo,
 * the wrong context): refused before anything is written, instead of leaving a secret behind that
 * nothing uses. (`default` is not checked: in a new namespace, apply waits for it.)
 */
function refuseUnknownTargets(states: NamespaceState[], request: AddRequest): void {
  const problems: string[] = [];
  for (const state of states) {
    const { namespace, namespaceObject } = state;
    if (!namespaceObject) {
      problems.push(`namespace "${namespace}" not found (create it with kubectl create namespace ${namespace}, or check -n/--namespaces and the context)`);
      continue;
    }
    const terminating = namespaceObject.status?.phase === 'Terminating' || namespaceObject.metadata?.deletionTimestamp !== undefined;
    if (terminating || !('names' in request.serviceAccounts)) continue;
    const existing = state.serviceAccounts.map((sa) => sa.metadata?.name ?? '').sort();
    for (const name of request.serviceAccounts.names) {
      if (name === 'default' || existing.includes(name)) continue;
      const known = existing.length > 8 ? `${existing.slice(0, 8).join(', ')}, ...` : existing.join(', ') || 'none';
      problems.push(`serviceaccount "${name}" not found in namespace "${namespace}" (it has: ${known}); check --service-account`);
    }
  }
  if (problems.length === 0) return;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  throw new CliError(`${problems[0]}${more}; nothing was changed`);
}

/**
 * Pods copy their ServiceAccount's pull secrets only when they are created: the pods that
 * already run under a ServiceAccount we just attached to keep failing until re-created.
 */
export async function podsMissingSecret(connection: Connection, outcomes: Outcome[], secretName: string): Promise<V1Pod[]> {
  const attached = outcomes.filter((o) => o.result === 'attached' && o.change.kind === 'attach');
  const namespaces = [...new Set(attached.map((o) => o.namespace))];
  const stale: V1Pod[] = [];
  for (const namespace of namespaces) {
    const accounts = new Set(attached.filter((o) => o.namespace === namespace).map((o) => o.object.replace('serviceaccount/', '')));
    const pods = await listPods(connection, { namespace });
    for (const pod of pods) {
      const account = pod.spec?.serviceAccountName ?? 'default';
      if (accounts.has(account) && !pod.spec?.imagePullSecrets?.some((ref) => ref.name === secretName)) stale.push(pod);
    }
  }
  return stale;
}
