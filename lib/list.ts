// What `list` shows: every pull secret, who references it, and what is wrong with it, computed
// from one read of secrets, ServiceAccounts and pods. Pure: the reads happen in the caller.
import type { V1Pod, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { inspectPullSecret } from './dockerconfig';
import { isManaged } from './cluster';
import { formatAge, formatTable } from './print';
import { shortLivedTokenRegistry } from './registry';
import type { LoginCheck } from './verify';

export type ListStatus = 'ok' | 'short-lived' | 'unused' | 'empty' | 'malformed' | 'dangling';

/** One row of `list`. Never holds a credential: only names, registries and usernames. */
export interface ListEntry {
  namespace: string;
  name: string;
  /** The secret's type; undefined for a dangling reference (no such pull secret). */
  type?: string;
  registries: string[];
  usernames: string[];
  /** ServiceAccounts (names in the same namespace) that list it in imagePullSecrets. */
  serviceAccounts: string[];
  /** Pods (names) that list it in spec.imagePullSecrets. */
  pods: string[];
  managed: boolean;
  created?: string;
  status: ListStatus;
  /** Why the status is not ok, in words. */
  reason?: string;
  /** Registries whose passwords are short-lived tokens, with the kind of token. */
  shortLived: string[];
  /** With --verify: one login result per registry that has credentials. */
  verify?: LoginCheck[];
}

export interface ListInput {
  secrets: V1Secret[];
  serviceAccounts: V1ServiceAccount[];
  /** Undefined when pods could not be read (then pod references are not reported). */
  pods?: V1Pod[];
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

function addReference(map: Map<string, string[]>, namespace: string, secretName: string, referrer: string) {
  const k = key(namespace, secretName);
  const list = map.get(k) ?? [];
  if (!list.includes(referrer)) list.push(referrer);
  map.set(k, list);
}

function shortLivedRegistries(registries: string[]): string[] {
  return registries.flatMap((registry) => {
    const kind = shortLivedTokenRegistry(registry);
    return kind ? [`${registry} (${kind})`] : [];
  });
}

export function buildListing(input: ListInput): ListEntry[] {
  const saRefs = new Map<string, string[]>();
  const podRefs = new Map<string, string[]>();
  for (const sa of input.serviceAccounts) {
    for (const ref of sa.imagePullSecrets ?? []) {
      if (ref.name) addReference(saRefs, sa.metadata!.namespace!, ref.name, sa.metadata!.name!);
    }
  }
  for (const pod of input.pods ?? []) {
    for (const ref of pod.spec?.imagePullSecrets ?? []) {
      if (ref.name) addReference(podRefs, pod.metadata!.namespace!, ref.name, pod.metadata!.name!);
    }
  }

  const entries: ListEntry[] = [];
  const known = new Set<string>();
  for (const secret of input.secrets) {
    const namespace = secret.metadata!.namespace!;
    const name = secret.metadata!.name!;
    known.add(key(namespace, name));
    const inspection = inspectPullSecret(secret.type, secret.data);
    const serviceAccounts = saRefs.get(key(namespace, name)) ?? [];
    const pods = podRefs.get(key(namespace, name)) ?? [];
    const shortLived = shortLivedRegistries(inspection.registries);
    let status: ListStatus = inspection.status;
    let reason = inspection.reason;
    if (status === 'ok' && serviceAccounts.length === 0 && pods.length === 0) {
      status = 'unused';
      reason = input.pods ? 'no ServiceAccount or pod references it' : 'no ServiceAccount references it';
    } else if (status === 'ok' && shortLived.length > 0) {
      status = 'short-lived';
      reason = `short-lived registry tokens expire: ${shortLived.join(', ')}`;
    }
    entries.push({
      namespace,
      name,
      type: secret.type,
      registries: inspection.registries,
      usernames: inspection.usernames,
      serviceAccounts,
      pods,
      managed: isManaged(secret),
      created: secret.metadata?.creationTimestamp ? new Date(secret.metadata.creationTimestamp).toISOString() : undefined,
      status,
      ...(reason ? { reason } : {}),
      shortLived,
    });
  }

  // References to secrets that are not there (or are not pull secrets): the kubelet ignores them.
  for (const k of new Set([...saRefs.keys(), ...podRefs.keys()])) {
    if (known.has(k)) continue;
    const [namespace, name] = k.split('/') as [string, string];
    const serviceAccounts = saRefs.get(k) ?? [];
    const pods = podRefs.get(k) ?? [];
    const referrers = [...serviceAccounts.map((s) => `serviceaccount/${s}`), ...pods.map((p) => `pod/${p}`)];
    entries.push({
      namespace,
      name,
      registries: [],
      usernames: [],
      serviceAccounts,
      pods,
      managed: false,
      status: 'dangling',
      reason: `no pull secret "${name}" exists, but ${referrers.join(', ')} reference${referrers.length === 1 ? 's' : ''} it`,
      shortLived: [],
    });
  }
  return entries.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

const none = (items: string[]) => (items.length ? items.join(',') : '<none>');

/**
 * The table, kubectl-style; `wide` adds usernames and the pods that reference each secret, and
 * `--verify` a VERIFY column: the login results, in the order of REGISTRIES.
 */
export function formatListing(entries: ListEntry[], options: { wide: boolean; allNamespaces: boolean; verify?: boolean; now?: Date }): string {
  const headers = [
    ...(options.allNamespaces ? ['NAMESPACE'] : []),
    'NAME',
    'REGISTRIES',
    'SERVICE ACCOUNTS',
    'MANAGED',
    'AGE',
    'STATUS',
    ...(options.verify ? ['VERIFY'] : []),
    ...(options.wide ? ['USERNAMES', 'PODS'] : []),
  ];
  const rows = entries.map((e) => [
    ...(options.allNamespaces ? [e.namespace] : []),
    e.name,
    none(e.registries),
    none(e.serviceAccounts),
    e.managed ? 'yes' : 'no',
    e.created ? formatAge(e.created, options.now) : '<none>',
    e.status,
    ...(options.verify ? [none((e.verify ?? []).map((check) => check.result))] : []),
    ...(options.wide ? [none(e.usernames), String(e.pods.length)] : []),
  ]);
  return formatTable(headers, rows);
}
