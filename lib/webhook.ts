// `sync --watch --webhook`: a mutating admission webhook that adds the synced pull secrets to a
// pod as it is created. Patching ServiceAccounts can never be race-free (the ServiceAccount
// admission plugin copies their list only at pod creation, so a pod created a moment before the
// patch keeps an empty list forever); adding the secret to the pod itself at admission is.
//
// Safe by default: failurePolicy Ignore and a short timeout (a webhook that is down never blocks
// a pod), no side effects on dry runs, and every failure inside the handler still admits the pod
// unchanged. The plugin makes its own CA, keeps it and the serving certificate in a Secret, sets
// the configuration's caBundle, and renews the serving certificate before it expires.
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import type { V1DeleteOptions, V1MutatingWebhookConfiguration, V1Namespace, V1Pod, V1Secret } from '@kubernetes/client-node';
import {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  FIELD_MANAGER,
  createSecret,
  findSecret,
  isManaged,
  isNotFound,
  replaceSecret,
  retrying,
  type JsonPatchOp,
} from './cluster';
import { expiresAt, generateCa, issueServingCertificate, needsRenewal, type KeyAndCertificate } from './certs';
import { apiCall, apiStatus, describeApiError, requestJson, type Connection } from './connect';
import { INJECT_OPT_OUT, SERVES_ANNOTATION, WEBHOOK_CONFIGURATION_NAME } from './controller/options';
import { CliError, oneLine } from './errors';
import { matchingKeys } from './registry';
import { registriesOf, type SyncRequest } from './sync';

export { INJECT_OPT_OUT, SERVES_ANNOTATION, WEBHOOK_CONFIGURATION_NAME };
export const WEBHOOK_NAME = 'inject.pullsecrets.kubectl-pullsecret';
export const WEBHOOK_TLS_SECRET = 'kubectl-pullsecret-webhook-tls';
export const WEBHOOK_PATH = '/mutate';

export interface WebhookOptions {
  /** Where to listen, e.g. 0.0.0.0:8443 in a pod, 127.0.0.1:PORT for a local test. */
  listenHost: string;
  listenPort: number;
  /** How the API server reaches us: a URL, or else the Service in front of the Deployment. */
  url?: string;
  service: { namespace: string; name: string; port: number };
  /** Where the TLS Secret lives. */
  namespace: string;
  /** Namespaces the webhook never touches beyond the sync's own selection (exact names). */
  excludedNamespaces: string[];
}

// ---------------------------------------------------------------------------------------------
// Admission: pure

/** Every image a pod runs: containers, init containers and ephemeral containers. */
export function podImages(pod: V1Pod): string[] {
  const spec = pod.spec;
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? []), ...(spec?.ephemeralContainers ?? [])]
    .map((c) => c.image)
    .filter((image): image is string => Boolean(image));
}

/** The sources to add to a pod: those it lacks that cover one of its images, as the kubelet matches. */
export function sourcesForPod(pod: V1Pod, sources: V1Secret[]): V1Secret[] {
  const present = new Set((pod.spec?.imagePullSecrets ?? []).map((r) => r.name));
  const images = podImages(pod);
  return sources.filter((source) => {
    if (present.has(source.metadata!.name!)) return false;
    const keys = registriesOf(source);
    return images.some((image) => {
      try {
        return matchingKeys(image, keys).length > 0;
      } catch {
        return false;
      }
    });
  });
}

/** JSON-patch operations adding names to spec.imagePullSecrets, keeping every existing entry. */
export function podPatch(pod: V1Pod, names: string[]): JsonPatchOp[] {
  if (names.length === 0) return [];
  if (!pod.spec?.imagePullSecrets) return [{ op: 'add', path: '/spec/imagePullSecrets', value: names.map((name) => ({ name })) }];
  return names.map((name) => ({ op: 'add', path: '/spec/imagePullSecrets/-', value: { name } }));
}

export const optedOut = (pod: V1Pod) =>
  pod.metadata?.labels?.[INJECT_OPT_OUT] === 'false' || pod.metadata?.annotations?.[INJECT_OPT_OUT] === 'false';

interface AdmissionReview {
  apiVersion?: string;
  kind?: string;
  request?: { uid: string; namespace?: string; operation?: string; dryRun?: boolean; object?: V1Pod };
}

