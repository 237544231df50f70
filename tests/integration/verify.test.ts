// `list --verify` and `add --verify` against real registries on 127.0.0.1: Debian's
// docker-registry (the CNCF distribution registry) with htpasswd auth over TLS from a CA made
// here, the same registry over plain HTTP, and the same registry with token auth, whose tokens
// come from a small token server written below (JWTs signed with a key the CA certified).
// A few misbehaving "registries" (node servers) check where credentials must not go.
import assert from 'node:assert/strict';
import { createSign, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { createServer as createNetServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ListEntry } from '../../lib/list';
import {
  assertOneLineError,
  freePort,
  makeTestPki,
  readSecret,
  pullSecretNames,
  createDockerConfigSecret,
  run,
  startRegistry,
  stopRegistries,
  tempDir,
  withNamespace,
  type RunResult,
  type TestPki,
  type TestRegistry,
} from './harness';

const USER = 'alice';
const PASSWORD = 'FAKE-verify-password';
const WRONG = 'FAKE-verify-wrong';
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const SECRETS = [PASSWORD, WRONG, b64(`${USER}:${PASSWORD}`), b64(`${USER}:${WRONG}`)];

function assertNoPassword(result: RunResult) {
  for (const secret of SECRETS) {
    assert.ok(!result.stdout.includes(secret), `stdout contains a credential:\n${result.stdout}`);
    assert.ok(!result.stderr.includes(secret), `stderr contains a credential:\n${result.stderr}`);
  }
}

const scratch = tempDir();
let pki: TestPki;
let tlsRegistry: TestRegistry;
let plainRegistry: TestRegistry;
let tokenRegistry: TestRegistry;
const servers: Array<Server> = [];
/** What the token server was asked: the account and whether the credentials were right. */
const tokenRequests: Array<{ account: string | null; service: string | null; accepted: boolean }> = [];

const SERVICE = 'kps-test-registry';
const ISSUER = 'kps-test-token-server';

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** A registry token as the distribution registry verifies it: RS256, x5c chain to its rootcertbundle. */
function issueToken(account: string): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: 'JWT', alg: 'RS256', x5c: [pki.certDerBase64] };
  const claims = { iss: ISSUER, sub: account, aud: SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access: [] };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = createSign('RSA-SHA256').update(signingInput).sign(pki.key);
  return `${signingInput}.${base64url(signature)}`;
}

function basicCredentials(request: IncomingMessage): { user: string; password: string } | undefined {
  const match = /^Basic (.+)$/.exec(request.headers.authorization ?? '');
  if (!match) return undefined;
  const text = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

function listen(server: Server): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

before(async () => {
  pki = makeTestPki(scratch.dir);
  const tokenServer = createHttpsServer({ cert: readFileSync(pki.certFile), key: pki.key }, (request, response) => {
    const url = new URL(request.url ?? '/', 'https://127.0.0.1');
    const credentials = basicCredentials(request);
    const accepted = credentials?.user === USER && credentials.password === PASSWORD;
    tokenRequests.push({ account: url.searchParams.get('account'), service: url.searchParams.get('service'), accepted });
    if (url.pathname !== '/token' || !accepted) {
      response.writeHead(401, { 'Content-Type': 'application/json' }).end('{"details":"incorrect username or password"}');
      return;
    }
    response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: issueToken(USER), expires_in: 300 }));
  });
  const tokenPort = await listen(tokenServer);
  const dir = (name: string) => {
    const directory = path.join(scratch.dir, name);
    mkdirSync(directory);
    return directory;
  };
  tlsRegistry = await startRegistry(dir('tls'), { htpasswd: { [USER]: PASSWORD } }, pki);
  plainRegistry = await startRegistry(dir('plain'), { htpasswd: { [USER]: PASSWORD } });
  tokenRegistry = await startRegistry(
    dir('token'),
    { token: { realm: `https://127.0.0.1:${tokenPort}/token`, service: SERVICE, issuer: ISSUER, rootCertFile: pki.caFile } },
    pki,
  );
});

after(async () => {
  await stopRegistries();
  for (const server of servers) server.close();
  scratch.cleanup();
});

