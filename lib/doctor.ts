// `doctor`: why can't this pod pull? For every container image of a pod (or of a workload's pod
// template), the pull secrets the kubelet gets, the `auths` entry it tries first, a verdict, and
// the one command that fixes a problem. The diagnosis is pure — lib/registry's kubelet-exact
// matching over lists read once — and the few reads it needs are at the end of this file.
//
// Two Kubernetes rules shape most verdicts: a pod copies its ServiceAccount's imagePullSecrets
// only when it is created, and only when the pod names none itself; after that the pod's list is
// immutable. The kubelet, on the other hand, reads the secrets named there at every pull, so
// fixing a secret's content needs no restart while fixing a pod's list does.
import {
  AppsV1Api,
  BatchV1Api,
  type V1LabelSelector,
  type V1MutatingWebhookConfiguration,
  type V1Pod,
  type V1PodSpec,
  type V1Secret,
  type V1ServiceAccount,
} from '@kubernetes/client-node';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, isManaged, listObjects, listPods, listPullSecrets, listServiceAccounts, readOrUndefined, type Scope } from './cluster';
import { coreApi, makeClient } from './client';
import { apiCall, requestJson, type Connection } from './connect';
import { inspectReading, readPullSecretLikeKubelet } from './dockerconfig';
import { CliError, UsageError, oneLine } from './errors';
import { checkLogins, type LoginCheck, type VerifyOptions } from './verify';
import { INJECT_OPT_OUT, SERVES_ANNOTATION, WEBHOOK_CONFIGURATION_NAME } from './controller/options';
import { isSource, registriesOf } from './sync';
import {
  matchingKeys,
  normalizeImage,
  normalizeRegistryKey,
  registryKeyMatchesImage,
  shortLivedTokenRegistry,
  type ImageReference,
} from './registry';

// ------------------------------------------------------------------------------------------------
// What to diagnose

export type WorkloadKind = 'deployment' | 'statefulset' | 'daemonset' | 'job' | 'cronjob';
export type TargetKind = 'pod' | WorkloadKind;

/** The command-line argument: a pod, or a workload whose pod template is checked. */
export interface Target {
  kind: TargetKind;
  name: string;
}

// kubectl's names for these resources: singular, plural, short and group-qualified.
const TARGET_KINDS: Record<string, TargetKind> = {
  pod: 'pod', pods: 'pod', po: 'pod',
  deployment: 'deployment', deployments: 'deployment', deploy: 'deployment', 'deployment.apps': 'deployment',
  statefulset: 'statefulset', statefulsets: 'statefulset', sts: 'statefulset', 'statefulset.apps': 'statefulset',
  daemonset: 'daemonset', daemonsets: 'daemonset', ds: 'daemonset', 'daemonset.apps': 'daemonset',
  job: 'job', jobs: 'job', 'job.batch': 'job',
  cronjob: 'cronjob', cronjobs: 'cronjob', cj: 'cronjob', 'cronjob.batch': 'cronjob',
};

const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** `POD`, `pod/POD` or `KIND/NAME` as kubectl spells them; anything else is a usage error. */
export function parseTarget(argument: string): Target {
  const slash = argument.indexOf('/');
  const kindWord = slash < 0 ? 'pod' : argument.slice(0, slash);
  const name = slash < 0 ? argument : argument.slice(slash + 1);
  const kind = TARGET_KINDS[kindWord.toLowerCase()];
  if (!kind) {
    throw new UsageError(
      `doctor checks a pod, deployment, statefulset, daemonset, job or cronjob, not "${kindWord}" (e.g. deployment/web)`,
    );
  }
  if (name.length > 253) throw new UsageError(`invalid ${kind} name "${name}": must be at most 253 characters`);
  if (!OBJECT_NAME.test(name)) {
    throw new UsageError(`invalid ${kind} name "${name}": use lowercase letters, digits, "-" and "."`);
  }
  return { kind, name };
}

/** The controller that re-creates a pod, or the workload a template belongs to. */
export interface Owner {
  /** Lowercase kind: deployment, statefulset, daemonset, job, cronjob, replicaset, ... */
  kind: string;
  name: string;
}

/** One pod, or the pod template of a workload (or of a new pod, with --image and no argument). */
export interface Subject {
  namespace: string;
  /** `pod/NAME`, `deployment/NAME`, or `serviceaccount/NAME` for "a new pod using it". */
  object: string;
  spec: V1PodSpec;
  /** Set when the subject is a pod: its status tells which containers fail to pull. */
  pod?: V1Pod;
  owner?: Owner;
  /** A template's labels and annotations: what the admission webhook sees of its new pods. */
  template?: PodTemplateMetadata;
}

type PodTemplateMetadata = { labels?: Record<string, string>; annotations?: Record<string, string> };

export function podSubject(pod: V1Pod): Subject {
  const owner = ownerOf(pod);
  return {
    namespace: pod.metadata!.namespace!,
    object: `pod/${pod.metadata!.name!}`,
    spec: pod.spec ?? { containers: [] },
    pod,
    ...(owner ? { owner } : {}),
  };
}

/** A workload object as the API returns it (only the parts doctor reads). */
export interface WorkloadObject {
  metadata?: { name?: string; namespace?: string };
  spec?: {
    selector?: V1LabelSelector;
    template?: { metadata?: PodTemplateMetadata; spec?: V1PodSpec };
    jobTemplate?: { spec?: { template?: { metadata?: PodTemplateMetadata; spec?: V1PodSpec } } };
  };
}

/** The pod template of a workload: what its next pods will be made from. */
export function templateSubject(kind: WorkloadKind, workload: WorkloadObject): Subject {
  const template = kind === 'cronjob' ? workload.spec?.jobTemplate?.spec?.template : workload.spec?.template;
  const name = workload.metadata!.name!;
  return {
    namespace: workload.metadata!.namespace!,
    object: `${kind}/${name}`,
    spec: template?.spec ?? { containers: [] },
    owner: { kind, name },
    ...(template?.metadata ? { template: template.metadata } : {}),
  };
}

/** "A new pod in this namespace running as this ServiceAccount": for `--image` without a target. */
export function serviceAccountSubject(namespace: string, serviceAccount: string): Subject {
  return { namespace, object: `serviceaccount/${serviceAccount}`, spec: { serviceAccountName: serviceAccount, containers: [] } };
}

/**
 * The controller of a pod. A ReplicaSet made by a Deployment is named `<deployment>-<hash>` with
 * the hash also in the pod's `pod-template-hash` label, so the Deployment is known without a read.
 */
