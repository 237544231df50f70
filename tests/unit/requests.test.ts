// The credentials lib/connect's own requests carry (the reads every verb starts from), without
// client-node: what the kubeconfig says is sent as client-node would send it. A plain local HTTP
// server records the requests; what the API server makes of them is tested in integration.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateCa, issueServingCertificate } from '../../lib/certs';
import { ApiError, apiStatus, connect, requestFrames, requestJson, requestLines } from '../../lib/connect';
import { ProtobufError } from '../../lib/protobuf';

const root = mkdtempSync(path.join(tmpdir(), 'kps-requests-'));
const seen: { method?: string; url?: string; headers: IncomingHttpHeaders; body: string }[] = [];
let answer = { status: 200, body: '{"kind":"SecretList","items":[]}' };
const server = http.createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    seen.push({ method: request.method, url: request.url, headers: request.headers, body: Buffer.concat(chunks).toString() });
    response.writeHead(answer.status, { 'Content-Type': 'application/json' }).end(answer.body);
  });
});
let serverUrl = '';
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.close();
  rmSync(root, { recursive: true, force: true });
});

/** A connection through a kubeconfig whose one user has these fields. */
function connectAs(userLines: string[], server = serverUrl) {
  const file = path.join(root, `config-${seen.length}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, [
    'current-context: ctx',
    'contexts: [{name: ctx, context: {cluster: c, user: u}}]',
    `clusters: [{name: c, cluster: {server: '${server}'}}]`,
    'users:',
    '- name: u',
    '  user:',
    ...userLines.map((line) => `    ${line}`),
  ].join('\n'));
  return connect({ kubeconfig: file }, { env: {}, home: root, serviceAccountDir: path.join(root, 'none') });
}

async function headersFor(userLines: string[]): Promise<IncomingHttpHeaders> {
  await requestJson(connectAs(userLines), { path: '/api/v1/secrets' });
  return seen.at(-1)!.headers;
}

describe('requests made without client-node', () => {
  test('a bearer token; a token file, read relative to the kubeconfig', async () => {
    assert.equal((await headersFor(['token: FAKE-token-1'])).authorization, 'Bearer FAKE-token-1');
    writeFileSync(path.join(root, 'token'), 'FAKE-token-from-file\n');
    assert.equal((await headersFor(['token-file: token'])).authorization, 'Bearer FAKE-token-from-file');
  });

  test('basic auth (an unquoted number is a string, as in kubectl) and impersonation', async () => {
    const headers = await headersFor(['username: ops', 'password: 1234', 'as: auditor']);
    assert.equal(headers.authorization, `Basic ${Buffer.from('ops:1234').toString('base64')}`);
    assert.equal(headers['impersonate-user'], 'auditor');
  });

  test('a user with no credentials sends none', async () => {
    const headers = await headersFor(['{}']);
    assert.equal(headers.authorization, undefined);
  });

  test('query parameters, a JSON patch body and its content type', async () => {
    const connection = connectAs(['token: FAKE-token-2']);
    await requestJson(connection, {
      method: 'PATCH',
      path: '/api/v1/namespaces/a/serviceaccounts/default',
      query: { fieldManager: 'kubectl-pullsecret', dryRun: 'All', skipped: undefined },
      body: [{ op: 'add', path: '/imagePullSecrets/-', value: { name: 'regcred' } }],
      contentType: 'application/json-patch+json',
    });
    const request = seen.at(-1)!;
    assert.equal(request.method, 'PATCH');
    assert.equal(request.url, '/api/v1/namespaces/a/serviceaccounts/default?fieldManager=kubectl-pullsecret&dryRun=All');
    assert.equal(request.headers['content-type'], 'application/json-patch+json');
    assert.deepEqual(JSON.parse(request.body), [{ op: 'add', path: '/imagePullSecrets/-', value: { name: 'regcred' } }]);
  });

  test("a server URL's own path (a proxy's) prefixes every request; query values arrive as given", async () => {
    const connection = connectAs(['token: FAKE-token-3'], `${serverUrl}/k8s/clusters/c-1/`);
    const labelSelector = 'app in (a, b),tier!=web,team=ü';
    await requestJson(connection, { path: '/api/v1/secrets', query: { labelSelector, limit: 500 } });
    const url = new URL(seen.at(-1)!.url!, 'http://any');
    assert.equal(url.pathname, '/k8s/clusters/c-1/api/v1/secrets');
    assert.deepEqual([...url.searchParams], [['labelSelector', labelSelector], ['limit', '500']]);
  });

  test('an error status is an ApiError with the status and the body', async () => {
    answer = { status: 404, body: '{"kind":"Status","reason":"NotFound","message":"secrets \\"x\\" not found"}' };
    try {
      const failure = await requestJson(connectAs(['token: FAKE-token-3']), { path: '/api/v1/namespaces/a/secrets/x' }).then(() => undefined, (error: unknown) => error);
      assert.ok(failure instanceof ApiError);
      assert.equal(apiStatus(failure), 404);
      assert.match(failure.body, /not found/);
    } finally {
      answer = { status: 200, body: '{}' };
    }
  });
});

// The TLS suite's certificates, made before it is declared: its server is built from them.
const serverCa = await generateCa('kps-test-server-ca');
const serving = await issueServingCertificate(serverCa, ['kubernetes.internal']);
const client = await issueServingCertificate(await generateCa('kps-test-client-ca'), ['kps-test-client']);

describe('TLS as the kubeconfig says', () => {
  // The server's certificate names only kubernetes.internal, not the address dialled; it asks
  // for a client certificate and records the one it gets.
  const clients: (string | undefined)[] = [];
  const tlsServer = https.createServer({ cert: serving.cert, key: serving.key, requestCert: true, rejectUnauthorized: false }, (request, response) => {
    const name = (request.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN;
    clients.push(Array.isArray(name) ? name.join(',') : name);
    response.writeHead(200, { 'Content-Type': 'application/json' }).end('{"kind":"NamespaceList","items":[]}');
  });
  let port = 0;
  before(async () => {
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    port = (tlsServer.address() as AddressInfo).port;
  });
  after(() => {
    tlsServer.closeAllConnections();
    tlsServer.close();
  });
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  const connectWith = (clusterFields: string[], withClientCertificate = true) => {
    const file = path.join(root, `tls-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, [
      'current-context: ctx',
      'contexts: [{name: ctx, context: {cluster: c, user: u}}]',
      'clusters:',
      '- name: c',
      '  cluster:',
      `    server: https://127.0.0.1:${port}`,
      ...clusterFields.map((line) => `    ${line}`),
      'users:',
      '- name: u',
      '  user:',
      ...(withClientCertificate ? [`    client-certificate-data: ${b64(client.cert)}`, `    client-key-data: ${b64(client.key)}`] : ['    {}']),
    ].join('\n'));
    return connect({ kubeconfig: file }, { env: {}, home: root, serviceAccountDir: path.join(root, 'none') });
  };
  const failure = (promise: Promise<unknown>) => promise.then(() => 'no error', (error: { code?: string }) => String(error.code));

  test('the CA and tls-server-name verify the server; the client certificate is presented on every request', async () => {
    const connection = connectWith([`certificate-authority-data: ${b64(serverCa.cert)}`, 'tls-server-name: kubernetes.internal']);
    clients.length = 0;
    await Promise.all([1, 2, 3].map(() => requestJson(connection, { path: '/api/v1/namespaces' })));
    assert.deepEqual(clients, ['kps-test-client', 'kps-test-client', 'kps-test-client']);
  });

  test('without tls-server-name the name does not match; with another CA the chain does not', async () => {
    assert.equal(await failure(requestJson(connectWith([`certificate-authority-data: ${b64(serverCa.cert)}`]), { path: '/api/v1/namespaces' })), 'ERR_TLS_CERT_ALTNAME_INVALID');
    const other = await generateCa('kps-test-other-ca');
    const refused = await failure(requestJson(connectWith([`certificate-authority-data: ${b64(other.cert)}`, 'tls-server-name: kubernetes.internal']), { path: '/api/v1/namespaces' }));
    assert.match(refused, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
  });

  test('insecure-skip-tls-verify accepts any server; no client certificate is sent when none is configured', async () => {
    clients.length = 0;
    await requestJson(connectWith(['insecure-skip-tls-verify: true'], false), { path: '/api/v1/namespaces' });
    await requestJson(connectWith(['insecure-skip-tls-verify: true']), { path: '/api/v1/namespaces' });
    assert.deepEqual(clients, [undefined, 'kps-test-client']);
  });
});

