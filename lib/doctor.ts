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
  type V1Pod,
  type V1PodSpec,
  type V1Secret,
  type V1ServiceAccount,
} from '@kubernetes/client-node';
import { isManaged, listPods, listPullSecrets, listServiceAccounts, readOrUndefined, type Scope } from './cluster';
import { coreApi, makeClient } from './client';
import { apiCall, type Connection } from './connect';
import { decodeAuthField, inspectPullSecret, parsePullSecretData } from './dockerconfig';
import { CliError, UsageError, oneLine } from './errors';
import { matchingKeys, normalizeImage, normalizeRegistryKey, shortLivedTokenRegistry, type ImageReference } from './registry';

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
}

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
    template?: { spec?: V1PodSpec };
    jobTemplate?: { spec?: { template?: { spec?: V1PodSpec } } };
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
  /** Has a username and password (the kubelet ignores tokens and empty entries). */
  usable: boolean;
  username?: string;
}

interface SecretInfo {
  namespace: string;
  name: string;
  managed: boolean;
  status: 'ok' | 'malformed' | 'empty';
  reason?: string;
  /** `auths` entries in the secret's order (none when malformed). */
  entries: Entry[];
}

/** What doctor reads: the pull secrets and ServiceAccounts of the namespaces in scope. */
export interface DoctorInput {
  secrets: V1Secret[];
  serviceAccounts: V1ServiceAccount[];
}

interface ClusterIndex {
  secrets: Map<string, SecretInfo>;
  serviceAccounts: Map<string, V1ServiceAccount>;
}

const at = (namespace: string, name: string) => `${namespace}/${name}`;

function indexInput(input: DoctorInput): ClusterIndex {
  const secrets = new Map<string, SecretInfo>();
  for (const secret of input.secrets) {
    const { namespace, name } = secret.metadata as { namespace: string; name: string };
    const inspection = inspectPullSecret(secret.type, secret.data);
    const parsed = parsePullSecretData(secret.type, secret.data);
    const entries = parsed.ok
      ? Object.entries(parsed.config.auths).map(([key, entry]): Entry => {
          // As the kubelet does: a decodable `auth` wins over the separate username field.
          const username = (entry.auth ? decodeAuthField(entry.auth)?.username : undefined) ?? entry.username;
          return { key, usable: !inspection.emptyRegistries.includes(key), ...(username ? { username } : {}) };
        })
      : [];
    secrets.set(at(namespace, name), {
      namespace,
      name,
      managed: isManaged(secret),
      status: inspection.status,
      ...(inspection.reason ? { reason: inspection.reason } : {}),
      entries,
    });
  }
  const serviceAccounts = new Map(input.serviceAccounts.map((sa) => [at(sa.metadata!.namespace!, sa.metadata!.name!), sa]));
  return { secrets, serviceAccounts };
}

/** One entry the kubelet tries: a secret and one of its `auths` keys. */
export interface Candidate {
  secret: string;
  key: string;
  usable: boolean;
  username?: string;
}

interface Lookup {
  /** Every matching entry, in the order the kubelet tries them. */
  candidates: Candidate[];
  /** The first one with credentials. */
  used?: Candidate;
  /** Named secrets that do not exist (or are not pull secrets: the kubelet ignores those too). */
  missing: string[];
  /** Named secrets that are malformed or hold no credentials. */
  broken: SecretInfo[];
}

/**
 * The kubelet's keyring for a pod with these pull secrets: the entries of all of them, matched
 * and ordered by lib/registry (most specific key first; equal keys in the secrets' order).
 */
function lookup(index: ClusterIndex, namespace: string, names: string[], image: ImageReference): Lookup {
  const pairs: Array<{ secret: SecretInfo; entry: Entry }> = [];
  const missing: string[] = [];
  const broken: SecretInfo[] = [];
  for (const name of names) {
    const secret = index.secrets.get(at(namespace, name));
    if (!secret) {
      missing.push(name);
      continue;
    }
    if (secret.status !== 'ok') broken.push(secret);
    for (const entry of secret.entries) pairs.push({ secret, entry });
  }
  // matchingKeys answers with keys; equal keys come back in the order given, so each answer
  // takes the next unused pair with that key.
  const queues = new Map<string, Array<{ secret: SecretInfo; entry: Entry }>>();
  for (const pair of pairs) queues.set(pair.entry.key, [...(queues.get(pair.entry.key) ?? []), pair]);
  const candidates = matchingKeys(image, pairs.map((pair) => pair.entry.key)).map((key): Candidate => {
    const { secret, entry } = queues.get(key)!.shift()!;
    return { secret: secret.name, key, usable: entry.usable, ...(entry.username ? { username: entry.username } : {}) };
  });
  const used = candidates.find((candidate) => candidate.usable);
  return { candidates, ...(used ? { used } : {}), missing, broken };
}

// ------------------------------------------------------------------------------------------------
// Diagnosis

export type Verdict =
  | 'covered'
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
  waiting?: string;
}

function containersOf(spec: V1PodSpec): Array<ContainerImage & { name: string; container: string }> {
  const of = (containers: Array<{ name: string; image?: string }> | undefined, containerType: ImageDiagnosis['containerType']) =>
    (containers ?? []).map((c) => ({ name: c.name, container: c.name, containerType, image: c.image ?? '' }));
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

  if (found.used) {
    const { secret, key, username } = found.used;
    const shortLived = shortLivedTokenRegistry(key, username);
    if (shortLived) hints.push(shortLivedHint(shortLived));
    if (container.waiting) {
      hints.push(
        `the kubelet has credentials for ${registry}, so they may be wrong or expired, or the image may not exist: check them with \`kubectl pullsecret list -n ${namespace} --verify\``,
      );
    }
    return result('covered', `covered by ${namespace}/${secret} (${key})`);
  }

  const shortLived = shortLivedTokenRegistry(registry);
  if (shortLived) hints.push(shortLivedHint(shortLived));
  const cover = coveringSecret(context, image);
  const fixes = new Fixes(context, registry);

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
// Printing

export interface DoctorSummary {
  images: number;
  covered: number;
}

export function summarize(diagnoses: Diagnosis[]): DoctorSummary {
  const images = diagnoses.flatMap((d) => d.images);
  return { images: images.length, covered: images.filter((i) => i.verdict === 'covered').length };
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
  const secretsAndAccounts = Promise.all([listPullSecrets(connection, scope), listServiceAccounts(connection, scope)]);
  // Settled here too, so a failing subject read does not leave this rejection unhandled.
  secretsAndAccounts.catch(() => undefined);
  const subjects = await readSubjects(connection, request);
  const [secrets, serviceAccounts] = await secretsAndAccounts;
  return { subjects, input: { secrets, serviceAccounts }, onlyFailing: !target && request.image === undefined };
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
