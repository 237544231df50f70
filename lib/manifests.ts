// `sync --watch --print-manifests`: what runs the same sync inside the cluster — a Namespace that
// enforces Pod Security `restricted`, a ServiceAccount, the least-privilege ClusterRole and its
// binding, a Role for the leader-election Lease, and a Deployment of N replicas (one leader
// writes; every replica serves the webhook) with a PodDisruptionBudget. The cluster rules are
// exactly what the controller calls: LIST and WATCH of namespaces, ServiceAccounts and secrets,
// PATCH of ServiceAccounts (not with --service-accounts none), CREATE and UPDATE of secrets,
// DELETE of secrets only with --prune, and Events. (It never GETs: re-reads are LISTs by name.)
import type { V1PolicyRule } from '@kubernetes/client-node';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from './cluster';
import { formatObject } from './print';
import type { SyncRequest } from './sync';
import { pluginVersion } from './version';
import {
  CONTROLLER_NAME,
  CONTROLLER_NAMESPACE,
  DEFAULT_LEADER_ELECTION_ID,
  CONTROLLER_NODE_OPTIONS,
  HEALTH_PROBE_PORT,
  METRICS_PORT,
  WEBHOOK_PORT,
  managerArgs,
} from './controller/options';
import { WEBHOOK_CONFIGURATION_NAME, webhookConfiguration, webhookExcludedNamespaces } from './webhook';

export { CONTROLLER_NAME, CONTROLLER_NAMESPACE } from './controller/options';

/**
 * The cluster-wide RBAC rules `sync --watch` needs for this request, and nothing more. The webhook
 * adds only the right to manage its own MutatingWebhookConfiguration (its certificate Secret and
 * the copies it creates at admission use the secret rights the controller already has). Events go
 * to the namespaces of the objects they are about, so their right is cluster-wide too.
 */
export function controllerRules(request: Pick<SyncRequest, 'prune' | 'serviceAccounts'>, webhook = false): V1PolicyRule[] {
  const writesServiceAccounts = request.serviceAccounts !== 'none';
  return [
    { apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'watch'] },
    { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['list', 'watch', ...(writesServiceAccounts ? ['patch'] : [])] },
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
    { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
  ];
}

/** The Lease rights, in the controller's own namespace only: create (not limitable to a name), get and update of its Lease. */
export function leaseRules(leaseName: string): V1PolicyRule[] {
  return [
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [leaseName], verbs: ['get', 'update'] },
  ];
}

/** The command line the Deployment runs: the same sync, watching, with the manager's settings. */
export function controllerArgs(request: SyncRequest, concurrency: number, webhook = false): string[] {
  const args = ['sync'];
  if (request.source === 'all') args.push('--all');
  else args.push(request.source.name, '--namespace', request.source.namespace);
  if (request.namespaces.names) args.push('--namespaces', request.namespaces.names.join(','));
  if (request.namespaces.labelSelector) args.push('--selector', request.namespaces.labelSelector);
  for (const pattern of request.namespaces.exclude) args.push('--exclude', pattern);
  const accounts = request.serviceAccounts;
  args.push('--service-accounts', typeof accounts === 'string' ? accounts : accounts.join(','));
  if (request.prune) args.push('--prune');
  if (request.force) args.push('--force');
  args.push('--concurrency', String(concurrency), '--watch');
  if (webhook) args.push('--webhook', '--webhook-listen', `0.0.0.0:${WEBHOOK_PORT}`, '--webhook-namespace', CONTROLLER_NAMESPACE);
  args.push(
    ...managerArgs({
      leaderElect: true,
      leaderElectionId: DEFAULT_LEADER_ELECTION_ID,
      metricsBindAddress: `:${METRICS_PORT}`,
      healthProbeBindAddress: `:${HEALTH_PROBE_PORT}`,
      logFormat: 'text',
    }),
  );
  return args;
}