describe('in a pod (the service account\'s files)', () => {
  test('the server is verified with ca.crt, and the token file is read again for each request (it rotates)', async () => {
    const ca = await generateCa('kps-test-ca');
    const serving = await issueServingCertificate(ca, ['127.0.0.1']);
    const tokens: (string | undefined)[] = [];
    const tlsServer = https.createServer({ cert: serving.cert, key: serving.key }, (request, response) => {
      tokens.push(request.headers.authorization);
      response.writeHead(200, { 'Content-Type': 'application/json' }).end('{"kind":"NamespaceList","items":[]}');
    });
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    try {
      const serviceAccountDir = path.join(root, 'serviceaccount');
      mkdirSync(serviceAccountDir);
      writeFileSync(path.join(serviceAccountDir, 'ca.crt'), ca.cert);
      writeFileSync(path.join(serviceAccountDir, 'namespace'), 'controller\n');
      writeFileSync(path.join(serviceAccountDir, 'token'), 'FAKE-projected-token-1');
      const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String((tlsServer.address() as AddressInfo).port) };
      const connection = connect({}, { env, home: root, serviceAccountDir });
      assert.equal(connection.namespace, 'controller');
      await requestJson(connection, { path: '/api/v1/namespaces' });
      writeFileSync(path.join(serviceAccountDir, 'token'), 'FAKE-projected-token-2\n');
      await requestJson(connection, { path: '/api/v1/namespaces' });
      assert.deepEqual(tokens, ['Bearer FAKE-projected-token-1', 'Bearer FAKE-projected-token-2']);

      // A server certificate from another CA is refused.
      writeFileSync(path.join(serviceAccountDir, 'ca.crt'), (await generateCa('another-ca')).cert);
      const refused = await requestJson(connect({}, { env, home: root, serviceAccountDir }), { path: '/api/v1/namespaces' }).then(() => undefined, (error: unknown) => error);
      assert.match(String((refused as { code?: string })?.code), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
    } finally {
      tlsServer.closeAllConnections();
      tlsServer.close();
    }
  });
});