/** What the webhook needs from the controller: its cache and the means to write a copy. */
export interface AdmissionContext {
  /** The pod's namespace, if selected for sync (undefined: leave the pod alone). */
  selectedNamespace(name: string): Promise<V1Namespace | undefined>;
  /** The sources in scope. */
  sources(): V1Secret[];
  /** Makes sure the source's secret exists in the namespace (a brand-new namespace has no copy yet). */
  ensureCopy(source: V1Secret, namespace: string): Promise<void>;
  log(line: string): void;
  /** Each answer's outcome and how long it took (metrics). */
  observe?(outcome: AdmissionOutcome, seconds: number): void;
  /** The serving certificate's notAfter, when it is loaded and at each renewal. */
  onCertificate?(notAfter: Date): void;
}

/** mutated: secrets added; unchanged: in scope, nothing to add; skipped: not ours to touch; error: admitted unchanged after a failure. */
export type AdmissionOutcome = 'mutated' | 'unchanged' | 'skipped' | 'error';

/** The AdmissionReview response for one request; never refuses a pod. */
export async function admit(review: AdmissionReview, context: AdmissionContext): Promise<object> {
  const started = performance.now();
  const { outcome, patch } = await decide(review, context);
  context.observe?.(outcome, (performance.now() - started) / 1000);
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: {
      uid: review.request?.uid ?? '',
      allowed: true,
      ...(patch && patch.length > 0 ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}),
    },
  };
}

async function decide(review: AdmissionReview, context: AdmissionContext): Promise<{ outcome: AdmissionOutcome; patch?: JsonPatchOp[] }> {
  const request = review.request;
  const pod = request?.object;
  const namespace = request?.namespace ?? pod?.metadata?.namespace;
  if (!request || !pod || !namespace || request.operation !== 'CREATE' || optedOut(pod)) return { outcome: 'skipped' };
  try {
    if (!(await context.selectedNamespace(namespace))) return { outcome: 'skipped' };
    const wanted = sourcesForPod(pod, context.sources());
    if (wanted.length === 0) return { outcome: 'unchanged' };
    // Side effects only for real requests: a dry run must create nothing.
    if (!request.dryRun) await Promise.all(wanted.map((source) => context.ensureCopy(source, namespace)));
    const names = wanted.map((s) => s.metadata!.name!);
    if (!request.dryRun) context.log(`pod/${pod.metadata?.name ?? pod.metadata?.generateName ?? ''} admitted with ${names.join(', ')} (namespace ${namespace})`);
    return { outcome: 'mutated', patch: podPatch(pod, names) };
  } catch (error) {
    context.log(`admission of a pod in namespace ${namespace} left it unchanged: ${oneLine(error)}`);
    return { outcome: 'error' };
  }
}

// ---------------------------------------------------------------------------------------------
// Certificates and the webhook configuration

/** A 409 from a create (AlreadyExists) or a guarded update (Conflict), whether raw or as translated by apiCall. */
function isConflictError(error: unknown): boolean {
  return apiStatus(error) === 409 || (error instanceof CliError && /already exists|conflict|modified/i.test(error.message));
}

/** The namespaces the configuration's namespaceSelector leaves out: only exact names fit there (globs are checked per request). */
export function webhookExcludedNamespaces(request: Pick<SyncRequest, 'namespaces'>, ownNamespace: string): string[] {
  return [ownNamespace, ...request.namespaces.exclude.filter((pattern) => !/[*?[]/.test(pattern))];
}

/** The names the serving certificate must cover. */
export function servingHosts(options: WebhookOptions): string[] {
  if (options.url) return [new URL(options.url).hostname.replace(/^\[|\]$/g, '')];
  const { name, namespace } = options.service;
  return [`${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`, `${name}.${namespace}`];
}

interface StoredCertificates {
  ca: KeyAndCertificate;
  serving: KeyAndCertificate;
}

/** Reads the CA and serving certificate from their Secret; makes or renews what is needed. */
export async function ensureCertificates(connection: Connection, options: WebhookOptions, raced = false): Promise<StoredCertificates> {
  const hosts = servingHosts(options);
  const existing = await findSecret(connection, options.namespace, WEBHOOK_TLS_SECRET);
  if (existing && !isManaged(existing)) {
    throw new CliError(`secret ${options.namespace}/${WEBHOOK_TLS_SECRET} exists and is not managed by kubectl-pullsecret; remove it or choose another --webhook-namespace`);
  }
  const read = (key: string) => (existing?.data?.[key] ? Buffer.from(existing.data[key]!, 'base64').toString('utf8') : undefined);
  const storedCa = read('ca.crt') && read('ca.key') ? { cert: read('ca.crt')!, key: read('ca.key')! } : undefined;
  const storedServing = read('tls.crt') && read('tls.key') ? { cert: read('tls.crt')!, key: read('tls.key')! } : undefined;
  const ca = storedCa && expiresAt(storedCa.cert).getTime() > Date.now() + 365 * 86_400_000 ? storedCa : await generateCa('kubectl-pullsecret webhook CA');
  if (ca === storedCa && !needsRenewal(storedServing, ca, hosts)) return { ca, serving: storedServing! };

  const serving = await issueServingCertificate(ca, hosts);
  const encode = (text: string) => Buffer.from(text).toString('base64');
  const body: V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: WEBHOOK_TLS_SECRET,
      namespace: options.namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      ...(existing?.metadata?.resourceVersion ? { resourceVersion: existing.metadata.resourceVersion } : {}),
    },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': encode(serving.cert), 'tls.key': encode(serving.key), 'ca.crt': encode(ca.cert), 'ca.key': encode(ca.key) },
  };
  try {
    await apiCall(connection, () =>
      retrying(() =>
        existing ? replaceSecret(connection, options.namespace, WEBHOOK_TLS_SECRET, body) : createSecret(connection, options.namespace, body),
      ),
    );
  } catch (error) {
    // Another replica starting (or renewing) at the same moment wrote it first: use what it wrote.
    if (!raced && isConflictError(error)) return ensureCertificates(connection, options, true);
    throw error;
  }
  return { ca, serving };
}