export function ownerOf(pod: V1Pod): Owner | undefined {
  const ref = pod.metadata?.ownerReferences?.find((reference) => reference.controller);
  if (!ref) return undefined;
  const kind = ref.kind.toLowerCase();
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (kind === 'replicaset' && hash && ref.name.endsWith(`-${hash}`)) {
    return { kind: 'deployment', name: ref.name.slice(0, -hash.length - 1) };
  }
  return { kind, name: ref.name };
}

/** Whether a pod's owner is this workload (Deployments own pods through ReplicaSets). */
export function ownedBy(pod: V1Pod, kind: WorkloadKind, name: string): boolean {
  const owner = ownerOf(pod);
  return owner?.kind === kind && owner.name === name;
}

const PULL_FAILURES = new Set(['ImagePullBackOff', 'ErrImagePull']);

/** Containers (by name) that wait because their image cannot be pulled, with the kubelet's words. */
export function pullFailures(pod: V1Pod): Map<string, string> {
  const failures = new Map<string, string>();
  const statuses = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
    ...(pod.status?.ephemeralContainerStatuses ?? []),
  ];
  for (const status of statuses) {
    const waiting = status.state?.waiting;
    if (waiting?.reason && PULL_FAILURES.has(waiting.reason)) {
      failures.set(status.name, waiting.message ? `${waiting.reason}: ${oneLine(waiting.message)}` : waiting.reason);
    }
  }
  return failures;
}

// ------------------------------------------------------------------------------------------------
// The pull secrets, indexed once

interface Entry {
  key: string;
  /** Has a username and password (the kubelet ignores tokens, and tries empty entries anonymously). */
  usable: boolean;
  username?: string;
  hash: string;
}

interface SecretInfo {
  namespace: string;
  name: string;
  managed: boolean;
  status: 'ok' | 'malformed' | 'empty';
  reason?: string;
  /** Set when the kubelet cannot read it (and so fails every pull of a pod that lists it). */
  unreadable?: { reason: string; kubeletError?: string };
  /** `auths` entries in the secret's order (none when malformed). */
  entries: Entry[];
}

/** What doctor reads: the pull secrets and ServiceAccounts of the namespaces in scope. */
export interface DoctorInput {
  secrets: V1Secret[];
  serviceAccounts: V1ServiceAccount[];
  /** The API server's version, when it could be read: which kubelet rules for cached images apply. */
  serverVersion?: KubernetesVersion;
  /** Our admission webhook, when it is registered (and readable). */
  admission?: Admission;
}

/** What `sync --watch --webhook` registered: it adds the sources it serves to new pods whose images they cover. */
export interface Admission {
  /** `all`, or the one source `namespace/name`. */
  serves: string;
  /** Namespaces its namespaceSelector leaves out. */
  excludedNamespaces: string[];
  /** The sources it serves, as read. */
  sources: V1Secret[];
}

export interface KubernetesVersion {
  major: number;
  minor: number;
  gitVersion: string;
}

interface ClusterIndex {
  secrets: Map<string, SecretInfo>;
  serviceAccounts: Map<string, V1ServiceAccount>;
  serverVersion?: KubernetesVersion;
  admission?: Admission;
}

const at = (namespace: string, name: string) => `${namespace}/${name}`;

function secretInfo(secret: V1Secret): SecretInfo {
  const { namespace, name } = secret.metadata as { namespace: string; name: string };
  const reading = readPullSecretLikeKubelet(secret.type, secret.data);
  const inspection = inspectReading(reading);
  const entries = reading.outcome === 'read'
    ? Object.entries(reading.credentials).map(([key, { username, password, hash }]): Entry => ({
        key,
        usable: username !== '' && password !== '',
        ...(username ? { username } : {}),
        hash,
      }))
    : [];
  return {
    namespace,
    name,
    managed: isManaged(secret),
    status: inspection.status,
    ...(inspection.reason ? { reason: inspection.reason } : {}),
    ...(reading.outcome === 'failed'
      ? { unreadable: { reason: reading.reason, ...(reading.kubeletError ? { kubeletError: reading.kubeletError } : {}) } }
      : {}),
    entries,
  };
}

function indexInput(input: DoctorInput): ClusterIndex {
  const secrets = new Map(input.secrets.map((secret) => {
    const info = secretInfo(secret);
    return [at(info.namespace, info.name), info];
  }));
  const serviceAccounts = new Map(input.serviceAccounts.map((sa) => [at(sa.metadata!.namespace!, sa.metadata!.name!), sa]));
  return {
    secrets, serviceAccounts,
    ...(input.serverVersion ? { serverVersion: input.serverVersion } : {}),
    ...(input.admission ? { admission: input.admission } : {}),
  };
}

/** One entry the kubelet tries: a secret and one of its `auths` keys. */
export interface Candidate {
  secret: string;
  /** The `auths` key as written in the secret. */
  key: string;
  usable: boolean;
  username?: string;
  /** The kubelet's hash of the credentials; never printed. */
  hash: string;
}

interface Lookup {
  /** Every matching entry, in the order the kubelet tries them. */
  candidates: Candidate[];
  /** The candidates came from the Docker Hub fallback (`index.docker.io`), not from a match. */
  fallback: boolean;
  /** The first one with credentials. */
  used?: Candidate;
  /** Named secrets that do not exist (or are not pull secrets: the kubelet ignores those too). */
  missing: string[];
  /** Named secrets that are malformed or hold no credentials. */
  broken: SecretInfo[];
  /**
   * Named secrets the kubelet cannot read. The first of them makes MakeDockerKeyring fail, and
   * then the kubelet fails every pull of the pod, before it looks at any credentials.
   */
  unreadable: SecretInfo[];
}

/**
 * The kubelet's keyring for a pod with these pull secrets (secrets.MakeDockerKeyring, then
 * Lookup): nothing when one of them cannot be read; else the entries of all of them, matched and
 * ordered by lib/registry (most specific key first; equal keys in the order of the pod's list, a
 * secret listed twice counting twice). The kubelet's order among equal keys of one secret is Go's
 * map order, which is random; doctor keeps the secret's order.
 */
