// Differential test: doctor's idea of the credentials the kubelet tries for an image, held to the
// kubelet's own code (k8s.io/kubernetes v1.36.3, scripts/cluster/testbin/cmd/keyring-oracle) on
// thousands of generated cases: pull secrets with every registry-key form the kubelet accepts or
// trips over, broken `auth` fields, field names in odd case, legacy .dockercfg secrets, several
// secrets per pod in any order; images with and without tags, digests, ports and short names.
//
// DOCTOR_KUBELET_SEED=<n> replays a run (the seed is printed); DOCTOR_KUBELET_CASES=<n> sets the
// number of cases. The oracle needs Go and the Kubernetes modules of scripts/cluster/testbin; it
// is built once into the kubectl-pullsecret cache directory, keyed by its source and go.mod/go.sum.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import type { V1Secret } from '@kubernetes/client-node';
import { kubeletPullCredentials, type KubeletPullCredentials } from '../../lib/doctor';

const TESTBIN = path.resolve(import.meta.dirname, '../../scripts/cluster/testbin');
const DEFAULT_CASES = 5000;

// ------------------------------------------------------------------------------------------------
// The oracle

/** Built once (scripts/cluster/testbin/tool.sh), cached outside the repo. */
function oracleBinary(): string {
  const build = spawnSync('bash', [path.join(TESTBIN, 'tool.sh'), 'keyring-oracle'], { encoding: 'utf8' });
  if (build.error || build.status !== 0) {
    const output = `${build.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`doctor-kubelet: building the kubelet oracle (scripts/cluster/testbin/tool.sh keyring-oracle) failed; it needs Go, and the Kubernetes modules in the Go module cache or downloadable:\n${output}`);
  }
  return build.stdout.trim();
}

interface OracleCase {
  id: string;
  image: string;
  secrets: V1Secret[];
}

interface OracleAnswer {
  id: string;
  repository?: string;
  credentials: Array<{ namespace: string; name: string; key: string; username: string; email?: string; hash: string }>;
  fallback?: boolean;
  error?: string;
  stage?: 'image' | 'keyring' | 'oracle';
  failedSecret?: { namespace: string; name: string };
}

function askOracle(binary: string, cases: OracleCase[]): OracleAnswer[] {
  const run = spawnSync(binary, [], {
    input: cases.map((c) => JSON.stringify(c)).join('\n'),
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
  });
  if (run.error || run.status !== 0) throw new Error(`doctor-kubelet: the oracle failed: ${run.error?.message ?? run.stderr}`);
  const answers = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as OracleAnswer);
  assert.equal(answers.length, cases.length, 'one oracle answer per case');
  return answers;
}

// ------------------------------------------------------------------------------------------------
// Generating cases

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Generator {
  constructor(private readonly random: () => number) {}

  chance(probability: number): boolean {
    return this.random() < probability;
  }

  int(low: number, high: number): number {
    return low + Math.floor(this.random() * (high - low + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

const b64 = (bytes: string | Buffer) => Buffer.from(bytes).toString('base64');

// Hosts of keys and of images are drawn from overlapping pools, so that many pairs match and many
// are near misses; the odd forms come less often, so that most cases reach the matching.
const COMMON_HOSTS = [
  'registry.example', 'registry.example:5000', 'reg.example.com', 'a.example.com', 'docker.io', 'index.docker.io',
  'localhost:5000', '127.0.0.1:5000', 'ghcr.io', 'eu.corp.example',
];
const KEY_HOSTS = [
  'registry.example:443', 'Registry.Example', 'REGISTRY.EXAMPLE:5000', '*.example.com', '*.*.example.com',
  'a*.example.com', '*-good.example.com', '?bc.example.com', 'example.com', '*.com', '*', 'registry-1.docker.io',
  'Docker.io', 'localhost', '127.0.0.1', '[::1]:5000', '[::1]', '*.corp.example', 'corp.example', 'reg[0-9].example',
  'registry.example.', 'registry.example:', 'registry.example:05000', 'user@registry.example', 'registry%2eexample',
  'r\u00e9gistry.example', '',
];
const KEY_PATHS = [
  '/', '/team-a', '/team-a/', '/team', '/v1/', '/v2/', '/v2', '/v1', '/v2/team-a', '/v1/library', '/library',
  '/library/nginx', '/Team-A', '/team-a/app', '//team-a', '/team%2Da', '/v2//team-a',
];
const KEY_SCHEMES = ['https://', 'http://', 'HTTPS://', 'oci://', 'https://https://'];
const KEY_SUFFIXES = ['?x=1', '#frag', '%', ' ', '/v2/?'];

const IMAGE_REGISTRIES = [
  'registry.example:443', 'Registry.Example', 'abc.example.com', 'x.y.example.com', 'x-good.example.com',
  'example.com', 'registry-1.docker.io', 'localhost', '[::1]:5000', 'corp.example', 'reg1.example',
];
const IMAGE_PATHS = [
  'app', 'nginx', 'team-a/app', 'team-a', 'team/app', 'team-ab/app', 'library/nginx', 'team-a/sub/app', 'v2/app',
  'v1/library/app', 'a__b/c.d-e', 'library/busybox',
];
const IMAGE_TAGS = [':1', ':latest', ':v1.2.3', ':1.27-alpine', ':UPPER_ok'];
const DIGEST = 'sha256:' + 'ab'.repeat(32);
const IMAGE_DIGESTS = [`@${DIGEST}`, `@sha512:${'cd'.repeat(64)}`];
// Each of these makes the image invalid.
const IMAGE_DAMAGE = ['Team/App', ':', '@sha256:abc', 'registry.example./app', 'app_', ' app', 'UPPER'];

function registryKey(g: Generator): string {
  const scheme = g.chance(0.25) ? g.pick(KEY_SCHEMES) : '';
  const host = g.chance(0.6) ? g.pick(COMMON_HOSTS) : g.pick(KEY_HOSTS);
  const path = g.chance(0.4) ? g.pick(KEY_PATHS) : '';
  return scheme + host + path + (g.chance(0.04) ? g.pick(KEY_SUFFIXES) : '');
}

const DOCKER_HUB_KEYS = ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/', 'index.docker.io/v2/', 'docker.io/library'];

/** A key made for the image at hand: its host (or a glob, case or port variant of it) and a path prefix. */
function relatedKey(g: Generator, imageName: string): string {
  const first = imageName.split('/', 1)[0]!;
  const ownHost = imageName.includes('/') && (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first);
  const registry = ownHost ? first : 'docker.io';
  const path = (ownHost ? imageName.slice(first.length + 1) : imageName).replace(/[@:].*$/, '');
  if (!ownHost && g.chance(0.5)) return g.pick(DOCKER_HUB_KEYS);
  let host = registry;
  const labels = registry.split('.');
  switch (g.int(0, 9)) {
    case 0: host = ['*', ...labels.slice(1)].join('.'); break;
    case 1: host = [`${labels[0]!.slice(0, 1)}*`, ...labels.slice(1)].join('.'); break;
    case 2: host = ['*', ...labels].join('.'); break;
    case 3: host = registry.toUpperCase(); break;
    case 4: host = registry.includes(':') ? registry.replace(/:\d+$/, '') : `${registry}:443`; break;
  }
  let prefix = '';
  switch (g.int(0, 5)) {
    case 0: prefix = `/${path.split('/')[0]}`; break;
    case 1: prefix = `/${path.slice(0, g.int(1, path.length))}`; break;
    case 2: prefix = `/${path}`; break;
    case 3: prefix = `/${path}/x`; break;
  }
  const scheme = g.chance(0.2) ? g.pick(['https://', 'http://']) : '';
  const apiRoot = g.chance(0.15) ? g.pick(['/v1', '/v2']) : '';
  return scheme + host + apiRoot + prefix + (g.chance(0.1) ? '/' : '');
}

function image(g: Generator): string {
  if (g.chance(0.03)) {
    const damage = g.pick(IMAGE_DAMAGE);
    return damage.startsWith(':') || damage.startsWith('@') ? `registry.example/app${damage}` : damage.includes('/') ? damage : `${damage}`;
  }
  const roll = g.int(0, 9);
  const registry = roll < 2 ? '' : roll < 8 ? g.pick(COMMON_HOSTS) : g.pick(IMAGE_REGISTRIES);
  const name = (registry ? `${registry}/` : '') + g.pick(IMAGE_PATHS);
  return name + (g.chance(0.6) ? g.pick(IMAGE_TAGS) : '') + (g.chance(0.15) ? g.pick(IMAGE_DIGESTS) : '');
}

const USERS = ['ci', 'robot$team', 'alice', 'bob', '', 'Ünïcode', 'a:b'];
const PASSWORDS = ['p', 's3cr3t', 'pa:ss', '', 'long-password-with-symbols-<>&', '\u2028'];

/** An `auth` value: mostly base64 of user:password, in every form the kubelet may meet. */
function authValue(g: Generator, user: string, password: string): string {
  const good = b64(`${user}:${password}`);
  if (g.chance(0.75)) return good;
  // Accepted by the kubelet, though some look broken.
  if (g.chance(0.6)) {
    switch (g.int(0, 6)) {
      case 0: return good.replace(/=+$/, ''); // unpadded: decoded by RawStdEncoding
      case 1: return `${good}\n`;
      case 2: return good.slice(0, 4) + '\r\n' + good.slice(4);
      case 3: return ''; // empty: the username/password fields count
      case 4: return `\n${good}`;
      case 5: return b64(Buffer.concat([Buffer.from([0xff, 0xc3, 0x28]), Buffer.from(`:${password}`)])); // not UTF-8
      default: return good.replace(/=+$/, '') + (good.endsWith('==') ? '==' : '');
    }
  }
  switch (g.int(0, 10)) {
    case 0: return b64(`${user}${password}`.replace(/:/g, '') || 'nocolon'); // no colon
    case 1: return 'not base64!';
    case 2: return '%%%';
    case 3: return `${good}=`;
    case 4: return good.replace(/=+$/, '') + '=';
    case 5: return `${good} `;
    case 6: return ` ${good}`;
    case 7: return good.length > 1 ? good.slice(0, -1) : good;
    case 8: return good.replace(/=/g, '') + '==';
    case 9: return `${good}\u00a0`;
    default: return 'Zm9v'; // "foo"
  }
}

const FIELD_SPELLINGS: Record<string, string[]> = {
  username: ['username', 'username', 'username', 'Username', 'USERNAME', 'userName', 'u\u017fername', 'user'],
  password: ['password', 'password', 'password', 'Password', 'PASSWORD', 'pa\u017f\u017fword', 'pass'],
  auth: ['auth', 'auth', 'auth', 'auth', 'Auth', 'AUTH', 'aUtH', 'auths'],
  email: ['email', 'Email', 'EMAIL'],
  auths: ['auths', 'auths', 'auths', 'auths', 'auths', 'auths', 'Auths', 'AUTHS', 'auth\u017f', 'auth', '\\u0061uths'],
};

/** Writes a JSON object from members given as [name, raw JSON value]; names may be escapes already. */
function object(members: Array<[string, string]>): string {
  return `{${members.map(([name, value]) => `${name.startsWith('\\') ? `"${name}"` : JSON.stringify(name)}:${value}`).join(',')}}`;
}

function spelling(g: Generator, field: string): string {
  return g.pick(FIELD_SPELLINGS[field]!);
}

function stringOrOdd(g: Generator, text: string): string {
  if (g.chance(0.005)) return g.pick(['42', 'true', '["x"]', '{}']);
  if (g.chance(0.02)) return 'null';
  return JSON.stringify(text);
}

function entryJson(g: Generator): string {
  const roll = g.int(0, 299);
  if (roll === 0) return g.pick(['"just a string"', '42', '[]', 'true']);
  if (roll <= 3) return 'null';
  const user = g.pick(USERS);
  const password = g.pick(PASSWORDS);
  const members: Array<[string, string]> = [];
  const form = g.int(0, 9);
  if (form <= 4 || form === 8) members.push([spelling(g, 'auth'), stringOrOdd(g, authValue(g, user, password))]);
  if (form >= 5) {
    members.push([spelling(g, 'username'), stringOrOdd(g, g.pick(USERS))]);
    if (form !== 7) members.push([spelling(g, 'password'), stringOrOdd(g, g.pick(PASSWORDS))]);
  }
  if (g.chance(0.25)) members.push([spelling(g, 'email'), stringOrOdd(g, g.pick(['ci@example.com', '', 'a&b@example.com']))]);
  if (g.chance(0.08)) members.push(['identitytoken', JSON.stringify('token')]);
  if (g.chance(0.05)) members.push(['serveraddress', g.pick(['"registry.example"', '5'])]);
  if (g.chance(0.05)) members.push([spelling(g, 'auth'), stringOrOdd(g, authValue(g, user, password))]); // repeated
  return object(g.shuffle(members));
}

function authsJson(g: Generator, imageName: string): string {
  const members: Array<[string, string]> = [];
  for (let i = g.pick([0, 1, 1, 1, 2, 2, 3, 4]); i > 0; i--) {
    members.push([g.chance(0.65) ? relatedKey(g, imageName) : registryKey(g), entryJson(g)]);
  }
  if (g.chance(0.03) && members.length > 0) members.push([members[0]![0], entryJson(g)]); // repeated key
  return object(members);
}

/** The raw bytes of a pull secret's data value. */
function secretContent(g: Generator, legacy: boolean, imageName: string): Buffer {
  let json: string;
  if (legacy) {
    json = g.chance(0.02) ? g.pick(['null', '[]', '"x"']) : authsJson(g, imageName);
  } else {
    const members: Array<[string, string]> = [];
    const roll = g.int(0, 99);
    if (roll < 2) members.push([spelling(g, 'auths'), g.pick(['null', '"x"', '[]', '5'])]);
    else if (roll < 5) members.push(['credsStore', '"desktop"']);
    else members.push([spelling(g, 'auths'), authsJson(g, imageName)]);
    if (g.chance(0.05)) members.push([spelling(g, 'auths'), g.chance(0.2) ? 'null' : authsJson(g, imageName)]); // repeated: merged
    if (g.chance(0.05)) members.push([g.pick(['HttpHeaders', 'httpheaders']), g.pick(['{"X-A":"1"}', '{"X-A":1}', '"x"', 'null', '{"X-B":null}'])]);
    if (g.chance(0.03)) members.push(['credHelpers', '{"gcr.io":"gcloud"}']);
    json = g.chance(0.01) ? g.pick(['null', '[]', '"x"', '{}']) : object(g.shuffle(members));
  }
  let bytes = Buffer.from(json, 'utf8');
  const damage = g.int(0, 399);
  if (damage === 0) bytes = bytes.subarray(0, g.int(0, bytes.length - 1)); // truncated JSON
  else if (damage === 1) bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]); // BOM
  else if (damage === 2) bytes = Buffer.from(json.replace(/"ci"/, '"c\xffi"'), 'latin1'); // invalid UTF-8 in a string
  else if (damage === 3) bytes = Buffer.from(` \n${json}\t `, 'utf8');
  return bytes;
}

const SECRET_NAMES = ['regcred', 'broken', 'hub', 'team', 'legacy', 'other', 'ci', 'wide'];

function pullSecret(g: Generator, name: string, imageName: string): V1Secret {
  const roll = g.int(0, 99);
  const legacy = roll >= 85 && roll < 97;
  const type = roll === 97 ? 'Opaque' : legacy ? 'kubernetes.io/dockercfg' : 'kubernetes.io/dockerconfigjson';
  let key = legacy ? '.dockercfg' : '.dockerconfigjson';
  if (roll === 98) key = '.dockercfg'; // the other type's key: the kubelet skips the secret
  const content = roll === 99 ? Buffer.alloc(0) : secretContent(g, legacy, imageName);
  return { metadata: { namespace: 'shop', name, uid: `uid-${name}` }, type, data: { [key]: b64(content) } };
}

function generateCase(g: Generator, id: number): OracleCase {
  const imageName = image(g);
  const secrets = g.shuffle([...SECRET_NAMES]).slice(0, g.pick([0, 1, 1, 2, 2, 2, 3, 3, 4])).map((name) => pullSecret(g, name, imageName));
  // A pod may list a secret twice; the kubelet then reads it twice.
  if (secrets.length > 0 && g.chance(0.04)) secrets.push(g.pick(secrets));
  return { id: String(id), image: imageName, secrets };
}

/** Cases seen on a real node (see ../shared/notes/node.md beside the checkout), always included. */
function nodeCases(): OracleCase[] {
  const secret = (name: string, content: string): V1Secret => ({
    metadata: { namespace: 'shop', name, uid: `uid-${name}` },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': b64(content) },
  });
  const regcred = secret('regcred', JSON.stringify({ auths: { '127.0.0.1:5000': { username: 'ci', password: 'pw', auth: b64('ci:pw') } } }));
  const broken = secret('broken', JSON.stringify({ auths: { '127.0.0.1:5000': { auth: b64('no-colon-here') } } }));
  const capitalised = secret('capitalised', '{"Auths":{"127.0.0.1:5000":{"Username":"ci","Password":"pw"}}}');
  const unpadded = secret('unpadded', JSON.stringify({ auths: { '127.0.0.1:5000': { auth: b64('ci:pw!').replace(/=+$/, '') } } }));
  const image = '127.0.0.1:5000/private/app:1';
  return [
    { id: 'node-good-broken', image, secrets: [regcred, broken] },
    { id: 'node-broken-good', image, secrets: [broken, regcred] },
    { id: 'node-capitalised', image, secrets: [capitalised] },
    { id: 'node-unpadded', image, secrets: [unpadded] },
  ];
}

// ------------------------------------------------------------------------------------------------
// Comparing

interface Tried {
  secret: string;
  key: string;
  username: string;
  hash: string;
}

/**
 * The kubelet adds one secret's entries from a Go map, in random order: among credentials stored
 * under the same keyring key by the same secret, the order means nothing, so it is sorted.
 */
function canonical(tried: Tried[]): string[] {
  const runs: Tried[][] = [];
  for (const item of tried) {
    const run = runs[runs.length - 1];
    if (run && run[0]!.secret === item.secret && run[0]!.key === item.key) run.push(item);
    else runs.push([item]);
  }
  return runs.flatMap((run) => run.map((t) => `${t.secret} ${t.key} ${JSON.stringify(t.username)} ${t.hash}`).sort());
}

const AUTH_ERRORS = /^(illegal base64 data at input byte \d+|unable to parse auth field, must be formatted as base64\(username:password\))$/;

/** Why doctor and the kubelet disagree on a case, or undefined when they agree. */
function disagreement(kubelet: OracleAnswer, doctor: KubeletPullCredentials): string | undefined {
  if (kubelet.stage === 'oracle') return `the oracle could not read its keyring back: ${kubelet.error}`;
  if (kubelet.stage === 'image' || doctor.outcome === 'invalid-image') {
    if (kubelet.stage === 'image' && doctor.outcome === 'invalid-image') return undefined;
    return `image: kubelet ${kubelet.error ?? `looks up ${kubelet.repository}`}, doctor ${doctor.outcome === 'invalid-image' ? doctor.reason : 'accepts it'}`;
  }
  if (kubelet.stage === 'keyring' || doctor.outcome === 'unreadable-secret') {
    if (kubelet.stage !== 'keyring') return `keyring: the kubelet reads every secret, doctor says ${doctor.outcome === 'unreadable-secret' ? `${doctor.secret} is unreadable: ${doctor.reason}` : ''}`;
    if (doctor.outcome !== 'unreadable-secret') return `keyring: the kubelet fails on ${kubelet.failedSecret?.name} (${kubelet.error}), doctor reads every secret`;
    if (doctor.secret !== kubelet.failedSecret?.name) return `keyring: the kubelet fails on ${kubelet.failedSecret?.name}, doctor on ${doctor.secret}`;
    const kubeletSaysAuth = AUTH_ERRORS.test(kubelet.error ?? '');
    if (kubeletSaysAuth && doctor.kubeletError !== kubelet.error) return `keyring error: kubelet "${kubelet.error}", doctor "${doctor.kubeletError ?? doctor.reason}"`;
    if (!kubeletSaysAuth && doctor.kubeletError !== undefined) return `keyring error: kubelet "${kubelet.error}" (JSON), doctor "${doctor.kubeletError}"`;
    return undefined;
  }
  if (doctor.repository !== kubelet.repository) return `repository: kubelet ${kubelet.repository}, doctor ${doctor.repository}`;
  if (Boolean(kubelet.fallback) !== doctor.fallback) return `Docker Hub fallback: kubelet ${Boolean(kubelet.fallback)}, doctor ${doctor.fallback}`;
  const expected = canonical(kubelet.credentials.map((c) => ({ secret: c.name, key: c.key, username: c.username, hash: c.hash })));
  const actual = canonical(doctor.credentials.map((c) => ({ secret: c.secret, key: c.keyringKey, username: c.username, hash: c.hash })));
  if (JSON.stringify(expected) === JSON.stringify(actual)) return undefined;
  return `credentials tried:\n      kubelet ${JSON.stringify(expected)}\n      doctor  ${JSON.stringify(actual)}`;
}

function describeCase(c: OracleCase): string {
  const secrets = c.secrets.map((s) => {
    const [key, value] = Object.entries(s.data ?? {})[0] ?? ['', ''];
    return `${s.metadata!.name} ${s.type} ${key}=${JSON.stringify(Buffer.from(value, 'base64').toString('latin1'))}`;
  });
  return `image ${JSON.stringify(c.image)}, secrets [${c.secrets.map((s) => s.metadata!.name).join(', ')}]\n      ${secrets.join('\n      ')}`;
}

test('doctor tries the same credentials as the kubelet (v1.36.3), or fails the same way', (t) => {
  const seed = process.env.DOCTOR_KUBELET_SEED ? Number(process.env.DOCTOR_KUBELET_SEED) : Math.floor(Math.random() * 2 ** 31);
  const count = process.env.DOCTOR_KUBELET_CASES ? Number(process.env.DOCTOR_KUBELET_CASES) : DEFAULT_CASES;
  assert.ok(Number.isSafeInteger(seed) && Number.isSafeInteger(count) && count > 0, 'DOCTOR_KUBELET_SEED and DOCTOR_KUBELET_CASES are integers');
  const started = Date.now();
  const binary = oracleBinary();
  const built = Date.now();

  const g = new Generator(prng(seed));
  const cases = [...nodeCases(), ...Array.from({ length: count }, (_, i) => generateCase(g, i))];
  const answers = askOracle(binary, cases);

  const failures: string[] = [];
  const outcomes = { credentials: 0, none: 0, fallback: 0, 'unreadable-secret': 0, 'invalid-image': 0 };
  for (const [i, c] of cases.entries()) {
    const doctor = kubeletPullCredentials(c.secrets, c.image);
    const problem = disagreement(answers[i]!, doctor);
    if (problem) failures.push(`case ${c.id}: ${problem}\n      ${describeCase(c)}`);
    if (doctor.outcome === 'credentials') {
      outcomes[doctor.credentials.length > 0 ? 'credentials' : 'none']++;
      if (doctor.fallback) outcomes.fallback++;
    } else outcomes[doctor.outcome]++;
  }
  const agreed = cases.length - failures.length;
  t.diagnostic(
    `seed ${seed} (DOCTOR_KUBELET_SEED=${seed} replays it): ${cases.length} cases, ${agreed} agree with the kubelet ` +
      `(${((100 * agreed) / cases.length).toFixed(2)}%); oracle ready in ${built - started} ms, run ${Date.now() - built} ms; ` +
      `outcomes ${JSON.stringify(outcomes)}`,
  );
  assert.equal(failures.length, 0, `${failures.length} of ${cases.length} cases disagree (seed ${seed}):\n  ${failures.slice(0, 12).join('\n  ')}`);
});
