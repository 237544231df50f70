import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1Namespace, V1Pod, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { CONTENT_HASH_ANNOTATION, MANAGED_BY_LABEL } from '../../lib/cluster';
import { contentHash } from '../../lib/dockerconfig';
import { UsageError } from '../../lib/errors';
import { controllerArgs, controllerRules, leaseRules, printManifests } from '../../lib/manifests';
import type { Change } from '../../lib/plan';
import {
  SOURCE_ANNOTATION,
  SYNC_OPT_OUT_ANNOTATION,
  findStuckPods,
  namespaceSelected,
  planSync,
  selectSources,
  serviceAccountSelected,
  type SyncRequest,
  type SyncState,
} from '../../lib/sync';

const content = '{"auths":{"registry.example":{"username":"u","password":"p","auth":"dTpw"}}}';
const b64 = (text: string) => Buffer.from(text).toString('base64');

const ns = (name: string, extra: Partial<V1Namespace['metadata']> = {}, phase = 'Active'): V1Namespace => ({
  metadata: { name, ...extra },
  status: { phase },
});
const source = (namespace: string, name: string, text = content): V1Secret => ({
  metadata: { namespace, name, labels: { [MANAGED_BY_LABEL]: 'kubectl-pullsecret' }, annotations: { [CONTENT_HASH_ANNOTATION]: contentHash(text) } },
  type: 'kubernetes.io/dockerconfigjson',
  data: { '.dockerconfigjson': b64(text) },
});
const copy = (namespace: string, of: V1Secret, text = content): V1Secret => ({
  metadata: {
    namespace,
    name: of.metadata!.name,
    resourceVersion: '5',
    labels: { [MANAGED_BY_LABEL]: 'kubectl-pullsecret' },
    annotations: { [CONTENT_HASH_ANNOTATION]: contentHash(text), [SOURCE_ANNOTATION]: `${of.metadata!.namespace}/${of.metadata!.name}` },
  },
  type: 'kubernetes.io/dockerconfigjson',
  data: { '.dockerconfigjson': b64(text) },
});
const sa = (namespace: string, name: string, refs: string[] = []): V1ServiceAccount => ({
  metadata: { namespace, name, resourceVersion: '1' },
  imagePullSecrets: refs.map((n) => ({ name: n })),
});

const request = (overrides: Partial<SyncRequest> = {}): SyncRequest => ({
  source: { namespace: 'home', name: 'regcred' },
  namespaces: { exclude: [] },
  serviceAccounts: 'all',
  prune: false,
  force: false,
  ...overrides,
});

const home = source('home', 'regcred');
const state = (overrides: Partial<SyncState> = {}): SyncState => {
  const managed = overrides.managed ?? [home];
  return {
    namespaces: [ns('home'), ns('a'), ns('b')],
    managed,
    sameNamed: overrides.sameNamed ?? managed,
    serviceAccounts: [sa('home', 'default'), sa('a', 'default', ['other']), sa('a', 'builder'), sa('b', 'default')],
    ...overrides,
  };
};

const summary = (changes: Change[]) =>
  changes.map((c) => `${c.kind} ${c.namespace}${'serviceAccount' in c ? ` ${c.serviceAccount}` : ''}`);