/**
 * The MutatingWebhookConfiguration that sends pod creations to us. Without a caBundle (printed
 * manifests), the controller fills it in when it starts and has made its CA.
 */
export function webhookConfiguration(options: WebhookOptions, caBundle: string | undefined, serves: string): V1MutatingWebhookConfiguration {
  const bundle = caBundle === undefined ? {} : { caBundle: Buffer.from(caBundle).toString('base64') };
  const clientConfig = options.url
    ? { url: options.url, ...bundle }
    : {
        service: { namespace: options.service.namespace, name: options.service.name, port: options.service.port, path: WEBHOOK_PATH },
        ...bundle,
      };
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: {
      name: WEBHOOK_CONFIGURATION_NAME,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: { [SERVES_ANNOTATION]: serves },
    },
    webhooks: [
      {
        name: WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        clientConfig,
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
        // Never block a pod: if we are down or slow, the pod is admitted as it is.
        failurePolicy: 'Ignore',
        timeoutSeconds: 3,
        sideEffects: 'NoneOnDryRun',
        reinvocationPolicy: 'Never',
        matchPolicy: 'Equivalent',
        namespaceSelector: {
          matchExpressions: [
            { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...new Set(['kube-system', ...options.excludedNamespaces])].sort() },
          ],
        },
        objectSelector: { matchExpressions: [{ key: INJECT_OPT_OUT, operator: 'NotIn', values: ['false'] }] },
      },
    ],
  };
}

// The MutatingWebhookConfiguration API, as plain JSON requests (see requestJson).
const WEBHOOK_CONFIGURATIONS = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';
const webhookConfigurations = {
  read: (connection: Connection, name: string) =>
    requestJson<V1MutatingWebhookConfiguration>(connection, { path: `${WEBHOOK_CONFIGURATIONS}/${encodeURIComponent(name)}` }),
  create: (connection: Connection, body: V1MutatingWebhookConfiguration) =>
    requestJson<V1MutatingWebhookConfiguration>(connection, { method: 'POST', path: WEBHOOK_CONFIGURATIONS, query: { fieldManager: FIELD_MANAGER }, body }),
  replace: (connection: Connection, name: string, body: V1MutatingWebhookConfiguration) =>
    requestJson<V1MutatingWebhookConfiguration>(connection, {
      method: 'PUT', path: `${WEBHOOK_CONFIGURATIONS}/${encodeURIComponent(name)}`, query: { fieldManager: FIELD_MANAGER }, body,
    }),
  delete: (connection: Connection, name: string, options: V1DeleteOptions) =>
    requestJson<unknown>(connection, { method: 'DELETE', path: `${WEBHOOK_CONFIGURATIONS}/${encodeURIComponent(name)}`, body: options }),
};

