import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1Pod, V1PodSpec, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import {
  diagnose,
  diagnoseAll,
  formatDiagnoses,
  labelSelectorString,
  ownerOf,
  parseServerVersion,
  parseTarget,
  podSubject,
  pullFailures,
  secretNameFor,
  serviceAccountSubject,
  summarize,
  templateSubject,
  type DoctorInput,
  type ImageDiagnosis,
} from '../../lib/doctor';
import { UsageError } from '../../lib/errors';

const PASSWORD = 'doctor-unit-password-do-not-print';
const b64 = (text: string) => Buffer.from(text).toString('base64');
const login = (user = 'ci') => ({ auth: b64(`${user}:${PASSWORD}`) });

function pullSecret(namespace: string, name: string, auths: Record<string, object>, options: { managed?: boolean } = {}): V1Secret {
  return {
    metadata: { namespace, name, ...(options.managed ? { labels: { 'app.kubernetes.io/managed-by': 'kubectl-pullsecret' } } : {}) },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': b64(JSON.stringify({ auths })) },
  };
}

const account = (namespace: string, name: string, secrets: string[]): V1ServiceAccount => ({
  metadata: { namespace, name },
  ...(secrets.length ? { imagePullSecrets: secrets.map((n) => ({ name: n })) } : {}),
});

interface PodOptions {
  secrets?: string[];
  serviceAccount?: string;
  owner?: { kind: string; name: string; hash?: string };
  spec?: Partial<V1PodSpec>;
  failing?: string[];
}

function pod(name: string, image: string, options: PodOptions = {}): V1Pod {
  const owner = options.owner;
  return {
    metadata: {
      namespace: 'shop',
      name,
      ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: owner.kind, name: owner.name, uid: 'u', controller: true }] } : {}),
      ...(owner?.hash ? { labels: { 'pod-template-hash': owner.hash } } : {}),
    },
    spec: {
      containers: [{ name: 'app', image }],
      ...(options.serviceAccount ? { serviceAccountName: options.serviceAccount } : {}),
      ...(options.secrets ? { imagePullSecrets: options.secrets.map((n) => ({ name: n })) } : {}),
      ...options.spec,
    },
    status: {
      containerStatuses: (options.failing ?? []).map((container) => ({
        name: container, image, imageID: '', ready: false, restartCount: 0,
        state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } },
      })),
    },
  };
}

/** The one image diagnosis of a pod with one container. */
function only(podObject: V1Pod, input: DoctorInput): ImageDiagnosis {
  const { images } = diagnose(podSubject(podObject), input);
  assert.equal(images.length, 1);
  return images[0]!;
}

describe('parseTarget', () => {
  test('a bare name is a pod; kubectl spellings of the kinds are accepted', () => {
    assert.deepEqual(parseTarget('web-1'), { kind: 'pod', name: 'web-1' });
    assert.deepEqual(parseTarget('po/web-1'), { kind: 'pod', name: 'web-1' });
    assert.deepEqual(parseTarget('deploy/web'), { kind: 'deployment', name: 'web' });
    assert.deepEqual(parseTarget('deployment.apps/web'), { kind: 'deployment', name: 'web' });
    assert.deepEqual(parseTarget('sts/db'), { kind: 'statefulset', name: 'db' });
    assert.deepEqual(parseTarget('DaemonSet/agent'), { kind: 'daemonset', name: 'agent' });
    assert.deepEqual(parseTarget('jobs/migrate'), { kind: 'job', name: 'migrate' });
    assert.deepEqual(parseTarget('cj/nightly'), { kind: 'cronjob', name: 'nightly' });
  });

  test('other kinds and bad names are usage errors', () => {
    assert.throws(() => parseTarget('service/web'), (e) => e instanceof UsageError && /not "service"/.test(e.message));
    assert.throws(() => parseTarget('deployment/'), UsageError);
    assert.throws(() => parseTarget('deployment/Web'), UsageError);
    assert.throws(() => parseTarget('a/b/c'), UsageError);
  });
});

