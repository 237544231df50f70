// `remove` as desired state: the exact undo of `add` for one name — detach it from every
// ServiceAccount that references it and delete the secrets we manage, in one namespace or all.
import { apiCall, type Connection } from './connect';
import { listAll, listServiceAccounts, type Scope } from './cluster';
import { planRemove, type Change, type RemoveRequest } from './plan';
import type { V1Secret } from '@kubernetes/client-node';

/** Two paginated LISTs (secrets of that name, ServiceAccounts), whatever the number of namespaces. */
export async function planRemoval(connection: Connection, scope: Scope, request: RemoveRequest): Promise<Change[]> {
  const fieldSelector = `metadata.name=${request.name}`;
  const [secrets, serviceAccounts] = await Promise.all([
    apiCall(connection, () =>
      listAll<V1Secret>((page) =>
        'namespace' in scope
          ? connection.core.listNamespacedSecret({ namespace: scope.namespace, fieldSelector, ...page })
          : connection.core.listSecretForAllNamespaces({ fieldSelector, ...page }),
      ),
    ),
    listServiceAccounts(connection, scope),
  ]);
  return planRemove(request, secrets, serviceAccounts);
}