function lookup(index: ClusterIndex, namespace: string, names: string[], image: ImageReference): Lookup {
  const pairs: Array<{ secret: SecretInfo; entry: Entry }> = [];
  const missing: string[] = [];
  const broken: SecretInfo[] = [];
  const unreadable: SecretInfo[] = [];
  for (const name of names) {
    const secret = index.secrets.get(at(namespace, name));
    if (!secret) {
      if (!missing.includes(name)) missing.push(name);
      continue;
    }
    if (secret.status !== 'ok' && !broken.includes(secret)) broken.push(secret);
    if (secret.unreadable && !unreadable.includes(secret)) unreadable.push(secret);
    for (const entry of secret.entries) pairs.push({ secret, entry });
  }
  if (unreadable.length > 0) return { candidates: [], fallback: false, missing, broken, unreadable };
  // matchingKeys answers with keys; equal keys come back in the order given, so each answer
  // takes the next unused pair with that key.
  const queues = new Map<string, Array<{ secret: SecretInfo; entry: Entry }>>();
  for (const pair of pairs) queues.set(pair.entry.key, [...(queues.get(pair.entry.key) ?? []), pair]);
  const candidates = matchingKeys(image, pairs.map((pair) => pair.entry.key)).map((key): Candidate => {
    const { secret, entry } = queues.get(key)!.shift()!;
    return { secret: secret.name, key, usable: entry.usable, ...(entry.username ? { username: entry.username } : {}), hash: entry.hash };
  });
  const fallback = candidates.length > 0 && !registryKeyMatchesImage(candidates[0]!.key, image);
  const used = candidates.find((candidate) => candidate.usable);
  return { candidates, fallback, ...(used ? { used } : {}), missing, broken, unreadable };
}

/** The credentials the kubelet tries for an image, for one pod; see kubeletPullCredentials. */
export type KubeletPullCredentials =
  | { outcome: 'invalid-image'; reason: string }
  | { outcome: 'unreadable-secret'; namespace: string; secret: string; reason: string; kubeletError?: string }
  | {
      outcome: 'credentials';
      /** What the kubelet looks credentials up for, e.g. `docker.io/library/nginx`. */
      repository: string;
      credentials: Array<{
        namespace: string;
        secret: string;
        /** The `auths` key as written. */
        key: string;
        /** The kubelet's keyring key for it (scheme and /v1/ or /v2/ dropped). */
        keyringKey: string;
        username: string;
        /** The kubelet's AuthConfigHash of the credentials. */
        hash: string;
      }>;
      /** They came from the Docker Hub fallback (`index.docker.io`), not from a matching key. */
      fallback: boolean;
    };

/**
 * What the kubelet does with a pod's pull secrets for one image, as doctor works it out: the
 * secrets are those the kubelet found, in the order of the pod's `imagePullSecrets` (missing ones
 * left out, as the kubelet skips them). The same path diagnose() takes; the differential test
 * holds it to the kubelet's own code.
 */
export function kubeletPullCredentials(pullSecrets: V1Secret[], image: string): KubeletPullCredentials {
  let reference: ImageReference;
  try {
    reference = normalizeImage(image);
  } catch (error) {
    return { outcome: 'invalid-image', reason: oneLine(error) };
  }
  const infos = pullSecrets.map(secretInfo);
  const index: ClusterIndex = { secrets: new Map(infos.map((info) => [at(info.namespace, info.name), info])), serviceAccounts: new Map() };
  const namespace = infos[0]?.namespace ?? '';
  const found = lookup(index, namespace, infos.map((info) => info.name), reference);
  const failing = found.unreadable[0];
  if (failing) {
    return {
      outcome: 'unreadable-secret',
      namespace: failing.namespace,
      secret: failing.name,
      reason: failing.unreadable!.reason,
      ...(failing.unreadable!.kubeletError ? { kubeletError: failing.unreadable!.kubeletError } : {}),
    };
  }
  return {
    outcome: 'credentials',
    repository: reference.name,
    credentials: found.candidates.map((candidate) => ({
      namespace,
      secret: candidate.secret,
      key: candidate.key,
      keyringKey: normalizeRegistryKey(candidate.key).key,
      username: candidate.username ?? '',
      hash: candidate.hash,
    })),
    fallback: found.fallback,
  };
}

// ------------------------------------------------------------------------------------------------
// Diagnosis

export type Verdict =
  | 'covered'
  | 'injected'
  | 'rejected'
  | 'public-or-node'
  | 'dangling'
  | 'malformed'
  | 'no-match'
  | 'stale'
  | 'shadowed'
  | 'invalid-image';

export interface ImageDiagnosis {
  /** The container's name; absent for an image given with --image. */
  container?: string;
  containerType?: 'init' | 'regular' | 'ephemeral';
  image: string;
  /** The image's registry as the kubelet sees it (`docker.io`, `reg.example:5000`). */
  registry?: string;
  /** The pod's report when this container cannot pull, e.g. `ImagePullBackOff: ...`. */
  waiting?: string;
  verdict: Verdict;
  /** `covered by NS/SECRET (KEY)`, or the problem in words. */
  message: string;
  /** Every entry the kubelet tries for the image, in order. */
  tried: Array<{ secret: string; key: string }>;
  /** The entry whose credentials the kubelet sends (covered and rejected images). */
  used?: { secret: string; key: string; username?: string };
  /** The one command that fixes it (USER stands for the registry user name). */
  fix?: string;
  hints: string[];
}

export interface Diagnosis {
  namespace: string;
  object: string;
  serviceAccount: string;
  /** The pull secrets the kubelet gets for it. */
  pullSecrets: string[];
  /** Where that list comes from: the pod itself, the workload's template, or the ServiceAccount. */
  pullSecretsFrom: 'pod' | 'template' | 'serviceaccount';
  images: ImageDiagnosis[];
  /** Problems that do not decide a verdict (e.g. a dangling reference next to a working one). */
  notes: string[];
}

export interface DiagnoseOptions {
  /** Check this image instead of the containers' images. */
  image?: string;
  /** Only the containers whose pod reports a pull failure. */
  onlyFailing?: boolean;
  /** `--verify`: what the registries said to the credentials used (see verifyUsedLogins). */
  logins?: Map<string, LoginCheck>;
}

const names = (refs: Array<{ name?: string }> | undefined) =>
  [...new Set((refs ?? []).map((ref) => ref.name ?? '').filter(Boolean))];

const listed = (items: string[]) => (items.length ? items.join(', ') : 'none');

/** Diagnoses every image of one subject against the pull secrets and ServiceAccounts read. */
export function diagnose(subject: Subject, input: DoctorInput, options: DiagnoseOptions = {}): Diagnosis {
  return diagnoseIndexed(subject, indexInput(input), options);
}