/** Creates or updates our webhook configuration; a foreign one of that name is left alone. */
export async function ensureWebhookConfiguration(connection: Connection, desired: V1MutatingWebhookConfiguration, raced = false): Promise<void> {
  const name = desired.metadata!.name!;
  let existing: V1MutatingWebhookConfiguration | undefined;
  try {
    existing = await retrying(() => webhookConfigurations.read(connection, name));
  } catch (error) {
    if (!isNotFound(error)) throw describeApiError(error, connection);
  }
  if (existing && !isManaged(existing)) {
    throw new CliError(`mutatingwebhookconfiguration ${name} exists and is not managed by kubectl-pullsecret; not replaced`);
  }
  const body = { ...desired, metadata: { ...desired.metadata, ...(existing ? { resourceVersion: existing.metadata!.resourceVersion } : {}) } };
  try {
    await apiCall(connection, () =>
      retrying(() =>
        existing ? webhookConfigurations.replace(connection, name, body) : webhookConfigurations.create(connection, body),
      ),
    );
  } catch (error) {
    // Every replica registers the webhook as it starts: one that lost the race reads and writes again.
    if (!raced && isConflictError(error)) return ensureWebhookConfiguration(connection, desired, true);
    throw error;
  }
}

/**
 * Deletes our webhook configuration if there is one and `serving` accepts what it serves (`all`
 * or `namespace/name`); any when undefined. Resolves to 'deleted', or undefined when nothing was.
 */
export async function removeWebhookConfiguration(
  connection: Connection,
  serving: ((serves: string) => boolean) | undefined,
  dryRun: 'none' | 'client' | 'server' = 'none',
): Promise<'deleted' | undefined> {
  let existing: V1MutatingWebhookConfiguration;
  try {
    existing = await retrying(() => webhookConfigurations.read(connection, WEBHOOK_CONFIGURATION_NAME));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw describeApiError(error, connection);
  }
  if (!isManaged(existing)) return undefined;
  if (serving && !serving(existing.metadata?.annotations?.[SERVES_ANNOTATION] ?? '')) return undefined;
  if (dryRun === 'client') return 'deleted';
  await apiCall(connection, () =>
    retrying(() =>
      webhookConfigurations.delete(connection, WEBHOOK_CONFIGURATION_NAME, {
        preconditions: { resourceVersion: existing.metadata!.resourceVersion! }, ...(dryRun === 'server' ? { dryRun: ['All'] } : {}),
      }),
    ),
  );
  return 'deleted';
}

// ---------------------------------------------------------------------------------------------
// The server

export interface RunningWebhook {
  port: number;
  close(): Promise<void>;
}

const RENEW_CHECK_MS = 6 * 3_600_000;

/** Serves AdmissionReviews over HTTPS, registers itself, and renews its certificate. */
export async function startWebhook(connection: Connection, options: WebhookOptions, serves: string, context: AdmissionContext): Promise<RunningWebhook> {
  const certificates = await ensureCertificates(connection, options);
  const server = https.createServer({ key: certificates.serving.key, cert: certificates.serving.cert }, (req, res) => {
    if (req.method === 'GET' && (req.url === '/healthz' || req.url === '/readyz')) {
      res.writeHead(200).end('ok');
      return;
    }
    if (req.method !== 'POST' || req.url?.split('?')[0] !== WEBHOOK_PATH) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // An AdmissionReview of a pod is a few KB; refuse to buffer anything absurd.
      if (size > 8 * 1024 * 1024) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', async () => {
      let review: AdmissionReview = {};
      try {
        review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AdmissionReview;
      } catch {
        res.writeHead(400).end('not an AdmissionReview');
        return;
      }
      const answer = JSON.stringify(await admit(review, context));
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(answer);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort, options.listenHost, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  context.onCertificate?.(expiresAt(certificates.serving.cert));
  await ensureWebhookConfiguration(connection, webhookConfiguration(options, certificates.ca.cert, serves));
  context.log(`webhook serving on ${options.listenHost}:${port}, registered as mutatingwebhookconfiguration/${WEBHOOK_CONFIGURATION_NAME}`);

  // Renew the serving certificate well before it expires; the CA (the caBundle) stays.
  const renewal = setInterval(async () => {
    try {
      const renewed = await ensureCertificates(connection, options);
      server.setSecureContext({ key: renewed.serving.key, cert: renewed.serving.cert });
      context.onCertificate?.(expiresAt(renewed.serving.cert));
      if (renewed.ca.cert !== certificates.ca.cert) {
        await ensureWebhookConfiguration(connection, webhookConfiguration(options, renewed.ca.cert, serves));
      }
    } catch (error) {
      context.log(`webhook certificate renewal failed (will retry): ${oneLine(error)}`);
    }
  }, RENEW_CHECK_MS);
  renewal.unref();

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(renewal);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
