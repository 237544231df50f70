// `sync --watch --print-manifests`: what runs the same sync inside the cluster — a ServiceAccount,
// the least-privilege ClusterRole and its binding, and a Deployment running the plugin with the
// pod's in-cluster configuration. The rules are exactly what the controller calls: LIST and
// WATCH of namespaces, ServiceAccounts and secrets, PATCH of ServiceAccounts, CREATE and UPDATE
// of secrets, and DELETE of secrets only with --prune. (It never GETs: re-reads are LISTs by name.)
import type { V1PolicyRule } from '@kubernetes/client-node';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from './cluster';
import { formatObject } from './print';
import type { SyncRequest } from './sync';
import { pluginVersion } from './version';

export const CONTROLLER_NAME = 'kubectl-pullsecret';
export const CONTROLLER_NAMESPACE = 'kubectl-pullsecret';

/** The RBAC rules `sync --watch` needs for this request, and nothing more. */
export function controllerRules(request: Pick<SyncRequest, 'prune'>): V1PolicyRule[] {
  return [
    { apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'watch'] },
    { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['list', 'watch', 'patch'] },
    { apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch', 'create', 'update', ...(request.prune ? ['delete'] : [])] },
  ];
}

/** The command line the Deployment runs: the same sync, watching. */
export function controllerArgs(request: SyncRequest, concurrency: number): string[] {
  const args = ['sync'];
  if (request.source === 'all') args.push('--all');
  else args.push(request.source.name, '--namespace', request.source.namespace);
  if (request.namespaces.names) args.push('--namespaces', request.namespaces.names.join(','));
  if (request.namespaces.labelSelector) args.push('--selector', request.namespaces.labelSelector);
  for (const pattern of request.namespaces.exclude) args.push('--exclude', pattern);
  args.push('--service-accounts', request.serviceAccounts === 'all' ? 'all' : request.serviceAccounts.join(','));
  if (request.prune) args.push('--prune');
  if (request.force) args.push('--force');
  args.push('--concurrency', String(concurrency), '--watch');
  return args;
}

export interface ManifestOptions {
  request: SyncRequest;
  concurrency: number;
  /** The plugin image; default: the image the Dockerfile builds, named after this version. */
  image?: string;
}

/** The manifests as one multi-document YAML stream, ready for `kubectl apply -f -`. */
export function printManifests(options: ManifestOptions): string {
  const labels = { 'app.kubernetes.io/name': CONTROLLER_NAME, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE };
  const metadata = { name: CONTROLLER_NAME, namespace: CONTROLLER_NAMESPACE, labels };
  const image = options.image ?? `${CONTROLLER_NAME}:${pluginVersion.replace(/^v/, '')}`;
  const objects = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: CONTROLLER_NAMESPACE, labels } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: CONTROLLER_NAME, labels },
      rules: controllerRules(options.request),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: CONTROLLER_NAME, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CONTROLLER_NAME },
      subjects: [{ kind: 'ServiceAccount', name: CONTROLLER_NAME, namespace: CONTROLLER_NAMESPACE }],
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata,
      spec: {
        // One writer: two would only race each other (safely, but for nothing).
        replicas: 1,
        strategy: { type: 'Recreate' },
        selector: { matchLabels: { 'app.kubernetes.io/name': CONTROLLER_NAME } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: CONTROLLER_NAME,
            containers: [
              {
                name: 'sync',
                image,
                args: controllerArgs(options.request, options.concurrency),
                resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
                securityContext: {
                  runAsNonRoot: true,
                  runAsUser: 65532,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
          },
        },
      },
    },
  ];
  return objects.map((object) => `---\n${formatObject(object, 'yaml')}`).join('');
}