/** diagnose() for many subjects, indexing the input once. */
export function diagnoseAll(subjects: Subject[], input: DoctorInput, options: DiagnoseOptions = {}): Diagnosis[] {
  const index = indexInput(input);
  return subjects.map((subject) => diagnoseIndexed(subject, index, options));
}

function diagnoseIndexed(subject: Subject, index: ClusterIndex, options: DiagnoseOptions): Diagnosis {
  const { namespace } = subject;
  const serviceAccountName = subject.spec.serviceAccountName || 'default';
  const serviceAccount = index.serviceAccounts.get(at(namespace, serviceAccountName));
  const accountSecrets = names(serviceAccount?.imagePullSecrets);
  const ownSecrets = names(subject.spec.imagePullSecrets);
  // A pod has exactly its own list; new pods of a template get the ServiceAccount's when the
  // template names none.
  const pullSecretsFrom: Diagnosis['pullSecretsFrom'] = subject.pod
    ? 'pod'
    : ownSecrets.length > 0 ? 'template' : 'serviceaccount';
  const effective = pullSecretsFrom === 'serviceaccount' ? accountSecrets : ownSecrets;
  const context: SubjectContext = {
    subject, index, serviceAccountName, serviceAccount, accountSecrets, effective, pullSecretsFrom, explained: new Set(),
    ...(index.serverVersion ? { serverVersion: index.serverVersion } : {}),
    ...(options.logins ? { logins: options.logins } : {}),
  };

  const failures = subject.pod ? pullFailures(subject.pod) : new Map<string, string>();
  const images = options.image !== undefined
    ? [diagnoseImage(context, { image: options.image })]
    : containersOf(subject.spec)
        .filter((container) => !options.onlyFailing || failures.has(container.name))
        .map((container) => {
          const waiting = failures.get(container.name);
          return diagnoseImage(context, { ...container, ...(waiting ? { waiting } : {}) });
        });

  const notes: string[] = [];
  if (!serviceAccount) {
    notes.push(subject.pod
      ? `ServiceAccount ${serviceAccountName} does not exist (any more)`
      : `ServiceAccount ${serviceAccountName} does not exist: no pod can be created with it until it does`);
  }
  // Unusable secrets that decided no verdict: the kubelet skips them, with a warning event.
  for (const name of effective) {
    if (context.explained.has(name)) continue;
    const secret = index.secrets.get(at(namespace, name));
    if (!secret) notes.push(`pull secret "${name}" is referenced but does not exist (or is not a pull secret); the kubelet skips it`);
    else if (secret.status !== 'ok') notes.push(`pull secret ${namespace}/${name} is ${secret.status}: ${secret.reason ?? 'unusable'}`);
  }
  return {
    namespace,
    object: subject.object,
    serviceAccount: serviceAccountName,
    pullSecrets: effective,
    pullSecretsFrom,
    images,
    notes,
  };
}

interface ContainerImage {
  container?: string;
  containerType?: ImageDiagnosis['containerType'];
  image: string;
  imagePullPolicy?: string;
  waiting?: string;
}

function containersOf(spec: V1PodSpec): Array<ContainerImage & { name: string; container: string }> {
  const of = (containers: Array<{ name: string; image?: string; imagePullPolicy?: string }> | undefined, containerType: ImageDiagnosis['containerType']) =>
    (containers ?? []).map((c) => ({
      name: c.name, container: c.name, containerType, image: c.image ?? '', ...(c.imagePullPolicy ? { imagePullPolicy: c.imagePullPolicy } : {}),
    }));
  return [...of(spec.initContainers, 'init'), ...of(spec.containers, 'regular'), ...of(spec.ephemeralContainers, 'ephemeral')];
}

interface SubjectContext {
  subject: Subject;
  index: ClusterIndex;
  serviceAccountName: string;
  serviceAccount?: V1ServiceAccount;
  accountSecrets: string[];
  effective: string[];
  pullSecretsFrom: Diagnosis['pullSecretsFrom'];
  /** Secrets an image's verdict is about, so they are not repeated as notes. */
  explained: Set<string>;
  serverVersion?: KubernetesVersion;
  logins?: Map<string, LoginCheck>;
}

