// Plans: desired state against what the cluster holds, as a list of changes with reasons. Pure
// (no I/O), so every rule about what we may touch is unit-tested here: we never overwrite or
// delete a secret we do not manage unless forced, never drop another imagePullSecrets entry,
// and skip what cannot be written (terminating namespaces) with a reason.
import type { V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import {
  DOCKERCONFIGJSON_KEY,
  DOCKERCONFIGJSON_TYPE,
  contentHash,
  mergeAuths,
  parsePullSecretData,
  serializeDockerConfig,
  type DockerConfigJson,
} from './dockerconfig';
import { CONTENT_HASH_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE, isManaged, isPullSecret } from './cluster';

/** One thing to do (or deliberately not do) to one object. */
export type Change =
  | { kind: 'create-secret'; namespace: string; name: string; secret: V1Secret; registries: string[] }
  | { kind: 'update-secret'; namespace: string; name: string; secret: V1Secret; registries: string[] }
  /** Delete then create: only for --force over a secret of another type (the type is immutable). */
  | { kind: 'replace-secret'; namespace: string; name: string; secret: V1Secret; registries: string[]; resourceVersion: string }
  | { kind: 'delete-secret'; namespace: string; name: string; resourceVersion: string }
  | {
      kind: 'attach';
      namespace: string;
      serviceAccount: string;
      secret: string;
      waitForServiceAccount: boolean;
      /** The ServiceAccount as the plan read it: the first patch attempt starts from it (no GET). */
      known?: V1ServiceAccount;
    }
  | { kind: 'detach'; namespace: string; serviceAccount: string; secret: string }
  | { kind: 'unchanged'; namespace: string; object: string; reason?: string }
  | { kind: 'skip'; namespace: string; object: string; reason: string }
  /** Planned to fail: the run reports it and exits 1, the rest still applies. */
  | { kind: 'fail'; namespace: string; object: string; reason: string };

/** The object a change is about, kubectl-style (`secret/regcred`). */
export function changeObject(change: Change): string {
  switch (change.kind) {
    case 'create-secret':
    case 'update-secret':
    case 'replace-secret':
    case 'delete-secret':
      return `secret/${change.name}`;
    case 'attach':
    case 'detach':
      return `serviceaccount/${change.serviceAccount}`;
    default:
      return change.object;
  }
}

/** Which ServiceAccounts `add` attaches to. */
export type ServiceAccountSelection = { names: string[] } | { all: true } | { none: true };

export interface AddRequest {
  name: string;
  /** The new content, exactly as it should be written when nothing is merged. */
  content: string;
  /** Replace the whole content instead of merging registries into ours. */
  replace: boolean;
  /** Take over (overwrite) a secret we do not manage. */
  force: boolean;
  serviceAccounts: ServiceAccountSelection;
}

/** What the cluster holds in one namespace, read before planning. */
export interface NamespaceState {
  namespace: string;
  /** Undefined when the namespace does not exist. */
  namespaceObject?: V1Namespace;
  /** The secret named in the request, if it exists. */
  secret?: V1Secret;
  serviceAccounts: V1ServiceAccount[];
}

export function pullSecretObject(namespace: string, name: string, content: string, base?: V1Secret): V1Secret {
  // managedFields are the server's bookkeeping; resourceVersion stays, as the update's precondition.
  const { managedFields: _managedFields, ...baseMetadata } = base?.metadata ?? {};
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      ...baseMetadata,
      name,
      namespace,
      labels: { ...(base?.metadata?.labels ?? {}), [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: { ...(base?.metadata?.annotations ?? {}), [CONTENT_HASH_ANNOTATION]: contentHash(content) },
    },
    type: DOCKERCONFIGJSON_TYPE,
    data: { [DOCKERCONFIGJSON_KEY]: Buffer.from(content, 'utf8').toString('base64') },
  };
}

/** Two configs say the same thing when their canonical serialisations match. */
function sameContent(a: DockerConfigJson, b: DockerConfigJson): boolean {
  return serializeDockerConfig(a) === serializeDockerConfig(b);
}

function isTerminating(namespace: V1Namespace | undefined): boolean {
  return namespace?.status?.phase === 'Terminating' || namespace?.metadata?.deletionTimestamp !== undefined;
}

function planSecret(request: AddRequest, state: NamespaceState, added: DockerConfigJson): Change {
  const { namespace } = state;
  const { name } = request;
  const registries = Object.keys(added.auths);
  const existing = state.secret;
  if (!existing) {
    return { kind: 'create-secret', namespace, name, registries, secret: pullSecretObject(namespace, name, request.content) };
  }
  const ours = isManaged(existing);
  if (!ours && !request.force) {
    return {
      kind: 'fail',
      namespace,
      object: `secret/${name}`,
      reason: `secret "${name}" in namespace "${namespace}" exists and is not managed by kubectl-pullsecret (type ${existing.type}); use --force to take it over`,
    };
  }
  if (existing.type !== DOCKERCONFIGJSON_TYPE) {
    // Only reachable with --force: a Secret's type cannot be changed in place.
    return {
      kind: 'replace-secret',
      namespace,
      name,
      registries,
      resourceVersion: existing.metadata?.resourceVersion ?? '',
      secret: pullSecretObject(namespace, name, request.content),
    };
  }
  const current = parsePullSecretData(existing.type, existing.data);
  // Merge into our own readable content; a foreign or unreadable one is replaced whole.
  const mergeInto = ours && !request.replace && current.ok ? current.config : undefined;
  const desired = mergeInto ? mergeAuths(mergeInto, added) : added;
  if (ours && current.ok && sameContent(current.config, desired)) {
    return { kind: 'unchanged', namespace, object: `secret/${name}` };
  }
  const content = mergeInto ? serializeDockerConfig(desired) : request.content;
  return {
    kind: 'update-secret',
    namespace,
    name,
    registries: Object.keys(desired.auths),
    secret: pullSecretObject(namespace, name, content, existing),
  };
}

/** The changes `add` makes in one namespace: the secret first, then its attachments. */
export function planAdd(request: AddRequest, state: NamespaceState, added: DockerConfigJson): Change[] {
  const { namespace } = state;
  if (!state.namespaceObject) {
    return [{ kind: 'fail', namespace, object: `namespace/${namespace}`, reason: `namespace "${namespace}" not found` }];
  }
  if (isTerminating(state.namespaceObject)) {
    return [{ kind: 'skip', namespace, object: `namespace/${namespace}`, reason: `namespace "${namespace}" is terminating` }];
  }
  const secretChange = planSecret(request, state, added);
  const changes: Change[] = [secretChange];
  if (secretChange.kind === 'fail' || 'none' in request.serviceAccounts) return changes;

  const byName = new Map(state.serviceAccounts.map((sa) => [sa.metadata!.name!, sa]));
  const targets = 'all' in request.serviceAccounts ? [...byName.keys()].sort() : request.serviceAccounts.names;
  for (const serviceAccount of targets) {
    const sa = byName.get(serviceAccount);
    if (!sa) {
      // The controller creates `default` a moment after the namespace: apply waits for it.
      if (serviceAccount === 'default') {
        changes.push({ kind: 'attach', namespace, serviceAccount, secret: request.name, waitForServiceAccount: true });
      } else {
        changes.push({
          kind: 'fail',
          namespace,
          object: `serviceaccount/${serviceAccount}`,
          reason: `serviceaccount "${serviceAccount}" not found in namespace "${namespace}"`,
        });
      }
      continue;
    }
    if (sa.imagePullSecrets?.some((ref) => ref.name === request.name)) {
      changes.push({ kind: 'unchanged', namespace, object: `serviceaccount/${serviceAccount}`, reason: `already references ${request.name}` });
    } else {
      changes.push({ kind: 'attach', namespace, serviceAccount, secret: request.name, waitForServiceAccount: false });
    }
  }
  return changes;
}

export interface RemoveRequest {
  name: string;
  /** Only detach; never delete the secret. */
  keepSecret: boolean;
  /** Delete the secret even if we do not manage it. */
  force: boolean;
}

/**
 * The changes `remove` makes: detach the name from every ServiceAccount that references it,
 * then delete the secrets we manage. Covers every namespace in which either was found.
 */
export function planRemove(request: RemoveRequest, secrets: V1Secret[], serviceAccounts: V1ServiceAccount[]): Change[] {
  const changes: Change[] = [];
  for (const sa of serviceAccounts) {
    if (!sa.imagePullSecrets?.some((ref) => ref.name === request.name)) continue;
    changes.push({ kind: 'detach', namespace: sa.metadata!.namespace!, serviceAccount: sa.metadata!.name!, secret: request.name });
  }
  for (const secret of secrets) {
    if (secret.metadata?.name !== request.name) continue;
    const namespace = secret.metadata.namespace!;
    const object = `secret/${request.name}`;
    if (!isPullSecret(secret)) {
      changes.push({ kind: 'skip', namespace, object, reason: `type ${secret.type} is not a pull secret; left alone` });
    } else if (request.keepSecret) {
      changes.push({ kind: 'unchanged', namespace, object, reason: 'kept (--keep-secret)' });
    } else if (isManaged(secret) || request.force) {
      changes.push({ kind: 'delete-secret', namespace, name: request.name, resourceVersion: secret.metadata.resourceVersion ?? '' });
    } else {
      changes.push({ kind: 'skip', namespace, object, reason: 'not managed by kubectl-pullsecret, so not deleted (use --force to delete it)' });
    }
  }
  return changes.sort((a, b) => a.namespace.localeCompare(b.namespace));
}