describe('planSync', () => {
  test('--service-accounts none: copies only, no ServiceAccount write; a stale copy still referenced is kept, not detached', () => {
    const none = request({ serviceAccounts: 'none', prune: true });
    assert.deepEqual(summary(planSync(none, state())), ['create-secret a', 'create-secret b']);
    assert.equal(serviceAccountSelected('default', 'none'), false);
    // Source gone: the copy in a is referenced (an earlier mode attached it), the one in b is not.
    const stale = planSync(request({ source: 'all', serviceAccounts: 'none', prune: true }), state({
      managed: [copy('a', home), copy('b', home)],
      serviceAccounts: [sa('a', 'default', ['regcred']), sa('b', 'default')],
    }));
    assert.deepEqual(summary(stale), ['skip a', 'delete-secret b']);
    assert.match((stale[0] as { reason: string }).reason, /still referenced by serviceaccount default; --service-accounts none never edits ServiceAccounts/);
  });

  test('from nothing: a copy in every other namespace, attached to every ServiceAccount', () => {
    const changes = planSync(request(), state());
    assert.deepEqual(summary(changes), [
      'attach home default',
      'create-secret a',
      'attach a default',
      'attach a builder',
      'create-secret b',
      'attach b default',
    ]);
    const created = changes.find((c) => c.kind === 'create-secret')!;
    assert.ok(created.kind === 'create-secret');
    assert.equal(created.secret.metadata?.annotations?.[SOURCE_ANNOTATION], 'home/regcred');
    assert.equal(created.secret.data?.['.dockerconfigjson'], home.data!['.dockerconfigjson']);
  });

  test('in sync: nothing to do', () => {
    const copies = [copy('a', home), copy('b', home)];
    const changes = planSync(request(), state({
      managed: [home, ...copies],
      serviceAccounts: [sa('home', 'default', ['regcred']), sa('a', 'default', ['regcred']), sa('b', 'default', ['regcred'])],
    }));
    assert.deepEqual(changes, []);
  });

  test('rotation updates copies in place (never delete and re-create)', () => {
    const rotated = source('home', 'regcred', content.replace('"p"', '"q"'));
    const changes = planSync(request(), state({ managed: [rotated, copy('a', home)], serviceAccounts: [] }));
    const update = changes.find((c) => c.namespace === 'a')!;
    assert.equal(update.kind, 'update-secret');
    assert.ok(update.kind === 'update-secret');
    assert.equal(update.secret.metadata?.resourceVersion, '5');
    assert.ok(!changes.some((c) => c.kind === 'delete-secret' || c.kind === 'replace-secret'));
  });

  test('namespace selection: names, excludes, opt-out annotation, label matches, terminating', () => {
    const namespaces = [ns('home'), ns('a'), ns('b', { annotations: { [SYNC_OPT_OUT_ANNOTATION]: 'false' } }), ns('kube-x'), ns('t', {}, 'Terminating')];
    const changes = planSync(request({ namespaces: { exclude: ['kube-*'] } }), state({ namespaces, serviceAccounts: [] }));
    assert.deepEqual(summary(changes), ['create-secret a', 'skip t']);
    assert.equal(namespaceSelected(ns('a'), { names: ['b'], exclude: [] }), false);
    assert.equal(namespaceSelected(ns('a'), { exclude: [] }, new Set(['b'])), false);
    assert.equal(namespaceSelected(ns('b'), { exclude: [] }, new Set(['b'])), true);
    assert.equal(namespaceSelected(ns('b', { annotations: { [SYNC_OPT_OUT_ANNOTATION]: 'false' } }), { names: ['b'], exclude: [] }), false);
  });

  test('ServiceAccount patterns', () => {
    assert.equal(serviceAccountSelected('anything', 'all'), true);
    assert.equal(serviceAccountSelected('default', ['default']), true);
    assert.equal(serviceAccountSelected('builder', ['default']), false);
    assert.equal(serviceAccountSelected('ci-runner', ['ci-*']), true);
    const changes = planSync(request({ serviceAccounts: ['default'] }), state());
    assert.ok(!changes.some((c) => c.kind === 'attach' && c.serviceAccount === 'builder'));
  });

  test('a foreign secret in the way fails unless --force; another source of the name is never overwritten', () => {
    const foreign: V1Secret = { metadata: { namespace: 'a', name: 'regcred' }, type: 'Opaque', data: {} };
    const refused = planSync(request(), state({ sameNamed: [home, foreign] }));
    const inA = refused.filter((c) => c.namespace === 'a');
    assert.deepEqual(inA.map((c) => c.kind), ['fail'], 'nothing attached where the copy could not be written');
    const forced = planSync(request({ force: true }), state({ sameNamed: [home, foreign] }));
    assert.equal(forced.find((c) => c.namespace === 'a')!.kind, 'replace-secret');
    const otherSource = source('a', 'regcred');
    const kept = planSync(request(), state({ managed: [home, otherSource], sameNamed: [home, otherSource] }));
    assert.equal(kept.find((c) => c.namespace === 'a')!.kind, 'fail');
  });

  test('stale copies are reported, and removed with --prune with their references', () => {
    const stale = copy('b', home);
    const current = { managed: [home, stale], serviceAccounts: [sa('b', 'default', ['first', 'regcred'])] };
    const reported = planSync(request({ namespaces: { exclude: ['b'] } }), state(current));
    assert.deepEqual(summary(reported.filter((c) => c.namespace === 'b')), ['skip b']);
    const pruned = planSync(request({ namespaces: { exclude: ['b'] }, prune: true }), state(current));
    assert.deepEqual(summary(pruned.filter((c) => c.namespace === 'b')), ['detach b default', 'delete-secret b']);
    const orphan = copy('b', source('gone', 'regcred'));
    const orphaned = planSync(request({ source: 'all', prune: true }), state({ managed: [orphan], serviceAccounts: [] }));
    assert.deepEqual(summary(orphaned), ['delete-secret b']);
  });

  test('a plan over a few namespaces leaves copies elsewhere alone (the controller plans per event)', () => {
    const elsewhere = copy('z', home);
    const changes = planSync(request({ prune: true }), state({ namespaces: [ns('a')], managed: [home, elsewhere], serviceAccounts: [] }));
    assert.deepEqual(summary(changes), ['create-secret a']);
  });
});

