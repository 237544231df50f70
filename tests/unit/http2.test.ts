// lib/http2 under lib/connect's requestJson: requests in flight share one TLS connection; a
// request that times out, or a session the server closes, leaves the next request a working
// connection; a process with an idle session still exits. A plain local HTTP/2 server stands in
// for the transport only; what the API server answers is tested in integration.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateCa, issueServingCertificate } from '../../lib/certs';
import { connect, describeApiError, requestJson } from '../../lib/connect';

const root = mkdtempSync(path.join(tmpdir(), 'kps-http2-'));
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ca = generateCa('kps-test-ca');
const serving = issueServingCertificate(ca, ['127.0.0.1']);

/** What the server does with the next request's stream. */
let behaviour: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void = () => undefined;
let connections = 0;
const seen: http2.IncomingHttpHeaders[] = [];
const server = http2.createSecureServer({ cert: serving.cert, key: serving.key, allowHTTP1: false });
server.on('secureConnection', () => connections++);
const serverSessions = new Set<http2.ServerHttp2Session>();
server.on('session', (session) => serverSessions.add(session));
server.on('stream', (stream, headers) => {
  seen.push(headers);
  behaviour(stream, headers);
});
const answer = (body: object) => (stream: http2.ServerHttp2Stream) => {
  stream.respond({ ':status': 200, 'content-type': 'application/json' });
  stream.end(JSON.stringify(body));
};

let kubeconfig = '';
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  kubeconfig = path.join(root, 'kubeconfig');
  writeFileSync(kubeconfig, [
    'current-context: ctx',
    'contexts: [{name: ctx, context: {cluster: c, user: u}}]',
    `clusters: [{name: c, cluster: {server: 'https://127.0.0.1:${(server.address() as AddressInfo).port}', certificate-authority-data: ${Buffer.from(ca.cert).toString('base64')}}}]`,
    'users: [{name: u, user: {token: FAKE-token}}]',
  ].join('\n'));
});
after(() => {
  for (const session of serverSessions) session.destroy();
  server.close();
  rmSync(root, { recursive: true, force: true });
});

describe('requests over HTTP/2', () => {
  test('four requests at once share one TLS connection, with the headers an HTTP/1.1 request has', async () => {
    behaviour = answer({ kind: 'SecretList', items: [] });
    const before = connections;
    seen.length = 0;
    const connection = connect({ kubeconfig });
    const answers = await Promise.all([1, 2, 3, 4].map((i) => requestJson(connection, { path: `/api/v1/secrets`, query: { limit: i } })));
    assert.equal(answers.length, 4);
    assert.equal(connections - before, 1);
    assert.deepEqual(seen.map((headers) => headers[':path']).sort(), [1, 2, 3, 4].map((i) => `/api/v1/secrets?limit=${i}`));
    assert.equal(seen[0].authorization, 'Bearer FAKE-token');
    assert.equal(seen[0].accept, 'application/json');
    assert.match(String(seen[0]['user-agent']), /^kubectl-pullsecret\//);
  });

  test('a body and its content type, a DELETE\'s too; an error status is an ApiError as over HTTP/1.1', async () => {
    const bodies: string[] = [];
    behaviour = (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        bodies.push(`${headers['content-type']} ${Buffer.concat(chunks).toString()}`);
        stream.respond({ ':status': 409, 'content-type': 'application/json' });
        stream.end('{"kind":"Status","reason":"Conflict","message":"the object has been modified","code":409}');
      });
    };
    const connection = connect({ kubeconfig });
    const error = await requestJson(connection, { method: 'PATCH', path: '/api/v1/x', body: [{ op: 'test' }], contentType: 'application/json-patch+json' }).catch((e: unknown) => e);
    assert.deepEqual(bodies, ['application/json-patch+json [{"op":"test"}]']);
    assert.equal(describeApiError(error, connection).message, 'Conflict: the object has been modified');
    // A DELETE carries its options as a body (Node ends a DELETE's stream at once unless told otherwise).
    bodies.length = 0;
    await requestJson(connection, { method: 'DELETE', path: '/api/v1/x', body: { preconditions: { resourceVersion: '7' } } }).catch(() => undefined);
    assert.deepEqual(bodies, ['application/json {"preconditions":{"resourceVersion":"7"}}']);
  });

  test('a request that times out says so (--request-timeout), and the next request gets a new connection that works', async () => {
    behaviour = () => undefined; // never answers
    const slow = connect({ kubeconfig, requestTimeout: '200ms' });
    const error = await requestJson(slow, { path: '/api/v1/stalled' }).catch((e: unknown) => e);
    assert.match(describeApiError(error, slow).message, /did not answer within 0.2s \(--request-timeout\)/);
    behaviour = answer({ ok: 1 });
    const before = connections;
    assert.deepEqual(await requestJson(slow, { path: '/api/v1/after' }), { ok: 1 });
    assert.equal(connections - before, 1);
  });

  test('a session the server closes is replaced for the next request', async () => {
    behaviour = answer({ ok: 2 });
    const connection = connect({ kubeconfig });
    await requestJson(connection, { path: '/api/v1/first' });
    behaviour = (stream) => stream.session?.destroy();
    const reset = await requestJson(connection, { path: '/api/v1/dropped' }).catch((e: unknown) => e);
    assert.equal((reset as { code?: string }).code, 'ECONNRESET', 'a transient error, which callers retry');
    behaviour = answer({ ok: 3 });
    assert.deepEqual(await requestJson(connection, { path: '/api/v1/again' }), { ok: 3 });
  });

  test('an idle session does not keep a process alive', async () => {
    behaviour = answer({ ok: 4 });
    const script = `import { connect, requestJson } from ${JSON.stringify(path.join(repoRoot, 'lib', 'connect.ts'))};
      console.log(JSON.stringify(await requestJson(connect({ kubeconfig: ${JSON.stringify(kubeconfig)} }), { path: '/api/v1/once' })));`;
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, timeout: 20_000 }, (error, out, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(out),
      ),
    );
    assert.equal(stdout.trim(), '{"ok":4}');
  });
});