function diagnoseImage(context: SubjectContext, container: ContainerImage): ImageDiagnosis {
  const { subject, index, effective } = context;
  const { namespace } = subject;
  const base = {
    ...(container.container !== undefined ? { container: container.container } : {}),
    ...(container.containerType ? { containerType: container.containerType } : {}),
    image: container.image,
    ...(container.waiting ? { waiting: container.waiting } : {}),
  };
  let image: ImageReference;
  try {
    image = normalizeImage(container.image);
  } catch (error) {
    return { ...base, verdict: 'invalid-image', message: `${oneLine(error)}: the kubelet cannot pull it`, tried: [], hints: [] };
  }
  const registry = image.registry;
  const found = lookup(index, namespace, effective, image);
  const tried = found.candidates.map(({ secret, key }) => ({ secret, key }));
  const hints: string[] = [];
  const result = (verdict: Verdict, message: string, fix?: string): ImageDiagnosis => ({
    ...base, registry, verdict, message, tried, ...(fix ? { fix } : {}), hints,
  });

  const fixes = new Fixes(context, registry);
  if (found.used) {
    const { secret, key, username } = found.used;
    const used = { secret, key, ...(username ? { username } : {}) };
    const shortLived = shortLivedTokenRegistry(key, username);
    if (shortLived) hints.push(shortLivedHint(shortLived));
    const login = context.logins?.get(loginKey(namespace, secret, key, registry));
    if (login?.result === 'unauthorized') {
      return {
        ...result('rejected', `${registry} refused the credentials of ${namespace}/${secret} (${key}): ${login.detail}`,
          fixes.recreate(secret, undefined, index.secrets.get(at(namespace, secret)))),
        used,
      };
    }
    if (login && login.result !== 'ok' && login.result !== 'skipped') {
      hints.push(`--verify could not log in to ${registry}: ${login.result} (${login.detail})`);
    } else if (container.waiting && login?.result !== 'ok') {
      hints.push(
        `the kubelet has credentials for ${registry}, so they may be wrong or expired, or the image may not exist: check them with \`kubectl pullsecret doctor ${subject.object} -n ${namespace} --verify\``,
      );
    } else if (container.waiting) {
      hints.push(`${registry} accepts these credentials (--verify), so the image or tag may not exist, or the node cannot reach the registry`);
    }
    return { ...result('covered', `covered by ${namespace}/${secret} (${key})`), used };
  }

  // Only an image that is not covered needs the secret that would cover it.
  const cover = coveringSecret(context, image);
  // One pull secret the kubelet cannot read fails the keyring, and so every pull of the pod.
  const unreadable = found.unreadable[0];
  if (unreadable) {
    context.explained.add(unreadable.name);
    return result(
      'malformed',
      `pull secret ${namespace}/${unreadable.name} cannot be read by the kubelet (${unreadable.unreadable!.reason}), and one such secret fails every pull of the pod, whatever its other pull secrets hold`,
      fixes.recreate(unreadable.name, cover?.name, unreadable),
    );
  }

  // New pods of a template get what our admission webhook adds; an existing pod got it or not.
  const injected = subject.pod ? undefined : admissionCovering(context, container.image);
  if (injected) {
    hints.push('the webhook is failurePolicy Ignore: a pod created while no replica of the controller answers is admitted without it');
    return result(
      'injected',
      `the kubectl-pullsecret admission webhook adds ${injected.name} (${injected.key}, a copy of ${injected.source}) to new pods in this namespace as they are created`,
    );
  }

  const shortLived = shortLivedTokenRegistry(registry);
  if (shortLived) hints.push(shortLivedHint(shortLived));
  const cached = cachedImageHint(context, container, image);
  if (cached) hints.push(cached);

  // A secret the pod names but that is missing is the one meant for it: re-creating it fixes the
  // next pull, no restart needed.
  if (found.missing.length > 0) {
    const missing = found.missing[0]!;
    context.explained.add(missing);
    return result(
      'dangling',
      `pull secret "${missing}" does not exist in namespace ${namespace} (or is not a pull secret), and no other entry matches ${registry}`,
      fixes.recreate(missing, cover?.name ?? namesakeCovering(index, missing, image)),
    );
  }
  // The ServiceAccount has what the pod lacks: the list was copied before it got there, or the
  // pod (template) names its own secrets, which keeps the ServiceAccount's from being copied.
  if (cover && context.accountSecrets.includes(cover.name) && context.pullSecretsFrom !== 'serviceaccount') {
    const copied = subject.pod !== undefined && effective.every((name) => context.accountSecrets.includes(name));
    const account = `ServiceAccount ${context.serviceAccountName}`;
    if (copied) {
      return result(
        'stale',
        `the pod was created before ${account} got ${cover.name} (${cover.key}), which covers the image; the pod has ${listed(effective)}: restart needed`,
        fixes.restartPod(),
      );
    }
    return result(
      'shadowed',
      `${subject.pod ? 'the pod' : 'the pod template'} names its own imagePullSecrets (${listed(effective)}), so ${account}'s are not used, and only its ${cover.name} (${cover.key}) covers the image`,
      fixes.useSecret(cover.name),
    );
  }
  const unusable = found.broken[0] ?? unusableMatch(index, namespace, found.candidates);
  if (unusable) {
    context.explained.add(unusable.name);
    const why = unusable.status === 'ok' ? `its entry for ${registry} has no username and password` : `it is ${unusable.status}: ${unusable.reason}`;
    return result(
      'malformed',
      `pull secret ${namespace}/${unusable.name} cannot be used (${why}), and no other entry matches ${registry}`,
      fixes.recreate(unusable.name, cover?.name, unusable),
    );
  }
  if (cover) hints.push(`${namespace}/${cover.name} has an entry for ${registry} (${cover.key}), but ${subject.pod ? 'the pod does' : 'new pods do'} not reference it`);
  const fix = cover ? fixes.useSecret(cover.name) : fixes.newCredentials();
  if (effective.length > 0) {
    hints.push(...nearMisses(index, namespace, effective, image));
    const keys = effective.map((name) => `${namespace}/${name} has ${listed(index.secrets.get(at(namespace, name))?.entries.map((e) => e.key) ?? [])}`);
    return result('no-match', `no entry matches ${registry}: ${keys.join('; ')}`, fix);
  }
  return result('public-or-node', `no pull secrets: ${registry} must allow anonymous pulls, or the nodes need credentials for it (public or node-level credentials needed)`, fix);
}

/**
 * Why an image already on a node is no way around missing credentials (KEP-2535). Since 1.35 the
 * kubelet (KubeletEnsureSecretPulledImages, on by default) lets a pod use an image another pod
 * pulled with a secret only when this pod has the same credentials; older kubelets start it
 * whenever the image is there, so such a pod runs on some nodes and breaks on the next one.
 */
function cachedImageHint(context: SubjectContext, container: ContainerImage, image: ImageReference): string | undefined {
  // The API server's default, for templates and --image: Always for :latest or no tag.
  const policy = container.imagePullPolicy ?? ((image.tag ?? 'latest') === 'latest' && !image.digest ? 'Always' : 'IfNotPresent');
  if (policy === 'Always') return undefined;
  const checked = `Kubernetes 1.35+ kubelets (KubeletEnsureSecretPulledImages) do not let an image already on the node that another pod pulled with a secret stand in for credentials, even with imagePullPolicy ${policy}`;
  const unchecked = 'older kubelets (or that feature gate off) start the pod where the image happens to be cached, and it breaks on the next node';
  const version = context.serverVersion;
  if (!version) return `${checked}; ${unchecked}`;
  const newer = version.major > 1 || (version.major === 1 && version.minor >= 35);
  return newer ? `${checked} (this cluster runs ${version.gitVersion})` : `this cluster runs ${version.gitVersion}: ${unchecked}`;
}

function shortLivedHint(kind: string): string {
  return `${kind} passwords are tokens that expire within hours: a pull secret holding one stops working unless something refreshes it; a kubelet credential provider on the nodes pulls without a pull secret`;
}

/** A pull secret of the namespace that would cover the image: the ServiceAccount's first. */
function coveringSecret(context: SubjectContext, image: ImageReference): { name: string; key: string } | undefined {
  const { index, subject } = context;
  const others = [...index.secrets.values()]
    .filter((secret) => secret.namespace === subject.namespace && !context.accountSecrets.includes(secret.name))
    .map((secret) => secret.name)
    .sort();
  for (const name of [...context.accountSecrets, ...others]) {
    const used = lookup(index, subject.namespace, [name], image).used;
    if (used) return { name, key: used.key };
  }
  return undefined;
}

/**
 * The source our admission webhook would add to a new pod for this image, as the webhook decides:
 * the namespace not left out by its configuration, the template not opted out, and a source it
 * serves, not already named, whose registries match the image as the kubelet matches them.
 */