describe('requestLines: a stream of one JSON document per line (a WATCH)', () => {
  /** What the streaming server does with the next request. */
  let behaviour: (response: http.ServerResponse) => void = () => undefined;
  let closedByClient = false;
  const streaming = http.createServer((request, response) => {
    request.on('close', () => (closedByClient = true));
    behaviour(response);
  });
  let url = '';
  before(async () => {
    await new Promise<void>((resolve) => streaming.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(streaming.address() as AddressInfo).port}`;
  });
  after(() => streaming.close());
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  test('lines split anywhere across chunks arrive whole, in order; the end of the response resolves', async () => {
    behaviour = (response) => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      void (async () => {
        for (const piece of ['{"type":"ADDED","object":{"n":1}}\n{"type":"AD', 'DED","object":{"n":"é', '"}}\n', '\n{"type":"BOOKMARK"}\n']) {
          response.write(Buffer.from(piece));
          await sleep(20);
        }
        response.end();
      })();
    };
    const lines: string[] = [];
    await requestLines(connectAs(['{}'], url), { path: '/api/v1/secrets', query: { watch: 'true' } }, (line) => void lines.push(line));
    assert.deepEqual(lines.map((line) => JSON.parse(line)), [{ type: 'ADDED', object: { n: 1 } }, { type: 'ADDED', object: { n: 'é' } }, { type: 'BOOKMARK' }]);
  });

  test("'stop' resolves at once and closes the request, though the server would go on", async () => {
    closedByClient = false;
    behaviour = (response) => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.write('{"type":"ADDED"}\n{"type":"BOOKMARK"}\n{"type":"ADDED"}\n');
    };
    const seenTypes: string[] = [];
    await requestLines(connectAs(['{}'], url), { path: '/api/v1/secrets' }, (line) => {
      const { type } = JSON.parse(line) as { type: string };
      seenTypes.push(type);
      return type === 'BOOKMARK' ? 'stop' : undefined;
    });
    assert.deepEqual(seenTypes, ['ADDED', 'BOOKMARK']);
    for (let i = 0; i < 50 && !closedByClient; i++) await sleep(10);
    assert.ok(closedByClient, 'the request was left open');
  });

  test('a refused request is an ApiError with its status; a connection lost mid-stream rejects; an error of onLine rejects with it', async () => {
    behaviour = (response) => response.writeHead(422, { 'Content-Type': 'application/json' }).end('{"kind":"Status","reason":"Invalid","code":422}');
    const refused = await requestLines(connectAs(['{}'], url), { path: '/api/v1/secrets' }, () => undefined).catch((error: unknown) => error);
    assert.ok(refused instanceof ApiError);
    assert.equal(apiStatus(refused), 422);

    behaviour = (response) => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.write('{"type":"ADDED"}\n{"type":"ADD');
      setTimeout(() => response.socket?.destroy(), 20);
    };
    const lines: string[] = [];
    await assert.rejects(requestLines(connectAs(['{}'], url), { path: '/api/v1/secrets' }, (line) => void lines.push(line)));
    assert.deepEqual(lines, ['{"type":"ADDED"}'], 'the partial line was handed on');

    behaviour = (response) => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.write('not json\n');
    };
    await assert.rejects(requestLines(connectAs(['{}'], url), { path: '/api/v1/secrets' }, (line) => JSON.parse(line) as undefined), SyntaxError);
  });

  test('the signal ends a stream that never ends, rejecting with its reason', async () => {
    behaviour = (response) => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.write('{"type":"ADDED"}\n');
    };
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('stopped by the test')), 50);
    await assert.rejects(requestLines(connectAs(['{}'], url), { path: '/api/v1/secrets' }, () => undefined, stop.signal), /stopped by the test/);
  });

  /** A frame of a protobuf watch: its length in 4 bytes, big-endian, then the bytes. */
  const frame = (bytes: Buffer) => Buffer.concat([Buffer.from([0, 0, bytes.length >> 8, bytes.length & 0xff]), bytes]);
  const PROTOBUF_STREAM = { 'Content-Type': 'application/vnd.kubernetes.protobuf;stream=watch' };

  test('requestFrames: asks for protobuf; frames split anywhere, their length prefixes too, arrive whole; a frame of 300 bytes; stop closes', async () => {
    closedByClient = false;
    const frames = [Buffer.from('one'), Buffer.alloc(300, 7), Buffer.from(''), Buffer.from('last')];
    const stream = Buffer.concat(frames.map(frame));
    let accept: string | undefined;
    behaviour = (response) => {
      response.writeHead(200, PROTOBUF_STREAM);
      void (async () => {
        // Cut after 2 bytes (inside the first prefix), then inside the long frame, then bytes one by one.
        for (const [start, end] of [[0, 2], [2, 100], [100, 309], [309, 310], [310, 311], [311, stream.length]]) {
          response.write(stream.subarray(start, end));
          await sleep(10);
        }
      })();
    };
    streaming.once('request', (request: http.IncomingMessage) => (accept = request.headers.accept));
    const seenFrames: Buffer[] = [];
    await requestFrames(connectAs(['{}'], url), { path: '/api/v1/secrets' }, (bytes, start, end) => {
      seenFrames.push(Buffer.from(bytes.subarray(start, end)));
      return bytes.toString('utf8', start, end) === 'last' ? 'stop' : undefined;
    });
    assert.equal(accept, 'application/vnd.kubernetes.protobuf;stream=watch');
    assert.deepEqual(seenFrames, frames);
    for (let i = 0; i < 50 && !closedByClient; i++) await sleep(10);
    assert.ok(closedByClient, 'the request was left open');
  });

  test('requestFrames: an answer in JSON (a proxy that ignores Accept) is a ProtobufError at once, not bytes read as lengths', async () => {
    behaviour = (response) => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.write('{"type":"ADDED","object":{}}\n');
    };
    await assert.rejects(requestFrames(connectAs(['{}'], url), { path: '/api/v1/secrets' }, () => undefined), ProtobufError);
  });
});