/** The status of GET /v2/ on the token-auth registry with this bearer token. */
function statusWithToken(token: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      { host: '127.0.0.1', port: tokenRegistry.port, path: '/v2/', ca: pki.ca, headers: { Authorization: `Bearer ${token}` } },
      (response) => {
        response.resume();
        resolve(response.statusCode);
      },
    );
    request.on('error', reject);
    request.end();
  });
}

/** `add NAME --server SERVER --username alice --password-stdin --verify ...` */
function addVerified(namespace: string, name: string, server: string, password: string, extra: string[] = []) {
  return run(['add', name, '-n', namespace, '--server', server, '--username', USER, '--password-stdin', '--verify', ...extra], { stdin: password });
}

describe('add --verify', () => {
  test('Basic auth over TLS: working credentials are written, failing ones are not', () =>
    withNamespace('verify-add', async (namespace) => {
      const ca = ['--registry-ca', pki.caFile];
      const good = await addVerified(namespace, 'good', tlsRegistry.host, PASSWORD, ca);
      assertNoPassword(good);
      assert.equal(good.code, 0, good.stderr);
      assert.match(good.stderr, new RegExp(`^verified: ${tlsRegistry.host}: ok \\(logged in to https://${tlsRegistry.host} as alice\\)$`, 'm'));
      assert.ok(await readSecret(namespace, 'good'));

      const bad = await addVerified(namespace, 'bad', tlsRegistry.host, WRONG, ca);
      assertNoPassword(bad);
      assert.equal(bad.code, 1);
      assertOneLineError(bad.stderr, new RegExp(`^error: --verify failed, nothing was written: ${tlsRegistry.host}: unauthorized \\(https://${tlsRegistry.host} refused the credentials of user alice\\)$`));
      assert.equal(bad.stdout, '');
      assert.equal(await readSecret(namespace, 'bad'), undefined);
      assert.deepEqual(await pullSecretNames(namespace, 'default'), ['good']);
    }));

  test('TLS: an unknown CA is a tls-error unless trusted (--registry-ca) or the host is insecure', () =>
    withNamespace('verify-tls', async (namespace) => {
      const untrusted = await addVerified(namespace, 'regcred', tlsRegistry.host, PASSWORD);
      assert.equal(untrusted.code, 1);
      assertOneLineError(untrusted.stderr, /: tls-error \(TLS with https:\/\/127\.0\.0\.1:\d+ failed: .*--registry-ca FILE trusts a private CA/);
      assert.equal(await readSecret(namespace, 'regcred'), undefined);

      const insecure = await addVerified(namespace, 'regcred', tlsRegistry.host, PASSWORD, ['--insecure-registry', tlsRegistry.host]);
      assert.equal(insecure.code, 0, insecure.stderr);
      assert.ok(await readSecret(namespace, 'regcred'));
    }));

  test('a plain-HTTP registry needs --insecure-registry; then it is used over HTTP', () =>
    withNamespace('verify-plain', async (namespace) => {
      const refused = await addVerified(namespace, 'plain', plainRegistry.host, PASSWORD);
      assert.equal(refused.code, 1);
      assertOneLineError(refused.stderr, /: tls-error \(TLS with https:\/\/127\.0\.0\.1:\d+ failed/);
      const allowed = await addVerified(namespace, 'plain', plainRegistry.host, PASSWORD, ['--insecure-registry', '127.0.0.1']);
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.match(allowed.stderr, new RegExp(`verified: ${plainRegistry.host}: ok \\(logged in to http://${plainRegistry.host} as alice\\)`));
      const wrong = await addVerified(namespace, 'plain2', plainRegistry.host, WRONG, ['--insecure-registry', plainRegistry.host]);
      assert.equal(wrong.code, 1);
      assertOneLineError(wrong.stderr, /unauthorized/);
      assertNoPassword(wrong);
    }));

  test('Bearer token flow: the registry accepts tokens from the token service it names', () =>
    withNamespace('verify-token', async (namespace) => {
      tokenRequests.length = 0;
      const good = await addVerified(namespace, 'tok', tokenRegistry.host, PASSWORD, ['--registry-ca', pki.caFile]);
      assertNoPassword(good);
      assert.equal(good.code, 0, good.stderr);
      assert.match(good.stderr, /: ok \(logged in to https:\/\/127\.0\.0\.1:\d+ as alice \(token from https:\/\/127\.0\.0\.1:\d+\)\)/);
      assert.deepEqual(tokenRequests, [{ account: USER, service: SERVICE, accepted: true }]);
      // The registry really checks the tokens: a forged one is refused, a fresh one accepted.
      assert.equal(await statusWithToken(`${base64url('{"alg":"none"}')}.${base64url('{}')}.`), 401);
      assert.equal(await statusWithToken(issueToken(USER)), 200);

      const bad = await addVerified(namespace, 'tok2', tokenRegistry.host, WRONG, ['--registry-ca', pki.caFile]);
      assertNoPassword(bad);
      assert.equal(bad.code, 1);
      assertOneLineError(bad.stderr, /unauthorized \(token service https:\/\/127\.0\.0\.1:\d+ of https:\/\/127\.0\.0\.1:\d+ refused the credentials of user alice\)/);
      assert.equal(await readSecret(namespace, 'tok2'), undefined);
    }));

  test('a glob cannot be verified, so add --verify refuses it', () =>
    withNamespace('verify-glob', async (namespace) => {
      const glob = await addVerified(namespace, 'corp', '*.corp.example', PASSWORD);
      assert.equal(glob.code, 1);
      assertOneLineError(glob.stderr, /\*\.corp\.example: skipped \(a glob names no single host to log in to\)/);
      assert.equal(await readSecret(namespace, 'corp'), undefined);
    }));

  test('flag errors are usage errors', async () => {
    const stray = await run(['add', 'x', '--server', 'r.example', '--username', 'u', '--password-stdin', '--registry-ca', pki.caFile], { stdin: 'p' });
    assert.equal(stray.code, 2);
    assertOneLineError(stray.stderr, /--registry-ca only applies with --verify/);
    const missing = await run(['list', '--verify', '--registry-ca', path.join(scratch.dir, 'nope.pem')]);
    assert.equal(missing.code, 2);
    assertOneLineError(missing.stderr, /cannot read --registry-ca .*nope\.pem: no such file/);
    const timeout = await run(['list', '--verify', '--verify-timeout', '0']);
    assert.equal(timeout.code, 2);
    assertOneLineError(timeout.stderr, /invalid --verify-timeout "0"/);
  });
});

describe('where credentials must not go', () => {
  /** A TLS "registry" made of a handler; every request it gets is recorded. */
  async function fakeRegistry(handler: (request: IncomingMessage, response: import('node:http').ServerResponse, port: number) => void) {
    const seen: Array<{ path: string; authorization?: string }> = [];
    let port = 0;
    const server = createHttpsServer({ cert: readFileSync(pki.certFile), key: pki.key }, (request, response) => {
      seen.push({ path: request.url ?? '', ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}) });
      handler(request, response, port);
    });
    port = await listen(server);
    return { host: `127.0.0.1:${port}`, seen };
  }

  /** A plain-HTTP server that records whether anything reached it. */
  async function recorder() {
    const seen: string[] = [];
    const port = await listen(createHttpServer((request, response) => {
      seen.push(request.url ?? '');
      response.writeHead(200, { 'Content-Type': 'application/json' }).end('{"token":"x"}');
    }));
    return { port, seen };
  }

  test('a token service over plain HTTP gets no credentials', () =>
    withNamespace('verify-realm', async (namespace) => {
      const token = await recorder();
      const registry = await fakeRegistry((_request, response) => {
        response.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${token.port}/token",service="fake"` }).end();
      });
      const result = await addVerified(namespace, 'r', registry.host, PASSWORD, ['--registry-ca', pki.caFile]);
      assert.equal(result.code, 1);
      assertOneLineError(result.stderr, new RegExp(`tls-error \\(https://${registry.host} names the token service http://127\\.0\\.0\\.1:${token.port}, which is not HTTPS; the credentials were not sent`));
      assert.deepEqual(token.seen, []);
      assert.deepEqual(registry.seen, [{ path: '/v2/' }], 'the registry got one request, without credentials');
    }));

  test('Basic credentials are sent only after the challenge, and redirects are not followed', () =>
    withNamespace('verify-redirect', async (namespace) => {
      const elsewhere = await recorder();
      const registry = await fakeRegistry((request, response) => {
        if (!request.headers.authorization) {
          response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fake"' }).end();
        } else {
          response.writeHead(307, { Location: `http://127.0.0.1:${elsewhere.port}/v2/` }).end();
        }
      });
      const result = await addVerified(namespace, 'r', registry.host, PASSWORD, ['--registry-ca', pki.caFile]);
      assertNoPassword(result);
      assert.equal(result.code, 1);
      assertOneLineError(result.stderr, /unreachable \(https:\/\/127\.0\.0\.1:\d+ redirects \(HTTP 307\); redirects are not followed with credentials\)/);
      assert.deepEqual(elsewhere.seen, []);
      assert.equal(registry.seen.length, 2);
      assert.equal(registry.seen[0]!.authorization, undefined);
      assert.equal(registry.seen[1]!.authorization, `Basic ${b64(`${USER}:${PASSWORD}`)}`);
    }));
});