describe('selectSources', () => {
  test('two sources of one name are an error naming both', () => {
    assert.throws(
      () => selectSources(request({ source: 'all' }), [source('a', 'regcred'), source('b', 'regcred')]),
      (error: unknown) => error instanceof UsageError && /a\/regcred and b\/regcred/.test(error.message),
    );
  });

  test('a named source must exist and be a source, not a copy', () => {
    assert.throws(() => selectSources(request(), []), /no source home\/regcred/);
    assert.throws(() => selectSources(request({ source: { namespace: 'a', name: 'regcred' } }), [home, copy('a', home)]), /is a copy of home\/regcred/);
  });
});

describe('controller manifests', () => {
  test('rules are exactly what the controller calls; delete only with --prune; no ServiceAccount patch with --service-accounts none', () => {
    const verbs = (prune: boolean, serviceAccounts: 'all' | 'none' = 'all') =>
      Object.fromEntries(controllerRules({ prune, serviceAccounts }).map((r) => [r.resources![0], r.verbs]));
    assert.deepEqual(verbs(false), {
      namespaces: ['list', 'watch'],
      serviceaccounts: ['list', 'watch', 'patch'],
      secrets: ['list', 'watch', 'create', 'update'],
      events: ['create', 'patch'],
    });
    assert.deepEqual(verbs(true).secrets, ['list', 'watch', 'create', 'update', 'delete']);
    assert.deepEqual(verbs(false, 'none').serviceaccounts, ['list', 'watch']);
  });

  test('the Lease rights: a Role in the controller namespace, get and update only of its own Lease', () => {
    assert.deepEqual(leaseRules('kubectl-pullsecret'), [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['kubectl-pullsecret'], verbs: ['get', 'update'] },
    ]);
  });

  test('highly available and Pod Security restricted: 2 replicas by default, RollingUpdate without unavailability, a PDB, spread over nodes', () => {
    const printed = printManifests({ request: request(), concurrency: 16, webhook: false });
    assert.match(printed, /replicas: 2\n/);
    assert.match(printed, /maxUnavailable: 0\n\s+maxSurge: 1/);
    assert.match(printed, /kind: PodDisruptionBudget\n(.*\n)*spec:\n\s+maxUnavailable: 1/);
    assert.match(printed, /whenUnsatisfiable: ScheduleAnyway/);
    assert.match(printed, /pod-security.kubernetes.io\/enforce: restricted/);
    assert.match(printed, /seccompProfile:\n\s+type: RuntimeDefault/);
    assert.match(printed, /- '--leader-elect'\n/);
    assert.match(printManifests({ request: request(), concurrency: 16, webhook: false, replicas: 3 }), /replicas: 3\n/);
  });

  test('with --webhook: the webhook configuration (its caBundle left to the controller), a Service, and the right to manage it', () => {
    const printed = printManifests({ request: request({ namespaces: { exclude: ['ci', 'kube-*'] } }), concurrency: 16, webhook: true });
    const kinds = [...printed.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]);
    assert.deepEqual(kinds, ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Deployment', 'PodDisruptionBudget', 'MutatingWebhookConfiguration', 'Service']);
    assert.match(printed, /failurePolicy: Ignore/);
    assert.doesNotMatch(printed, /caBundle/);
    assert.match(printed, /- '--webhook'\n/);
    const rules = controllerRules({ prune: false, serviceAccounts: 'all' }, true).filter((r) => r.apiGroups?.[0] === 'admissionregistration.k8s.io');
    assert.deepEqual(rules.map((r) => r.verbs), [['create'], ['get', 'update']]);
    assert.match(printed, /values:\n\s+- ci\n\s+- kube-system\n\s+- kubectl-pullsecret/);
  });

  test('the Deployment runs the same sync, watching', () => {
    assert.deepEqual(
      controllerArgs(request({ namespaces: { exclude: ['kube-*'], labelSelector: 'team=a' }, serviceAccounts: ['default'] }), 8),
      [
        'sync', 'regcred', '--namespace', 'home', '--selector', 'team=a', '--exclude', 'kube-*', '--service-accounts', 'default', '--concurrency', '8', '--watch',
        '--leader-elect', '--metrics-bind-address', ':8080', '--health-probe-bind-address', ':8081',
      ],
    );
  });
});