function admissionCovering(context: SubjectContext, image: string): { name: string; key: string; source: string } | undefined {
  const { admission } = context.index;
  const { subject } = context;
  if (!admission || admission.excludedNamespaces.includes(subject.namespace) || subject.namespace === 'kube-system') return undefined;
  if (subject.template?.labels?.[INJECT_OPT_OUT] === 'false' || subject.template?.annotations?.[INJECT_OPT_OUT] === 'false') return undefined;
  const named = new Set(names(subject.spec.imagePullSecrets));
  for (const source of admission.sources) {
    if (named.has(source.metadata!.name!)) continue;
    try {
      const [key] = matchingKeys(image, registriesOf(source));
      if (key) return { name: source.metadata!.name!, key, source: at(source.metadata!.namespace!, source.metadata!.name!) };
    } catch {
      // An image the kubelet cannot parse is judged elsewhere.
    }
  }
  return undefined;
}

/** A pull secret of that name in another namespace read, that covers the image (to copy it). */
function namesakeCovering(index: ClusterIndex, name: string, image: ImageReference): string | undefined {
  for (const secret of index.secrets.values()) {
    if (secret.name === name && lookup(index, secret.namespace, [name], image).used) return at(secret.namespace, name);
  }
  return undefined;
}

/** The secret of a matching entry that has no credentials. */
function unusableMatch(index: ClusterIndex, namespace: string, candidates: Candidate[]): SecretInfo | undefined {
  const candidate = candidates.find((c) => !c.usable);
  return candidate ? index.secrets.get(at(namespace, candidate.secret)) : undefined;
}

/** Keys that name the image's host but do not match it, and why not. */
function nearMisses(index: ClusterIndex, namespace: string, secretNames: string[], image: ImageReference): string[] {
  const hints: string[] = [];
  const imageLabels = image.host.split('.');
  for (const name of secretNames) {
    for (const { key } of index.secrets.get(at(namespace, name))?.entries ?? []) {
      let normalized;
      try {
        normalized = normalizeRegistryKey(key);
      } catch {
        hints.push(`${namespace}/${name} has key ${JSON.stringify(key)}, which the kubelet cannot parse and ignores`);
        continue;
      }
      const sameHost = normalized.host.toLowerCase() === image.host.toLowerCase();
      const prefix = `${namespace}/${name} key ${key}`;
      if (sameHost && normalized.host !== image.host) {
        hints.push(`${prefix} differs from ${image.host} in letter case; the kubelet compares host names as written`);
      } else if (sameHost && normalized.port !== image.port) {
        hints.push(`${prefix} is for port ${normalized.port ?? '(none)'}, the image uses ${image.port ?? 'no port'}; the ports must be the same (no port is not :443)`);
      } else if (sameHost && !image.path.startsWith(normalized.path)) {
        hints.push(`${prefix} only covers repositories starting with ${normalized.path}, not ${image.path}`);
      } else if (normalized.host.includes('*') && normalized.host.split('.').length !== imageLabels.length) {
        hints.push(`${prefix}: each "*" stands for exactly one part of the host name, so it cannot match ${image.host}`);
      }
    }
  }
  return hints;
}

/** The commands that fix a subject's problems, for one image registry. */
class Fixes {
  private readonly namespace: string;

  constructor(
    private readonly context: SubjectContext,
    private readonly registry: string,
  ) {
    this.namespace = context.subject.namespace;
  }

  private login(name: string, flags: string): string {
    return `kubectl pullsecret add ${name} -n ${this.namespace} --server ${this.registry} --username USER --password-stdin${flags}`;
  }

  /** A pod gets its ServiceAccount's pull secrets again only when it is created again. */
  restartPod(): string | undefined {
    const { subject } = this.context;
    if (!subject.pod) return undefined;
    const owner = subject.owner;
    const pod = subject.pod.metadata!.name!;
    if (owner && ['deployment', 'statefulset', 'daemonset'].includes(owner.kind)) {
      return `kubectl rollout restart ${owner.kind}/${owner.name} -n ${this.namespace}`;
    }
    // Its controller (ReplicaSet, Job, ...) makes a new pod from a template without the list.
    if (owner) return `kubectl delete pod ${pod} -n ${this.namespace}`;
    // A pod without a controller is re-created from itself, without its stale list.
    return this.context.effective.length === 0
      ? `kubectl get pod ${pod} -n ${this.namespace} -o yaml | kubectl replace --force -f -`
      : `kubectl get pod ${pod} -n ${this.namespace} -o json | jq 'del(.spec.imagePullSecrets)' | kubectl replace --force -f -`;
  }

  /** Makes the subject's pulls use an existing pull secret of its namespace. */
  useSecret(secret: string): string | undefined {
    const { subject, effective, pullSecretsFrom, accountSecrets, serviceAccount } = this.context;
    const viaAccount = pullSecretsFrom === 'serviceaccount' || (subject.pod !== undefined && effective.every((n) => accountSecrets.includes(n)));
    if (viaAccount) {
      if (!serviceAccount) return undefined;
      const steps: string[] = [];
      if (!accountSecrets.includes(secret)) {
        // imagePullSecrets has no merge key: the patch sets the whole list, as read.
        const list = JSON.stringify({ imagePullSecrets: [...accountSecrets, secret].map((name) => ({ name })) });
        steps.push(`kubectl patch serviceaccount ${this.context.serviceAccountName} -n ${this.namespace} -p '${list}'`);
      }
      if (subject.pod) steps.push(this.restartPod()!);
      return steps.join(' && ') || undefined;
    }
    const owner = subject.owner;
    if (owner && ['deployment', 'statefulset', 'daemonset', 'cronjob'].includes(owner.kind)) {
      const path = owner.kind === 'cronjob' ? '/spec/jobTemplate/spec/template/spec/imagePullSecrets/-' : '/spec/template/spec/imagePullSecrets/-';
      return `kubectl patch ${owner.kind}/${owner.name} -n ${this.namespace} --type=json -p '[{"op":"add","path":"${path}","value":{"name":"${secret}"}}]'`;
    }
    // The pod's own list cannot be edited, but the kubelet reads the secrets it names at every
    // pull: merging the entries into one of ours fixes the next pull without a restart.
    const managed = effective.find((name) => this.context.index.secrets.get(at(this.namespace, name))?.managed);
    if (managed) return `kubectl pullsecret add ${managed} -n ${this.namespace} --from-secret ${this.namespace}/${secret} --no-attach`;
    if (subject.pod && !owner) {
      return `kubectl get pod ${subject.pod.metadata!.name!} -n ${this.namespace} -o json | jq '.spec.imagePullSecrets += [{"name":"${secret}"}]' | kubectl replace --force -f -`;
    }
    return undefined;
  }