export interface ManifestOptions {
  request: SyncRequest;
  concurrency: number;
  /** Include the admission webhook: a Service, a container port and its RBAC. */
  webhook: boolean;
  /** The plugin image; default: the image `npm run image` builds (scripts/images/controller-image.ts), named after this version. */
  image?: string;
  /** Pods of the Deployment (default 2: one leads, one is ready to take over; both serve the webhook). */
  replicas?: number;
}

/** Pod Security `restricted`, enforced on our namespace, and what it asks of our pod. */
const POD_SECURITY_LABELS = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/enforce-version': 'latest',
  'pod-security.kubernetes.io/warn': 'restricted',
  'pod-security.kubernetes.io/audit': 'restricted',
};
/** The nonroot user of the image (see scripts/images/controller-image.ts). */
const NONROOT = 65532;

/** The manifests as one multi-document YAML stream, ready for `kubectl apply -f -`. */
export function printManifests(options: ManifestOptions): string {
  const labels = { 'app.kubernetes.io/name': CONTROLLER_NAME, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE };
  const selector = { 'app.kubernetes.io/name': CONTROLLER_NAME };
  const metadata = { name: CONTROLLER_NAME, namespace: CONTROLLER_NAMESPACE, labels };
  const image = options.image ?? `${CONTROLLER_NAME}:${pluginVersion.replace(/^v/, '')}`;
  const replicas = options.replicas ?? 2;
  const probe = (path: string) => ({ httpGet: { path, port: 'health' } });
  const objects = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: CONTROLLER_NAMESPACE, labels: { ...labels, ...POD_SECURITY_LABELS } } },
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
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata, rules: leaseRules(DEFAULT_LEADER_ELECTION_ID) },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: CONTROLLER_NAME },
      subjects: [{ kind: 'ServiceAccount', name: CONTROLLER_NAME, namespace: CONTROLLER_NAMESPACE }],
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata,
      spec: {
        replicas,
        // A new pod is ready before an old one goes: the webhook always has a replica serving it.
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels,
            annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(METRICS_PORT), 'prometheus.io/path': '/metrics' },
          },
          spec: {
            serviceAccountName: CONTROLLER_NAME,
            // Shutdown releases the Lease and keeps answering the webhook until the endpoint is gone.
            terminationGracePeriodSeconds: 30,
            securityContext: { runAsNonRoot: true, runAsUser: NONROOT, runAsGroup: NONROOT, seccompProfile: { type: 'RuntimeDefault' } },
            // Spread over nodes where there are several; one node still runs them all.
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector } },
            ],
            containers: [
              {
                name: 'sync',
                image,
                args: controllerArgs(options.request, options.concurrency, options.webhook),
                env: [
                  // The Lease holder's identity, and the Lease's namespace.
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                  // A smaller young generation for a long-running process (see CONTROLLER_NODE_OPTIONS).
                  { name: 'NODE_OPTIONS', value: CONTROLLER_NODE_OPTIONS },
                ],
                ports: [
                  { name: 'metrics', containerPort: METRICS_PORT },
                  { name: 'health', containerPort: HEALTH_PROBE_PORT },
                  ...(options.webhook ? [{ name: 'webhook', containerPort: WEBHOOK_PORT }] : []),
                ],
                livenessProbe: probe('/healthz'),
                readinessProbe: probe('/readyz'),
                resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
                securityContext: {
                  runAsNonRoot: true,
                  runAsUser: NONROOT,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata,
      // A drain takes one replica at a time, so the webhook keeps a replica serving.
      spec: { ...(replicas > 1 ? { maxUnavailable: 1 } : { minAvailable: 0 }), selector: { matchLabels: selector } },
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
              selector,
              ports: [{ name: 'webhook', port: 443, targetPort: 'webhook' }],
            },
          },
        ]
      : []),
  ];
  return objects.map((object) => `---\n${formatObject(object, 'yaml')}`).join('');
}