describe('findStuckPods', () => {
  const pod = (namespace: string, name: string, image: string, reason: string, pullSecrets: string[] = [], init = false): V1Pod => {
    const statuses = [{ name: 'c', image, imageID: '', ready: false, restartCount: 0, state: { waiting: { reason } } }];
    return {
      metadata: { namespace, name },
      spec: { containers: [{ name: 'c', image }], imagePullSecrets: pullSecrets.map((n) => ({ name: n })) },
      status: { phase: 'Pending', ...(init ? { initContainerStatuses: statuses } : { containerStatuses: statuses }) },
    };
  };

  test('pods that cannot pull an image the source covers, in selected namespaces, without the secret already', () => {
    const pods = [
      pod('a', 'stuck', 'registry.example/app:1', 'ImagePullBackOff'),
      pod('b', 'init-stuck', 'registry.example/tools/init:2', 'ErrImagePull', [], true),
      pod('a', 'other-registry', 'other.example/app:1', 'ImagePullBackOff'),
      pod('a', 'creating', 'registry.example/app:1', 'ContainerCreating'),
      pod('b', 'has-it', 'registry.example/app:1', 'ImagePullBackOff', ['regcred']),
      pod('c', 'not-selected', 'registry.example/app:1', 'ImagePullBackOff'),
      pod('a', 'bad-image', 'registry.example/UPPER:1', 'ImagePullBackOff'),
    ];
    const stuck = findStuckPods(request({ namespaces: { exclude: ['c'] } }), state({ namespaces: [ns('home'), ns('a'), ns('b'), ns('c')] }), pods);
    assert.deepEqual(
      stuck.map((s) => `${s.pod.metadata!.namespace}/${s.pod.metadata!.name} ${s.image} ${s.secret}`),
      ['a/stuck registry.example/app:1 regcred', 'b/init-stuck registry.example/tools/init:2 regcred'],
    );
  });
});