  /** (Re)writes a named pull secret that the pod already references; no restart is needed. */
  recreate(name: string, copyFrom: string | undefined, existing?: SecretInfo): string {
    const replace = existing ? ` --replace${existing.managed ? '' : ' --force'}` : '';
    if (copyFrom) {
      const source = copyFrom.includes('/') ? copyFrom : at(this.namespace, copyFrom);
      return `kubectl pullsecret add ${name} -n ${this.namespace} --from-secret ${source} --no-attach${replace}`;
    }
    return this.login(name, ` --no-attach${replace}`);
  }

  /** Credentials for the registry where none exist in the namespace. */
  newCredentials(): string | undefined {
    const { subject, effective, pullSecretsFrom, accountSecrets } = this.context;
    // Adding the registry to a secret we manage that is already referenced needs no restart.
    const managed = effective.find((name) => this.context.index.secrets.get(at(this.namespace, name))?.managed);
    if (managed) return this.login(managed, ' --no-attach');
    const name = secretNameFor(this.registry);
    const viaAccount = pullSecretsFrom === 'serviceaccount' || (subject.pod !== undefined && effective.every((n) => accountSecrets.includes(n)));
    if (viaAccount) {
      const add = this.login(name, ` --service-account ${this.context.serviceAccountName}`);
      return subject.pod ? `${add} && ${this.restartPod()}` : add;
    }
    const use = this.useSecret(name);
    return use ? `${this.login(name, ' --no-attach')} && ${use}` : undefined;
  }
}

/** A pull-secret name for a registry: `ghcr.io`, `registry.example-5000`. */
export function secretNameFor(registry: string): string {
  const name = registry.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '');
  return name || 'regcred';
}

// ------------------------------------------------------------------------------------------------
// --verify: do the credentials the kubelet sends work?

const loginKey = (namespace: string, secret: string, key: string, registry: string) => JSON.stringify([namespace, secret, key, registry]);

/**
 * Logs in to each image's registry with the credentials the kubelet would send for it, as read by
 * the kubelet (one login per distinct secret entry and registry). The answers go back into
 * diagnose as DiagnoseOptions.logins, where a refused login turns `covered` into `rejected`.
 */
export async function verifyUsedLogins(diagnoses: Diagnosis[], input: DoctorInput, options: VerifyOptions): Promise<Map<string, LoginCheck>> {
  const secrets = new Map(input.secrets.map((secret) => [at(secret.metadata!.namespace!, secret.metadata!.name!), secret]));
  const wanted = new Map<string, { registry: string; username: string; password: string }>();
  for (const diagnosis of diagnoses) {
    for (const image of diagnosis.images) {
      if (!image.used || !image.registry) continue;
      const id = loginKey(diagnosis.namespace, image.used.secret, image.used.key, image.registry);
      const secret = secrets.get(at(diagnosis.namespace, image.used.secret));
      const reading = secret ? readPullSecretLikeKubelet(secret.type, secret.data) : undefined;
      const credentials = reading?.outcome === 'read' ? reading.credentials[image.used.key] : undefined;
      // The kubelet sends them to the image's registry, whatever host the key names (globs).
      if (credentials) wanted.set(id, { registry: image.registry, username: credentials.username, password: credentials.password });
    }
  }
  const ids = [...wanted.keys()];
  const checks = await checkLogins([...wanted.values()], options);
  return new Map(ids.map((id, i) => [id, checks[i]!]));
}

// ------------------------------------------------------------------------------------------------
// Printing

export interface DoctorSummary {
  images: number;
  covered: number;
}

export function summarize(diagnoses: Diagnosis[]): DoctorSummary {
  const images = diagnoses.flatMap((d) => d.images);
  // Images the webhook covers in new pods count as covered: their pods will pull.
  return { images: images.length, covered: images.filter((i) => i.verdict === 'covered' || i.verdict === 'injected').length };
}

const SOURCE_WORDS: Record<Diagnosis['pullSecretsFrom'], string> = {
  pod: "the pod's",
  template: "the pod template's",
  serviceaccount: 'from the ServiceAccount',
};

/** The human-readable report: one block per pod or template, then a summary line. */
export function formatDiagnoses(diagnoses: Diagnosis[]): string {
  const lines: string[] = [];
  for (const d of diagnoses) {
    if (lines.length > 0) lines.push('');
    lines.push(`${d.object} (namespace ${d.namespace}, ServiceAccount ${d.serviceAccount})`);
    lines.push(`  pull secrets: ${d.pullSecrets.length ? `${d.pullSecrets.join(', ')} (${SOURCE_WORDS[d.pullSecretsFrom]})` : 'none'}`);
    for (const image of d.images) {
      const what = image.container !== undefined
        ? `${image.containerType === 'regular' || !image.containerType ? 'container' : `${image.containerType} container`} ${image.container}`
        : 'image';
      lines.push(`  ${what}: ${image.image}${image.waiting ? ` (${image.waiting})` : ''}`);
      lines.push(`    ${image.verdict === 'covered' ? '' : `${image.verdict}: `}${image.message}`);
      if (image.tried.length > 1) lines.push(`    tried in order: ${image.tried.map((t) => `${t.secret} (${t.key})`).join(', ')}`);
      if (image.fix) lines.push(`    fix: ${image.fix}`);
      for (const hint of image.hints) lines.push(`    hint: ${hint}`);
    }
    for (const note of d.notes) lines.push(`  note: ${note}`);
  }
  const { images, covered } = summarize(diagnoses);
  if (lines.length > 0) lines.push('');
  lines.push(`summary: ${images} image${images === 1 ? '' : 's'} checked, ${covered} covered, ${images - covered} not covered`);
  return `${lines.join('\n')}\n`;
}

// ------------------------------------------------------------------------------------------------
// Reading the cluster: a fixed number of requests, whatever the number of pods

export interface DoctorRequest {
  target?: Target;
  scope: Scope;
  image?: string;
}

export interface DoctorRead {
  subjects: Subject[];
  input: DoctorInput;
  /** Without a target: only the containers that fail to pull are checked. */
  onlyFailing: boolean;
}

/**
 * Reads what a diagnosis needs: the target (one GET), the pods of a workload (one LIST), or
 * every pod in scope (one LIST) when there is no target; then the pull secrets and
 * ServiceAccounts in scope (three LISTs).
 */
