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
import { WEBHOOK_CONFIGURATION_NAME, webhookConfiguration, webhookExcludedNamespaces } from './webhook';

export const CONTROLLER_NAME = 'kubectl-pullsecret';
export const CONTROLLER_NAMESPACE = 'kubectl-pullsecret';
const WEBHOOK_PORT = 8443;

/**
 * The RBAC rules `sync --watch` needs for this request, and nothing more. The webhook adds only
 * the right to manage its own MutatingWebhookConfiguration (its certificate Secret and the
 * copies it creates at admission use the secret rights the controller already has).
 */
export function controllerRules(request: Pick<SyncRequest, 'prune'>, webhook = false): V1PolicyRule[] {
  return [
    { apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'watch'] },
    { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['list', 'watch', 'patch'] },
    { apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch', 'create', 'update', ...(request.prune ? ['delete'] : [])] },
    ...(webhook
      ? [
          // create cannot be limited to a name; reading and updating can.
          { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], verbs: ['create'] },
          {
            apiGroups: ['admissionregistration.k8s.io'],
            resources: ['mutatingwebhookconfigurations'],
            resourceNames: [WEBHOOK_CONFIGURATION_NAME],
            verbs: ['get', 'update'],
          },
        ]
      : []),
  ];
}

/** The command line the Deployment runs: the same sync, watching. */
export function controllerArgs(request: SyncRequest, concurrency: number, webhook = false): string[] {
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
  if (webhook) args.push('--webhook', '--webhook-listen', `0.0.0.0:${WEBHOOK_PORT}`, '--webhook-namespace', CONTROLLER_NAMESPACE);
  return args;
}

export interface ManifestOptions {
  request: SyncRequest;
  concurrency: number;
  /** Include the admission webhook: a Service, a container port and its RBAC. */
  webhook: boolean;
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
      rules: controllerRules(options.request, options.webhook),
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
                args: controllerArgs(options.request, options.concurrency, options.webhook),
                ...(options.webhook
                  ? {
                      ports: [{ name: 'webhook', containerPort: WEBHOOK_PORT }],
                      readinessProbe: { httpGet: { path: '/readyz', port: WEBHOOK_PORT, scheme: 'HTTPS' } },
                    }
                  : {}),
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
    ...(options.webhook
      ? [
          webhookConfiguration(
            {
              listenHost: '0.0.0.0',
              listenPort: WEBHOOK_PORT,
              service: { namespace: CONTROLLER_NAMESPACE, name: CONTROLLER_NAME, port: 443 },
              namespace: CONTROLLER_NAMESPACE,
              excludedNamespaces: webhookExcludedNamespaces(options.request, CONTROLLER_NAMESPACE),
            },
            undefined,
            options.request.source === 'all' ? 'all' : `${options.request.source.namespace}/${options.request.source.name}`,
          ),
          {
            apiVersion: 'v1',
            kind: 'Service',
            metadata,
            spec: {
              selector: { 'app.kubernetes.io/name': CONTROLLER_NAME },
              ports: [{ name: 'webhook', port: 443, targetPort: WEBHOOK_PORT }],
            },
          },
        ]
      : []),
  ];
  return objects.map((object) => `---\n${formatObject(object, 'yaml')}`).join('');
}
