// The registry pusher of scripts/images against an in-process fake of the Registry HTTP API v2 on
// 127.0.0.1 (the real thing, CNCF distribution, is exercised by the local cluster): which
// requests it makes, that a second push only asks, and that failures are one line without the
// password.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { buildImage, buildIndex, type Image } from '../../scripts/images/oci';
import { push, parseChallenge, registryBaseUrl } from '../../scripts/images/push';

const USER = 'pusher';
const PASSWORD = 'FAKE-push-p@ss:word';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const TOKEN = 'FAKE-bearer-token';

/** A registry that keeps blobs and manifests in maps and logs `METHOD path` of each request. */
class FakeRegistry {
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, { type: string; body: Buffer }>();
  readonly log: string[] = [];
  auth: 'basic' | 'bearer' = 'basic';
  private server: Server | undefined;
  port = 0;

  private authorized(request: IncomingMessage): boolean {
    return request.headers.authorization === (this.auth === 'basic' ? BASIC : `Bearer ${TOKEN}`);
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const url = new URL(request.url ?? '/', `http://127.0.0.1:${this.port}`);
        this.log.push(`${request.method} ${url.pathname}`);
        if (url.pathname === '/token') {
          const ok = request.headers.authorization === BASIC && url.searchParams.get('scope') === 'repository:app:pull,push';
          response.writeHead(ok ? 200 : 401).end(ok ? JSON.stringify({ token: TOKEN }) : '');
          return;
        }
        if (!this.authorized(request)) {
          const challenge = this.auth === 'basic' ? 'Basic realm="fake"' : `Bearer realm="http://127.0.0.1:${this.port}/token",service="fake"`;
          response.writeHead(401, { 'WWW-Authenticate': challenge, 'Content-Type': 'application/json' })
            .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
          return;
        }
        let match: RegExpExecArray | null;
        if ((match = /^\/v2\/app\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname)) && request.method === 'HEAD') {
          response.writeHead(this.blobs.has(match[1]!) ? 200 : 404).end();
        } else if (url.pathname === '/v2/app/blobs/uploads/' && request.method === 'POST') {
          response.writeHead(202, { Location: `/v2/app/blobs/uploads/some-uuid?_state=opaque` }).end();
        } else if (url.pathname === '/v2/app/blobs/uploads/some-uuid' && request.method === 'PUT') {
          this.blobs.set(url.searchParams.get('digest')!, Buffer.concat(chunks));
          response.writeHead(201).end();
        } else if ((match = /^\/v2\/app\/manifests\/(.+)$/.exec(url.pathname)) && request.method === 'PUT') {
          this.manifests.set(match[1]!, { type: String(request.headers['content-type']), body: Buffer.concat(chunks) });
          response.writeHead(201).end();
        } else {
          response.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'NOT_FOUND', message: `no ${request.method} ${url.pathname}` }] }));
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as { port: number }).port;
  }

  reset(auth: 'basic' | 'bearer'): void {
    this.auth = auth;
    this.blobs.clear();
    this.manifests.clear();
    this.log.length = 0;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server!.close(() => resolve()));
  }
}

const fake = new FakeRegistry();
let image: Image;
const options = () => ({ registry: `127.0.0.1:${fake.port}`, credentials: { username: USER, password: PASSWORD } });

before(async () => {
  await fake.start();
  image = await buildImage({ platform: { os: 'linux', architecture: 'amd64' }, layers: [[{ path: '/hello', content: Buffer.from('hello') }]], config: { cmd: ['/hello'] } }, { epoch: 0 });
});
after(() => fake.stop());