export async function readForDoctor(connection: Connection, request: DoctorRequest): Promise<DoctorRead> {
  const { target, scope } = request;
  if (target && !('namespace' in scope)) {
    throw new UsageError('a pod or workload cannot be named across all namespaces: use -n NAMESPACE instead of -A');
  }
  if (!target && request.image !== undefined && !('namespace' in scope)) {
    throw new UsageError('--image without a pod or workload checks a new pod in one namespace: use -n NAMESPACE instead of -A');
  }
  const secretsAndAccounts = Promise.all([
    listPullSecrets(connection, scope), listServiceAccounts(connection, scope), readServerVersion(connection), readAdmission(connection),
  ]);
  // Settled here too, so a failing subject read does not leave this rejection unhandled.
  secretsAndAccounts.catch(() => undefined);
  const subjects = await readSubjects(connection, request);
  const [secrets, serviceAccounts, serverVersion, admission] = await secretsAndAccounts;
  return {
    subjects,
    input: { secrets, serviceAccounts, ...(serverVersion ? { serverVersion } : {}), ...(admission ? { admission } : {}) },
    onlyFailing: !target && request.image === undefined,
  };
}

/**
 * Our admission webhook, if `sync --watch --webhook` registered one: its configuration (one GET)
 * and the sources it serves (one LIST of our secrets). Undefined when there is none, or when this
 * user may not read them: then doctor judges as if there were none.
 */
async function readAdmission(connection: Connection): Promise<Admission | undefined> {
  try {
    const configuration = await requestJson<V1MutatingWebhookConfiguration>(connection, {
      path: `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${WEBHOOK_CONFIGURATION_NAME}`,
    });
    if (!isManaged(configuration)) return undefined;
    const serves = configuration.metadata?.annotations?.[SERVES_ANNOTATION] ?? 'all';
    const excludedNamespaces = (configuration.webhooks ?? []).flatMap((webhook) =>
      (webhook.namespaceSelector?.matchExpressions ?? [])
        .filter((e) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn')
        .flatMap((e) => e.values ?? []));
    const managed = await listObjects<V1Secret>(connection, 'secrets', { labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` });
    const sources = managed.filter((secret) => isSource(secret) && (serves === 'all' || serves === at(secret.metadata!.namespace!, secret.metadata!.name!)));
    return { serves, excludedNamespaces, sources };
  } catch {
    return undefined;
  }
}

/** GET /version (readable by anyone); undefined when it cannot be read, which only costs a hint. */
async function readServerVersion(connection: Connection): Promise<KubernetesVersion | undefined> {
  try {
    const version = await requestJson<{ major?: string; minor?: string; gitVersion?: string }>(connection, { path: '/version' });
    return parseServerVersion(version);
  } catch {
    return undefined;
  }
}

/** `{major: "1", minor: "36+"}` (providers add "+") or, failing that, gitVersion `v1.36.3-eks-...`. */
export function parseServerVersion(version: { major?: string; minor?: string; gitVersion?: string }): KubernetesVersion | undefined {
  const gitVersion = version.gitVersion ?? '';
  let major = Number.parseInt(version.major ?? '', 10);
  let minor = Number.parseInt(version.minor ?? '', 10);
  if (!Number.isFinite(major) || !Number.isFinite(minor)) {
    const match = /^v?(\d+)\.(\d+)/.exec(gitVersion);
    if (!match) return undefined;
    major = Number(match[1]);
    minor = Number(match[2]);
  }
  return { major, minor, gitVersion: gitVersion || `v${major}.${minor}` };
}

async function readSubjects(connection: Connection, { target, scope, image }: DoctorRequest): Promise<Subject[]> {
  if (!target) {
    if (image !== undefined) return [serviceAccountSubject((scope as { namespace: string }).namespace, 'default')];
    const pods = await listPods(connection, scope);
    return pods.filter((pod) => pullFailures(pod).size > 0).map(podSubject).sort(bySubject);
  }
  const namespace = (scope as { namespace: string }).namespace;
  const notFound = () => new CliError(`${target.kind}s "${target.name}" not found in namespace "${namespace}"`);
  if (target.kind === 'pod') {
    const pod = await readOrUndefined(connection, () => coreApi(connection).readNamespacedPod({ name: target.name, namespace }));
    if (!pod) throw notFound();
    return [podSubject(pod)];
  }
  const workload = await readWorkload(connection, target.kind, target.name, namespace);
  if (!workload) throw notFound();
  const subjects = [templateSubject(target.kind, workload)];
  // The pods it already has: their lists were fixed when they were created.
  const selector = labelSelectorString(workload.spec?.selector);
  if (selector !== undefined) {
    const pods = await apiCall(connection, () => coreApi(connection).listNamespacedPod({ namespace, labelSelector: selector }));
    subjects.push(...pods.items.filter((pod) => ownedBy(pod, target.kind as WorkloadKind, target.name)).map(podSubject).sort(bySubject));
  }
  return subjects;
}

const bySubject = (a: Subject, b: Subject) => a.namespace.localeCompare(b.namespace) || a.object.localeCompare(b.object);

function readWorkload(connection: Connection, kind: WorkloadKind, name: string, namespace: string): Promise<WorkloadObject | undefined> {
  const client = <T>(api: Parameters<typeof makeClient<T>>[1]) => makeClient(connection, api);
  switch (kind) {
    case 'deployment':
      return readOrUndefined(connection, () => client(AppsV1Api).readNamespacedDeployment({ name, namespace }));
    case 'statefulset':
      return readOrUndefined(connection, () => client(AppsV1Api).readNamespacedStatefulSet({ name, namespace }));
    case 'daemonset':
      return readOrUndefined(connection, () => client(AppsV1Api).readNamespacedDaemonSet({ name, namespace }));
    case 'job':
      return readOrUndefined(connection, () => client(BatchV1Api).readNamespacedJob({ name, namespace }));
    case 'cronjob':
      return readOrUndefined(connection, () => client(BatchV1Api).readNamespacedCronJob({ name, namespace }));
  }
}

/** A label selector as the `labelSelector` query parameter; undefined for an empty one. */
export function labelSelectorString(selector: V1LabelSelector | undefined): string | undefined {
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const { key, operator, values = [] } of selector?.matchExpressions ?? []) {
    if (operator === 'In') parts.push(`${key} in (${values.join(',')})`);
    else if (operator === 'NotIn') parts.push(`${key} notin (${values.join(',')})`);
    else if (operator === 'Exists') parts.push(key);
    else if (operator === 'DoesNotExist') parts.push(`!${key}`);
  }
  return parts.length > 0 ? parts.join(',') : undefined;
}