describe('list --verify', () => {
  test('one result per registry, concurrently, with a timeout; exit 1 when a login fails', () =>
    withNamespace('verify-list', async (namespace) => {
      // A server that accepts connections and never answers.
      const sockets: Socket[] = [];
      const silent = createNetServer((socket) => sockets.push(socket));
      const silentPort = await listen(silent as unknown as Server);
      const closedPort = await freePort();
      const entry = (password: string) => ({ username: USER, password });
      await createDockerConfigSecret(namespace, 'good', { auths: { [tlsRegistry.host]: entry(PASSWORD) } });
      await createDockerConfigSecret(namespace, 'wrong', { auths: { [tlsRegistry.host]: entry(WRONG) } });
      await createDockerConfigSecret(namespace, 'token', { auths: { [`https://${tokenRegistry.host}/v2/`]: entry(PASSWORD) } });
      await createDockerConfigSecret(namespace, 'mixed', {
        auths: { [`127.0.0.1:${closedPort}`]: entry(PASSWORD), [`127.0.0.1:${silentPort}/team`]: entry(PASSWORD), '*.corp.example': entry(PASSWORD), 'empty.example': {} },
      });
      // The same login in two secrets is tried once.
      await createDockerConfigSecret(namespace, 'good-copy', { auths: { [tlsRegistry.host]: entry(PASSWORD) } });

      const started = Date.now();
      const table = await run(['list', '-n', namespace, '--verify', '--registry-ca', pki.caFile, '--verify-timeout', '2s']);
      const elapsed = Date.now() - started;
      assertNoPassword(table);
      assert.equal(table.code, 1);
      assert.ok(elapsed < 8000, `the logins ran one after another or without a timeout (${elapsed} ms)`);
      assertOneLineError(table.stderr, /^error: 3 of 6 registry logins failed: .*; 2 more failed$/);
      const rows = Object.fromEntries(table.stdout.trim().split('\n').slice(1).map((line) => {
        const cells = line.split(/\s{3,}/);
        return [cells[0], cells[cells.length - 1]];
      }));
      assert.deepEqual(rows, {
        good: 'ok',
        'good-copy': 'ok',
        mixed: 'unreachable,unreachable,skipped,skipped',
        token: 'ok',
        wrong: 'unauthorized',
      });

      const json = await run(['list', '-n', namespace, '--verify', '--registry-ca', pki.caFile, '--verify-timeout', '2s', '-o', 'json']);
      assertNoPassword(json);
      assert.equal(json.code, 1);
      const items = (JSON.parse(json.stdout) as { items: ListEntry[] }).items;
      const mixed = items.find((item) => item.name === 'mixed')!;
      assert.deepEqual(mixed.verify!.map((check) => [check.registry, check.result]), [
        [`127.0.0.1:${closedPort}`, 'unreachable'],
        [`127.0.0.1:${silentPort}/team`, 'unreachable'],
        ['*.corp.example', 'skipped'],
        ['empty.example', 'skipped'],
      ]);
      assert.match(mixed.verify![0]!.detail, /connection refused/);
      assert.equal(mixed.verify![1]!.detail, `https://127.0.0.1:${silentPort} did not answer within 2s`);
      for (const socket of sockets) socket.destroy();
    }));
});
