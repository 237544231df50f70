// `remove` as desired state: the exact undo of `add` for one name — detach it from every
// ServiceAccount that references it and delete the secrets we manage, in one namespace or all.
import type { Connection } from './connect';
import { listObjects, listServiceAccounts, type Scope } from './cluster';
import { planRemove, type Change, type RemoveRequest } from './plan';
import type { V1Secret } from '@kubernetes/client-node';

/** Two paginated LISTs (secrets of that name, ServiceAccounts), whatever the number of namespaces. */
export async function planRemoval(connection: Connection, scope: Scope, request: RemoveRequest): Promise<Change[]> {
  const fieldSelector = `metadata.name=${request.name}`;
  const [secrets, serviceAccounts] = await Promise.all([
    listObjects<V1Secret>(connection, 'secrets', { ...('namespace' in scope ? { namespace: scope.namespace } : {}), fieldSelector }),
    listServiceAccounts(connection, scope),
  ]);
  return planRemove(request, secrets, serviceAccounts);
}