describe('push', () => {
  test('uploads each missing blob, then tags; a second push only asks for the blobs', async () => {
    fake.reset('basic');
    const [first, second] = await push(options(), 'app', ['1', '2'], image);
    assert.equal(first!.reference, `127.0.0.1:${fake.port}/app:1@${image.manifest.digest}`);
    assert.equal(second!.reference, `127.0.0.1:${fake.port}/app:2@${image.manifest.digest}`);
    assert.deepEqual([first!.uploadedBlobs, first!.skippedBlobs], [2, 0]);
    for (const blob of [...image.layers, image.config]) assert.deepEqual(fake.blobs.get(blob.digest), blob.data);
    for (const tag of ['1', '2']) assert.deepEqual(fake.manifests.get(tag), { type: 'application/vnd.oci.image.manifest.v1+json', body: image.manifest.data });

    fake.log.length = 0;
    const [again] = await push(options(), 'app', ['3'], image);
    assert.deepEqual([again!.uploadedBlobs, again!.skippedBlobs], [0, 2]);
    assert.deepEqual(fake.log, ['HEAD /v2/app/blobs/' + image.layers[0]!.digest, 'HEAD /v2/app/blobs/' + image.config.digest, 'PUT /v2/app/manifests/3']);
  });

  test('an index: the images\' manifests by digest before the index by tag', async () => {
    fake.reset('basic');
    const arm64 = await buildImage({ platform: { os: 'linux', architecture: 'arm64' }, layers: [[{ path: '/hello', content: Buffer.from('hello') }]], config: { cmd: ['/hello'] } }, { epoch: 0 });
    const index = buildIndex([image, arm64]);
    const [result] = await push(options(), 'app', ['multi'], index);
    assert.equal(result!.digest, index.index.digest);
    const manifestPuts = fake.log.filter((line) => line.startsWith('PUT /v2/app/manifests/'));
    assert.deepEqual(manifestPuts, [`PUT /v2/app/manifests/${image.manifest.digest}`, `PUT /v2/app/manifests/${arm64.manifest.digest}`, 'PUT /v2/app/manifests/multi']);
    assert.equal(fake.manifests.get('multi')!.type, 'application/vnd.oci.image.index.v1+json');
    // The shared layer is uploaded once; the two configs differ by architecture.
    assert.equal(result!.uploadedBlobs, 3);
  });

  test('a Bearer challenge is answered with a token from its realm, fetched once', async () => {
    fake.reset('bearer');
    await push(options(), 'app', ['1'], image);
    assert.equal(fake.log.filter((line) => line === 'GET /token').length, 1);
    assert.ok(fake.manifests.has('1'));
  });

  test('refused or missing credentials fail in one line, without the password', async () => {
    for (const auth of ['basic', 'bearer'] as const) {
      fake.reset(auth);
      const wrong = { registry: `127.0.0.1:${fake.port}`, credentials: { username: USER, password: `${PASSWORD}-wrong` } };
      for (const [given, hint] of [[wrong, /the credentials were refused/], [{ registry: wrong.registry }, /give --username and --password-file/]] as const) {
        const error = await push(given, 'app', ['1'], image).then(() => undefined, (e: Error) => e);
        assert.ok(error, `${auth}: the push must fail`);
        assert.match(error.message, /401/);
        assert.match(error.message, hint);
        assert.ok(!error.message.includes('\n'), error.message);
        assert.ok(!error.message.includes(PASSWORD) && !error.message.includes(BASIC.slice(6)), error.message);
      }
    }
  });

  test('names are checked before anything is sent', async () => {
    fake.reset('basic');
    await assert.rejects(push(options(), 'App', ['1'], image), /"App" is not a valid repository name/);
    await assert.rejects(push(options(), 'app', ['no spaces'], image), /"no spaces" is not a valid tag/);
    assert.deepEqual(fake.log, []);
  });
});

describe('registry addresses and challenges', () => {
  test('plain http only for loopback without a CA', () => {
    assert.equal(registryBaseUrl({ registry: '127.0.0.1:5000' }).href, 'http://127.0.0.1:5000/');
    assert.equal(registryBaseUrl({ registry: 'localhost:5000' }).protocol, 'http:');
    assert.equal(registryBaseUrl({ registry: '127.0.0.1:5000', caFile: 'ca.crt' }).protocol, 'https:');
    assert.equal(registryBaseUrl({ registry: 'registry.example:5000' }).protocol, 'https:');
    assert.throws(() => registryBaseUrl({ registry: 'https://127.0.0.1:5000' }), /host\[:port\] without a scheme/);
  });

  test('WWW-Authenticate parameters, quoted or not', () => {
    const { scheme, params } = parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push", error=insufficient_scope');
    assert.equal(scheme, 'bearer');
    assert.deepEqual(Object.fromEntries(params), {
      realm: 'https://auth.example/token',
      service: 'registry.example',
      scope: 'repository:a/b:pull,push',
      error: 'insufficient_scope',
    });
  });
});