describe('reading pods', () => {
  test('ownerOf finds the Deployment behind a ReplicaSet by the pod-template-hash', () => {
    assert.deepEqual(ownerOf(pod('web-5d8f-x', 'a', { owner: { kind: 'ReplicaSet', name: 'web-5d8f', hash: '5d8f' } })), { kind: 'deployment', name: 'web' });
    assert.deepEqual(ownerOf(pod('rs-x', 'a', { owner: { kind: 'ReplicaSet', name: 'plain-rs' } })), { kind: 'replicaset', name: 'plain-rs' });
    assert.deepEqual(ownerOf(pod('db-0', 'a', { owner: { kind: 'StatefulSet', name: 'db' } })), { kind: 'statefulset', name: 'db' });
    assert.equal(ownerOf(pod('bare', 'a')), undefined);
  });

  test('pullFailures reads init, regular and ephemeral container statuses', () => {
    const failing = pod('p', 'reg.example/a:1', { failing: ['app'] });
    failing.status!.initContainerStatuses = [
      { name: 'init', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImagePull' } } },
    ];
    failing.status!.ephemeralContainerStatuses = [
      { name: 'debug', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } },
    ];
    const failures = pullFailures(failing);
    assert.deepEqual([...failures.keys()].sort(), ['app', 'init']);
    assert.match(failures.get('app')!, /^ImagePullBackOff: Back-off pulling image/);
    assert.equal(failures.get('init'), 'ErrImagePull');
  });

  test('labelSelectorString writes matchLabels and matchExpressions', () => {
    assert.equal(labelSelectorString({ matchLabels: { app: 'web' } }), 'app=web');
    assert.equal(
      labelSelectorString({
        matchLabels: { app: 'web' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['a', 'b'] },
          { key: 'env', operator: 'NotIn', values: ['dev'] },
          { key: 'canary', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      }),
      'app=web,tier in (a,b),env notin (dev),canary,!legacy',
    );
    assert.equal(labelSelectorString({}), undefined);
    assert.equal(labelSelectorString(undefined), undefined);
  });

  test('secretNameFor makes a valid secret name from a registry', () => {
    assert.equal(secretNameFor('ghcr.io'), 'ghcr.io');
    assert.equal(secretNameFor('registry.example:5000'), 'registry.example-5000');
    assert.equal(secretNameFor('[::1]:5000'), '1-5000');
  });
});

describe('diagnose: covered', () => {
  test('the most specific key of all the pod\'s secrets is tried first', () => {
    const input = {
      secrets: [
        pullSecret('shop', 'wide', { 'registry.example': login('wide') }),
        pullSecret('shop', 'team', { 'registry.example/team-a': login('team') }),
      ],
      serviceAccounts: [],
    };
    const image = only(pod('p', 'registry.example/team-a/app:1', { secrets: ['wide', 'team'] }), input);
    assert.equal(image.verdict, 'covered');
    assert.equal(image.message, 'covered by shop/team (registry.example/team-a)');
    assert.deepEqual(image.tried, [{ secret: 'team', key: 'registry.example/team-a' }, { secret: 'wide', key: 'registry.example' }]);
    assert.equal(image.fix, undefined);
  });

  test('Docker Hub images fall back to index.docker.io entries; globs match one label', () => {
    const input = {
      secrets: [pullSecret('shop', 'hub', { 'https://index.docker.io/v1/': login() }), pullSecret('shop', 'corp', { '*.corp.example': login() })],
      serviceAccounts: [],
    };
    assert.equal(only(pod('p', 'nginx:1.27', { secrets: ['hub'] }), input).message, 'covered by shop/hub (https://index.docker.io/v1/)');
    assert.equal(only(pod('p', 'eu.corp.example/app', { secrets: ['corp'] }), input).verdict, 'covered');
    const deeper = only(pod('p', 'a.eu.corp.example/app', { secrets: ['corp'] }), input);
    assert.equal(deeper.verdict, 'no-match');
    assert.ok(deeper.hints.some((h) => /each "\*" stands for exactly one part/.test(h)), deeper.hints.join('\n'));
  });

  test('a legacy dockercfg secret counts', () => {
    const legacy: V1Secret = {
      metadata: { namespace: 'shop', name: 'old' },
      type: 'kubernetes.io/dockercfg',
      data: { '.dockercfg': b64(JSON.stringify({ 'old.example': login() })) },
    };
    assert.equal(only(pod('p', 'old.example/app', { secrets: ['old'] }), { secrets: [legacy], serviceAccounts: [] }).verdict, 'covered');
  });

  test('a failing pod that is covered is told to verify the credentials', () => {
    const input = { secrets: [pullSecret('shop', 'regcred', { 'registry.example': login() })], serviceAccounts: [] };
    const image = only(pod('p', 'registry.example/app', { secrets: ['regcred'], failing: ['app'] }), input);
    assert.equal(image.verdict, 'covered');
    assert.match(image.waiting!, /^ImagePullBackOff/);
    assert.ok(image.hints.some((h) => h.includes('kubectl pullsecret doctor pod/p -n shop --verify')), image.hints.join('\n'));
  });

  test('short-lived registry tokens get a hint, long-lived keys do not', () => {
    const ecr = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
    const input = {
      secrets: [
        pullSecret('shop', 'ecr', { [ecr]: { username: 'AWS', password: PASSWORD } }),
        pullSecret('shop', 'gcr', { 'gcr.io': login('_json_key') }),
      ],
      serviceAccounts: [],
    };
    const covered = only(pod('p', `${ecr}/app:1`, { secrets: ['ecr'] }), input);
    assert.equal(covered.verdict, 'covered');
    assert.ok(covered.hints.some((h) => /AWS ECR .*expire.*credential provider/.test(h)), covered.hints.join('\n'));
    assert.deepEqual(only(pod('p', 'gcr.io/proj/app', { secrets: ['gcr'] }), input).hints, []);
    const uncovered = only(pod('p', `${ecr}/app:1`), input);
    assert.equal(uncovered.verdict, 'public-or-node');
    assert.ok(uncovered.hints.some((h) => /AWS ECR/.test(h)));
  });
});

describe('diagnose: problems and fixes', () => {
  const regcred = pullSecret('shop', 'regcred', { 'registry.example:5000': login() });

  test('no pull secrets at all: public or node-level credentials, fixed by a secret and a restart', () => {
    const input = { secrets: [], serviceAccounts: [account('shop', 'default', [])] };
    const image = only(pod('web-5d8f-x', 'ghcr.io/acme/web:1', { owner: { kind: 'ReplicaSet', name: 'web-5d8f', hash: '5d8f' }, failing: ['app'] }), input);
    assert.equal(image.verdict, 'public-or-node');
    assert.match(image.message, /public or node-level credentials needed/);
    assert.equal(
      image.fix,
      'kubectl pullsecret add ghcr.io -n shop --server ghcr.io --username USER --password-stdin --service-account default && kubectl rollout restart deployment/web -n shop',
    );
  });

  test('stale: the ServiceAccount got the secret after the pod was created', () => {
    const input = { secrets: [regcred], serviceAccounts: [account('shop', 'builder', ['regcred'])] };
    const image = 'registry.example:5000/shop/app:1';
    const bare = only(pod('bare', image, { serviceAccount: 'builder' }), input);
    assert.equal(bare.verdict, 'stale');
    assert.match(bare.message, /created before ServiceAccount builder got regcred .*the pod has none: restart needed/);
    assert.equal(bare.fix, 'kubectl get pod bare -n shop -o yaml | kubectl replace --force -f -');
    const sts = only(pod('db-0', image, { serviceAccount: 'builder', owner: { kind: 'StatefulSet', name: 'db' } }), input);
    assert.equal(sts.fix, 'kubectl rollout restart statefulset/db -n shop');
    const job = only(pod('migrate-x', image, { serviceAccount: 'builder', owner: { kind: 'Job', name: 'migrate' } }), input);
    assert.equal(job.fix, 'kubectl delete pod migrate-x -n shop');
  });

  test('stale with an older, non-empty copy of the list', () => {
    const other = pullSecret('shop', 'other', { 'other.example': login() });
    const input = { secrets: [regcred, other], serviceAccounts: [account('shop', 'default', ['other', 'regcred'])] };
    const image = only(pod('bare', 'registry.example:5000/app', { secrets: ['other'] }), input);
    assert.equal(image.verdict, 'stale');
    assert.equal(image.fix, `kubectl get pod bare -n shop -o json | jq 'del(.spec.imagePullSecrets)' | kubectl replace --force -f -`);
  });

  test('shadowed: own imagePullSecrets keep the ServiceAccount\'s out', () => {
    const other = pullSecret('shop', 'other', { 'other.example': login() });
    const input = { secrets: [regcred, other], serviceAccounts: [account('shop', 'default', ['regcred'])] };
    const deployment = templateSubject('deployment', {
      metadata: { namespace: 'shop', name: 'web' },
      spec: { template: { spec: { imagePullSecrets: [{ name: 'other' }], containers: [{ name: 'web', image: 'registry.example:5000/web' }] } } },
    });
    const diagnosis = diagnose(deployment, input);
    assert.equal(diagnosis.pullSecretsFrom, 'template');
    const [image] = diagnosis.images;
    assert.equal(image!.verdict, 'shadowed');
    assert.match(image!.message, /names its own imagePullSecrets \(other\), so ServiceAccount default's are not used, and only its regcred/);
    assert.equal(
      image!.fix,
      `kubectl patch deployment/web -n shop --type=json -p '[{"op":"add","path":"/spec/template/spec/imagePullSecrets/-","value":{"name":"regcred"}}]'`,
    );
    const cronjob = templateSubject('cronjob', {
      metadata: { namespace: 'shop', name: 'nightly' },
      spec: { jobTemplate: { spec: { template: { spec: { imagePullSecrets: [{ name: 'other' }], containers: [{ name: 'n', image: 'registry.example:5000/n' }] } } } } },
    });
    assert.match(diagnose(cronjob, input).images[0]!.fix!, /cronjob\/nightly .*"path":"\/spec\/jobTemplate\/spec\/template\/spec\/imagePullSecrets\/-"/);
  });

  test('dangling: the named secret is missing; copied from a covering secret when there is one', () => {
    const input = { secrets: [regcred], serviceAccounts: [account('shop', 'default', ['regcred'])] };
    const image = only(pod('p', 'registry.example:5000/app', { secrets: ['gone'] }), input);
    assert.equal(image.verdict, 'dangling');
    assert.match(image.message, /pull secret "gone" does not exist in namespace shop/);
    assert.equal(image.fix, 'kubectl pullsecret add gone -n shop --from-secret shop/regcred --no-attach');
    const diagnosis = diagnose(podSubject(pod('p', 'registry.example:5000/app', { secrets: ['gone'] })), input);
    assert.deepEqual(diagnosis.notes, [], 'the verdict already says it');

    const elsewhere = { secrets: [pullSecret('ci', 'gone', { 'ghcr.io': login() })], serviceAccounts: [] };
    assert.equal(only(pod('p', 'ghcr.io/a/b', { secrets: ['gone'] }), elsewhere).fix, 'kubectl pullsecret add gone -n shop --from-secret ci/gone --no-attach');
    assert.equal(
      only(pod('p', 'quay.io/a/b', { secrets: ['gone'] }), elsewhere).fix,
      'kubectl pullsecret add gone -n shop --server quay.io --username USER --password-stdin --no-attach',
    );
  });

  test('malformed or empty secrets are re-created in place (forced only when not ours)', () => {
    const broken: V1Secret = { metadata: { namespace: 'shop', name: 'broken' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{not json') } };
    const empty = pullSecret('shop', 'empty', { 'registry.example:5000': {} }, { managed: true });
    const input = { secrets: [broken, empty], serviceAccounts: [] };
    const bad = only(pod('p', 'registry.example:5000/app', { secrets: ['broken'] }), input);
    assert.equal(bad.verdict, 'malformed');
    // The kubelet cannot build its keyring with it: every pull of the pod fails.
    assert.match(bad.message, /shop\/broken cannot be read by the kubelet \(.*not valid JSON.*fails every pull of the pod/);
    assert.equal(bad.fix, 'kubectl pullsecret add broken -n shop --server registry.example:5000 --username USER --password-stdin --no-attach --replace --force');
    const hollow = only(pod('p', 'registry.example:5000/app', { secrets: ['empty'] }), input);
    assert.equal(hollow.verdict, 'malformed');
    assert.match(hollow.message, /shop\/empty cannot be used/);
    assert.equal(hollow.fix, 'kubectl pullsecret add empty -n shop --server registry.example:5000 --username USER --password-stdin --no-attach --replace');
  });

  test('an entry without credentials next to usable ones is named', () => {
    const mixed = pullSecret('shop', 'mixed', { 'registry.example:5000': {}, 'other.example': login() });
    const image = only(pod('p', 'registry.example:5000/app', { secrets: ['mixed'] }), { secrets: [mixed], serviceAccounts: [] });
    assert.equal(image.verdict, 'malformed');
    assert.match(image.message, /its entry for registry.example:5000 has no username and password/);
  });

  test('no-match explains near misses and adds the registry to our secret', () => {
    const ours = pullSecret('shop', 'ours', {
      'registry.example/team-a': login(),
      'registry.example:443': login(),
      'Registry.Example': login(),
    }, { managed: true });
    const image = only(pod('p', 'registry.example/team-b/app', { secrets: ['ours'] }), { secrets: [ours], serviceAccounts: [] });
    assert.equal(image.verdict, 'no-match');
    assert.match(image.message, /^no entry matches registry.example: shop\/ours has registry.example\/team-a, registry.example:443, Registry.Example$/);
    assert.ok(image.hints.some((h) => /team-a only covers repositories starting with team-a, not team-b\/app/.test(h)), image.hints.join('\n'));
    assert.ok(image.hints.some((h) => /registry.example:443 is for port 443, the image uses no port/.test(h)));
    assert.ok(image.hints.some((h) => /Registry.Example differs from registry.example in letter case/.test(h)));
    assert.equal(image.fix, 'kubectl pullsecret add ours -n shop --server registry.example --username USER --password-stdin --no-attach');
  });

  test('no-match when a secret of the namespace would cover: reference it', () => {
    const other = pullSecret('shop', 'other', { 'other.example': login() });
    const input = { secrets: [regcred, other], serviceAccounts: [account('shop', 'default', ['other'])] };
    const template = diagnose(serviceAccountSubject('shop', 'default'), input, { image: 'registry.example:5000/x' });
    const [image] = template.images;
    assert.equal(image!.verdict, 'no-match');
    assert.equal(image!.container, undefined);
    assert.ok(image!.hints.some((h) => /shop\/regcred has an entry for registry.example:5000 .* new pods do not reference it/.test(h)));
    assert.equal(image!.fix, `kubectl patch serviceaccount default -n shop -p '{"imagePullSecrets":[{"name":"other"},{"name":"regcred"}]}'`);
  });

  test('an invalid image reference is its own verdict', () => {
    const image = only(pod('p', 'Registry.example/UPPER'), { secrets: [], serviceAccounts: [] });
    assert.equal(image.verdict, 'invalid-image');
    assert.match(image.message, /invalid image .*lowercase.*the kubelet cannot pull it/);
  });
});

describe('diagnose: as the kubelet reads pull secrets', () => {
  const noColon: V1Secret = {
    metadata: { namespace: 'shop', name: 'broken' },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': b64(JSON.stringify({ auths: { 'registry.example': { auth: b64('no-colon') } } })) },
  };
  const good = pullSecret('shop', 'regcred', { 'registry.example': login() });

  test('one secret the kubelet cannot read fails the pod whatever the others hold, in either order', () => {
    const input = { secrets: [good, noColon], serviceAccounts: [account('shop', 'default', ['regcred', 'broken'])] };
    for (const secrets of [['regcred', 'broken'], ['broken', 'regcred']]) {
      const image = only(pod('p', 'registry.example/app', { secrets }), input);
      assert.equal(image.verdict, 'malformed', secrets.join());
      assert.match(image.message, /shop\/broken cannot be read by the kubelet .*unable to parse auth field.*fails every pull of the pod/);
      assert.deepEqual(image.tried, []);
      assert.equal(image.fix, 'kubectl pullsecret add broken -n shop --from-secret shop/regcred --no-attach --replace --force');
    }
    // Even an image no secret is for: the keyring is built before any lookup.
    assert.equal(only(pod('p', 'quay.io/public/app', { secrets: ['regcred', 'broken'] }), input).verdict, 'malformed');
  });

  test('Go\'s JSON: field names in any case, unpadded auth', () => {
    const capitals: V1Secret = {
      metadata: { namespace: 'shop', name: 'capitals' },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': b64(JSON.stringify({ Auths: { 'registry.example': { Username: 'ci', PASSWORD } } })) },
    };
    const unpadded = pullSecret('shop', 'unpadded', { 'registry.example': { auth: b64('ci:12345').replace(/=+$/, '') } });
    assert.notEqual(b64('ci:12345').replace(/=+$/, ''), b64('ci:12345'), 'the auth needs padding');
    const input = { secrets: [capitals, unpadded], serviceAccounts: [] };
    assert.equal(only(pod('p', 'registry.example/app', { secrets: ['capitals'] }), input).verdict, 'covered');
    const image = only(pod('p', 'registry.example/app', { secrets: ['unpadded'] }), input);
    assert.equal(image.verdict, 'covered');
    assert.deepEqual(image.used, { secret: 'unpadded', key: 'registry.example', username: 'ci' });
  });

  test('an image on the node is no stand-in for credentials: explained by the cluster\'s version', () => {
    const withVersion = (gitVersion: string): DoctorInput => ({ secrets: [], serviceAccounts: [], serverVersion: parseServerVersion({ gitVersion })! });
    const cached = pod('p', 'registry.example/app:1', { spec: { containers: [{ name: 'app', image: 'registry.example/app:1', imagePullPolicy: 'IfNotPresent' }] } });
    const newer = only(cached, withVersion('v1.36.3'));
    assert.ok(newer.hints.some((h) => /1\.35\+ kubelets .*already on the node.*stand in for credentials.*IfNotPresent \(this cluster runs v1\.36\.3\)/.test(h)), newer.hints.join('\n'));
    const older = only(cached, withVersion('v1.34.2'));
    assert.ok(older.hints.some((h) => /this cluster runs v1\.34\.2: .*where the image happens to be cached, and it breaks on the next node/.test(h)), older.hints.join('\n'));
    const unknown = only(cached, { secrets: [], serviceAccounts: [] });
    assert.ok(unknown.hints.some((h) => /1\.35\+ kubelets.*; older kubelets/.test(h)), unknown.hints.join('\n'));
    // With Always the image is pulled anyway: no hint.
    const always = pod('p', 'registry.example/app:latest');
    assert.ok(!only(always, withVersion('v1.36.3')).hints.some((h) => /cached|already on the node/.test(h)));
  });

  test('parseServerVersion: major/minor with a provider "+", else gitVersion', () => {
    assert.deepEqual(parseServerVersion({ major: '1', minor: '36', gitVersion: 'v1.36.3' }), { major: 1, minor: 36, gitVersion: 'v1.36.3' });
    assert.deepEqual(parseServerVersion({ major: '1', minor: '34+', gitVersion: 'v1.34.1-eks-1' }), { major: 1, minor: 34, gitVersion: 'v1.34.1-eks-1' });
    assert.deepEqual(parseServerVersion({ major: '', minor: '', gitVersion: 'v1.35.0-gke.1' }), { major: 1, minor: 35, gitVersion: 'v1.35.0-gke.1' });
    assert.equal(parseServerVersion({}), undefined);
  });

  test('--verify: a login the registry refuses is "rejected", not covered', () => {
    const input = { secrets: [good], serviceAccounts: [] };
    const subject = podSubject(pod('p', 'registry.example/app', { secrets: ['regcred'], failing: ['app'] }));
    const key = JSON.stringify(['shop', 'regcred', 'registry.example', 'registry.example']);
    const refused = new Map([[key, { registry: 'registry.example', username: 'ci', result: 'unauthorized' as const, detail: 'HTTP 401 for user ci' }]]);
    const [rejected] = diagnose(subject, input, { logins: refused }).images;
    assert.equal(rejected!.verdict, 'rejected');
    assert.match(rejected!.message, /registry\.example refused the credentials of shop\/regcred \(registry\.example\): HTTP 401/);
    assert.equal(rejected!.fix, 'kubectl pullsecret add regcred -n shop --server registry.example --username USER --password-stdin --no-attach --replace --force');
    assert.equal(summarize([diagnose(subject, input, { logins: refused })]).covered, 0);
    const accepted = new Map([[key, { ...refused.get(key)!, result: 'ok' as const, detail: 'logged in' }]]);
    const [fine] = diagnose(subject, input, { logins: accepted }).images;
    assert.equal(fine!.verdict, 'covered');
    assert.ok(fine!.hints.some((h) => /accepts these credentials/.test(h)), fine!.hints.join('\n'));
  });
});

describe('diagnose: which images', () => {
  const spec: Partial<V1PodSpec> = {
    initContainers: [{ name: 'init', image: 'registry.example:5000/init' }],
    ephemeralContainers: [{ name: 'debug', image: 'busybox' }],
  };
  const input = { secrets: [pullSecret('shop', 'regcred', { 'registry.example:5000': login() })], serviceAccounts: [account('shop', 'default', ['regcred'])] };

  test('init, regular and ephemeral containers are all checked', () => {
    const diagnosis = diagnose(podSubject(pod('p', 'registry.example:5000/app', { secrets: ['regcred'], spec })), input);
    assert.deepEqual(diagnosis.images.map((i) => [i.containerType, i.container, i.verdict]), [
      ['init', 'init', 'covered'],
      ['regular', 'app', 'covered'],
      ['ephemeral', 'debug', 'no-match'],
    ]);
  });

  test('onlyFailing keeps the containers that report a pull failure; --image replaces them', () => {
    const failing = pod('p', 'registry.example:5000/app', { secrets: ['regcred'], spec, failing: ['app'] });
    assert.deepEqual(diagnose(podSubject(failing), input, { onlyFailing: true }).images.map((i) => i.container), ['app']);
    const other = diagnose(podSubject(failing), input, { image: 'ghcr.io/x/y' }).images;
    assert.deepEqual(other.map((i) => [i.image, i.verdict]), [['ghcr.io/x/y', 'no-match']]);
  });

  test('a template without its own list gets the ServiceAccount\'s; a missing ServiceAccount is noted', () => {
    const job = (serviceAccountName: string) => templateSubject('job', {
      metadata: { namespace: 'shop', name: 'migrate' },
      spec: { template: { spec: { serviceAccountName, containers: [{ name: 'm', image: 'registry.example:5000/m' }] } } },
    });
    const ok = diagnose(job('default'), input);
    assert.equal(ok.pullSecretsFrom, 'serviceaccount');
    assert.deepEqual(ok.pullSecrets, ['regcred']);
    assert.equal(ok.images[0]!.verdict, 'covered');
    const missing = diagnose(job('ghost'), input);
    assert.deepEqual(missing.notes, ['ServiceAccount ghost does not exist: no pod can be created with it until it does']);
    assert.equal(missing.images[0]!.verdict, 'public-or-node');
  });
});

describe('formatDiagnoses', () => {
  test('one block per subject, a summary, and never a credential', () => {
    const input = {
      secrets: [pullSecret('shop', 'regcred', { 'registry.example:5000': login() })],
      serviceAccounts: [account('shop', 'default', ['regcred'])],
    };
    const diagnoses = diagnoseAll(
      [
        podSubject(pod('web', 'registry.example:5000/web', { secrets: ['regcred'], failing: ['app'] })),
        podSubject(pod('proxy', 'ghcr.io/acme/proxy:3', { secrets: ['regcred'], failing: ['app'] })),
      ],
      input,
      { onlyFailing: true },
    );
    assert.deepEqual(summarize(diagnoses), { images: 2, covered: 1 });
    const text = formatDiagnoses(diagnoses);
    assert.equal(text.split('\n')[0], 'pod/web (namespace shop, ServiceAccount default)');
    assert.match(text, /^ {2}pull secrets: regcred \(the pod's\)$/m);
    assert.match(text, /^ {2}container app: ghcr.io\/acme\/proxy:3 \(ImagePullBackOff: Back-off pulling image "ghcr.io\/acme\/proxy:3"\)$/m);
    assert.match(text, /^ {4}no-match: no entry matches ghcr.io: shop\/regcred has registry.example:5000$/m);
    assert.match(text, /^ {4}fix: kubectl pullsecret add ghcr.io -n shop --server ghcr.io/m);
    assert.match(text, /\nsummary: 2 images checked, 1 covered, 1 not covered\n$/);
    for (const output of [text, JSON.stringify(diagnoses)]) {
      assert.ok(!output.includes(PASSWORD) && !output.includes(b64(`ci:${PASSWORD}`)));
    }
  });
});

describe('doctor and the admission webhook (sync --watch --webhook)', () => {
  const source = pullSecret('ci', 'regcred', { 'registry.example:5000': login() }, { managed: true });
  const admission = { serves: 'all', excludedNamespaces: ['kubectl-pullsecret'], sources: [source] };
  const web = (metadata: { labels?: Record<string, string> } = {}) => templateSubject('deployment', {
    metadata: { namespace: 'shop', name: 'web' },
    spec: { template: { metadata, spec: { containers: [{ name: 'web', image: 'registry.example:5000/web' }] } } },
  });
  const input = (extra: Partial<DoctorInput> = {}): DoctorInput => ({ secrets: [], serviceAccounts: [account('shop', 'default', [])], admission, ...extra });

  test('a template whose new pods the webhook serves is injected, counted as covered, not "not covered"', () => {
    const diagnosis = diagnose(web(), input());
    const [image] = diagnosis.images;
    assert.equal(image!.verdict, 'injected');
    assert.match(image!.message, /admission webhook adds regcred \(registry\.example:5000, a copy of ci\/regcred\) to new pods in this namespace/);
    assert.deepEqual(summarize([diagnosis]), { images: 1, covered: 1 });
  });

  test('not injected: an existing pod, a namespace the webhook leaves out, a template that opts out, an image no source covers, no webhook', () => {
    assert.notEqual(only(pod('p', 'registry.example:5000/web'), input()).verdict, 'injected');
    assert.notEqual(diagnose(web(), input({ admission: { ...admission, excludedNamespaces: ['shop'] } })).images[0]!.verdict, 'injected');
    assert.notEqual(diagnose(web({ labels: { 'kubectl-pullsecret/inject': 'false' } }), input()).images[0]!.verdict, 'injected');
    assert.notEqual(diagnose(web(), input({ admission: { ...admission, sources: [pullSecret('ci', 'other', { 'other.example': login() }, { managed: true })] } })).images[0]!.verdict, 'injected');
    const { admission: _, ...without } = input();
    assert.notEqual(diagnose(web(), without).images[0]!.verdict, 'injected');
  });
});
