import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1Secret } from '@kubernetes/client-node';
import { CliError } from '../../lib/errors';
import {
  failedChecks,
  formatCheck,
  isInsecure,
  loginRequests,
  loginTarget,
  parseChallenge,
  requireWorkingLogins,
  verifySecrets,
  type LoginCheck,
} from '../../lib/verify';

const PASSWORD = 'verify-unit-password-do-not-print';
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('parseChallenge', () => {
  test('Bearer with quoted parameters, as registries send it', () => {
    assert.deepEqual(
      parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'),
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } },
    );
  });

  test('Basic, case-insensitive names, token values, commas and escapes inside quotes', () => {
    assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } });
    assert.deepEqual(
      parseChallenge('BEARER Realm="https://a.example/t", Service=reg, scope="repository:a/b:pull,push" , x="say \\"hi\\""'),
      { scheme: 'bearer', params: { realm: 'https://a.example/t', service: 'reg', scope: 'repository:a/b:pull,push', x: 'say "hi"' } },
    );
  });

  test('nothing to parse', () => {
    assert.equal(parseChallenge(undefined), undefined);
    assert.equal(parseChallenge(''), undefined);
    assert.deepEqual(parseChallenge('Negotiate'), { scheme: 'negotiate', params: {} });
  });
});

describe('loginTarget', () => {
  test('host and port of a key; scheme, API root and path do not matter', () => {
    assert.deepEqual(loginTarget('registry.example:5000'), { host: 'registry.example', port: '5000' });
    assert.deepEqual(loginTarget('https://registry.example/v2/'), { host: 'registry.example' });
    assert.deepEqual(loginTarget('registry.example/team-a'), { host: 'registry.example' });
    assert.deepEqual(loginTarget('[::1]:5000'), { host: '[::1]', port: '5000' });
  });

  test('Docker Hub keys log in to its API host', () => {
    for (const key of ['https://index.docker.io/v1/', 'docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      assert.deepEqual(loginTarget(key), { host: 'registry-1.docker.io' }, key);
    }
  });

  test('globs and keys the kubelet cannot parse are skipped', () => {
    assert.deepEqual(loginTarget('*.corp.example'), { skip: 'a glob names no single host to log in to' });
    // Go 1.25.2+ url.Parse refuses '[' after the start of a host, so current kubelets drop the key.
    assert.deepEqual(loginTarget('reg[0-9].example'), { skip: 'the kubelet cannot parse this key' });
    assert.deepEqual(loginTarget('https://reg.example:port'), { skip: 'the kubelet cannot parse this key' });
  });
});

describe('isInsecure', () => {
  test('HOST covers every port, HOST:PORT only that one; case and scheme do not matter', () => {
    assert.ok(isInsecure('127.0.0.1', '5000', ['127.0.0.1']));
    assert.ok(isInsecure('127.0.0.1', '5000', ['127.0.0.1:5000']));
    assert.ok(!isInsecure('127.0.0.1', '5001', ['127.0.0.1:5000']));
    assert.ok(isInsecure('Reg.Example', undefined, ['http://reg.example/']));
    assert.ok(!isInsecure('reg.example.evil', undefined, ['reg.example']));
    assert.ok(!isInsecure('reg.example', undefined, []));
  });
});

describe('loginRequests', () => {
  test('entries with a username and password; a decodable auth wins, like the kubelet', () => {
    const logins = loginRequests({
      auths: {
        'a.example': { auth: b64(`alice:${PASSWORD}`), username: 'ignored', password: 'ignored' },
        'b.example': { username: 'bob', password: PASSWORD },
        'c.example': {},
        'd.example': { identitytoken: 'token-only' },
      },
    });
    assert.deepEqual(logins, [
      { registry: 'a.example', username: 'alice', password: PASSWORD },
      { registry: 'b.example', username: 'bob', password: PASSWORD },
    ]);
  });
});

describe('verifySecrets', () => {
  test('one check per auths key, in order; entries without credentials and globs are skipped', async () => {
    const secret = (name: string, auths: object): V1Secret => ({
      metadata: { namespace: 'ns', name },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': b64(JSON.stringify({ auths })) },
    });
    const broken: V1Secret = { metadata: { namespace: 'ns', name: 'broken' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': 'not base64!' } };
    const results = await verifySecrets(
      [secret('globs', { '*.corp.example': { username: 'u', password: PASSWORD }, 'empty.example': {} }), broken],
      { timeoutMs: 1000 },
    );
    assert.deepEqual(results.get('ns/globs')!.map((check) => [check.registry, check.result]), [
      ['*.corp.example', 'skipped'],
      ['empty.example', 'skipped'],
    ]);
    assert.equal(results.get('ns/globs')![1]!.detail, 'the entry has no username and password');
    assert.deepEqual(results.get('ns/broken'), []);
    assert.ok(!JSON.stringify([...results]).includes(PASSWORD));
  });
});

describe('results', () => {
  const check = (result: LoginCheck['result']): LoginCheck => ({ registry: 'r.example', result, detail: 'why' });

  test('failedChecks leaves out ok and skipped', () => {
    const checks = (['ok', 'unauthorized', 'unreachable', 'tls-error', 'skipped'] as const).map(check);
    assert.deepEqual(failedChecks(checks).map((c) => c.result), ['unauthorized', 'unreachable', 'tls-error']);
    assert.equal(formatCheck(check('unauthorized')), 'r.example: unauthorized (why)');
  });

  test('requireWorkingLogins refuses what could not be verified', async () => {
    await assert.rejects(
      requireWorkingLogins({ auths: { '*.corp.example': { username: 'u', password: PASSWORD } } }, { timeoutMs: 1000 }),
      (error: unknown) => error instanceof CliError && error.exitCode === 1 && /nothing was written: \*\.corp\.example: skipped/.test(error.message) && !error.message.includes(PASSWORD),
    );
  });
});
