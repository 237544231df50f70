// The controller's OCI image (scripts/images/controller-image.ts), built from the release
// archives `npm run package` wrote: reproducible, multi-platform, nonroot, no shell, and enough
// userland that the executable really starts — linux/amd64 under chroot, linux/arm64 under
// qemu-aarch64 with the image as its only library root — and pushed to a real registry
// (Debian's docker-registry, CNCF distribution) that serves it back by digest.
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  EXECUTABLE_PATH,
  buildControllerImage,
  pushControllerImage,
  readLayout,
  type BuiltControllerImage,
} from '../../scripts/images/controller-image';
import { MEDIA_TYPE, platformName, sourceDateEpoch } from '../../scripts/images/oci';
import { exec } from '../../scripts/package/exec';
import { readTarGz, repoRoot, run, succeeded, tempDir, type TarEntry } from './helpers';

const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
const scratch = tempDir('image');
const script = path.join(repoRoot, 'scripts', 'images', 'controller-image.ts');
let cliDigest: string;
let built: BuiltControllerImage;

interface Config {
  created: string;
  architecture: string;
  variant?: string;
  config: { User?: string; Entrypoint?: string[]; Env?: string[]; Labels?: Record<string, string> };
}

function blobFile(layoutDir: string, digest: string): string {
  return path.join(layoutDir, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
}

/** Every file of a layout, relative path -> bytes. */
function layoutFiles(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (sub: string) => {
    for (const entry of readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = path.join(sub, entry.name);
      if (entry.isDirectory()) walk(rel);
      else files.set(rel, readFileSync(path.join(dir, rel)));
    }
  };
  walk('.');
  return files;
}

/** The entries of every layer of one platform's image, bottom layer first. */
function layerEntries(platform: string): TarEntry[][] {
  const image = built.index.images.find((i) => platformName(i.platform) === platform)!;
  return image.layers.map((layer) => readTarGz(blobFile(built.layoutDir, layer.digest)));
}

/** Unpacks one platform's layers in order into a fresh directory: the container's root. */
async function rootfs(platform: string): Promise<string> {
  const dir = path.join(scratch.dir, 'rootfs', platform.replaceAll('/', '_'));
  mkdirSync(dir, { recursive: true });
  const image = built.index.images.find((i) => platformName(i.platform) === platform)!;
  for (const layer of image.layers) await exec('tar', ['-xzf', blobFile(built.layoutDir, layer.digest), '-C', dir]);
  return dir;
}

before(async () => {
  // Once through the command, as `npm run image` runs it, once through the function: same inputs.
  const cli = succeeded(
    await run(process.execPath, ['--import', 'tsx', script, '--out', path.join(scratch.dir, 'first')], { env: { ...process.env }, cwd: repoRoot, timeoutMs: 300_000 }),
    'controller-image.ts',
  );
  cliDigest = cli.stdout.trim();
  built = await buildControllerImage({ layoutDir: path.join(scratch.dir, 'second') });
});

after(() => scratch.cleanup());

describe('the controller image', () => {
  test('two builds of the same archives and packages give the same index digest and layout', () => {
    assert.match(cliDigest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(built.indexDigest, cliDigest);
    const first = layoutFiles(path.join(scratch.dir, 'first'));
    const second = layoutFiles(built.layoutDir);
    assert.deepEqual([...first.keys()].sort(), [...second.keys()].sort());
    for (const [name, data] of first) assert.ok(data.equals(second.get(name)!), `${name} differs between builds`);
  });

  test('the layout is what skopeo, crane and oras read: one tagged image index', () => {
    assert.deepEqual(JSON.parse(readFileSync(path.join(built.layoutDir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    const top = JSON.parse(readFileSync(path.join(built.layoutDir, 'index.json'), 'utf8')) as { manifests: { mediaType: string; digest: string; annotations: Record<string, string> }[] };
    assert.equal(top.manifests.length, 1);
    assert.equal(top.manifests[0]!.mediaType, MEDIA_TYPE.index);
    assert.equal(top.manifests[0]!.digest, built.indexDigest);
    assert.equal(top.manifests[0]!.annotations['org.opencontainers.image.ref.name'], version);
    assert.equal(readLayout(built.layoutDir).index.digest, built.indexDigest);
  });

  test('the index has linux/amd64 and linux/arm64, each running the executable as nonroot', () => {
    assert.deepEqual(built.index.images.map((i) => platformName(i.platform)), ['linux/amd64', 'linux/arm64/v8']);
    const created = new Date(sourceDateEpoch() * 1000).toISOString().replace(/\.000Z$/, 'Z');
    for (const image of built.index.images) {
      const config = JSON.parse(image.config.data.toString('utf8')) as Config;
      assert.equal(config.architecture, image.platform.architecture);
      assert.equal(config.created, created);
      assert.equal(config.config.User, '65532:65532');
      assert.deepEqual(config.config.Entrypoint, [EXECUTABLE_PATH]);
      assert.ok(config.config.Env?.some((e) => e.startsWith('PATH=') && e.includes('/usr/local/bin')));
      assert.equal(config.config.Labels?.['org.opencontainers.image.version'], version);
      assert.equal(config.config.Labels?.['org.opencontainers.image.licenses'], 'Apache-2.0');
      assert.match(config.config.Labels?.['org.opencontainers.image.source'] ?? '', /^https:\/\//);
    }
  });

  for (const [platform, triplet, loader] of [
    ['linux/amd64', 'x86_64-linux-gnu', 'lib64/ld-linux-x86-64.so.2'],
    ['linux/arm64/v8', 'aarch64-linux-gnu', 'lib/ld-linux-aarch64.so.1'],
  ] as const) {
    test(`${platform}: the executable, its libraries, users and copyright files, and no shell`, () => {
      const [system, app] = layerEntries(platform);
      const byName = new Map([...system!, ...app!].map((e) => [e.name.replace(/\/$/, ''), e]));
      const executable = byName.get(EXECUTABLE_PATH.slice(1));
      assert.equal(executable?.mode, 0o755);
      assert.ok(executable!.data.length > 50e6, 'the standalone executable');
      for (const soname of ['libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'libgcc_s.so.1']) {
        assert.ok(byName.has(`lib/${triplet}/${soname}`), `lib/${triplet}/${soname}`);
      }
      assert.equal(byName.get(`usr/lib/${triplet}/libstdc++.so.6`)?.type, '2');
      assert.equal(byName.get(loader)?.type, '2', `the loader ${loader} the executable names`);
      assert.ok(!byName.has('bin/sh') && !byName.has('bin') && !byName.has('usr/bin'), 'no shell, no bin directories');
      assert.match(byName.get('etc/passwd')!.data.toString(), /^nonroot:x:65532:65532:/m);
      assert.match(byName.get('etc/group')!.data.toString(), /^nonroot:x:65532:$/m);
      assert.match(byName.get('etc/nsswitch.conf')!.data.toString(), /^hosts: files dns$/m);
      assert.equal(byName.get('tmp')?.mode, 0o1777);
      const home = byName.get('home/nonroot')!;
      assert.deepEqual([home.uid, home.gid, home.mode], [65532, 65532, 0o700]);
      const copyrights = [...byName.keys()].filter((name) => /^usr\/share\/doc\/[^/]+\/copyright$/.test(name));
      const statuses = [...byName.keys()].filter((name) => name.startsWith('var/lib/dpkg/status.d/') && byName.get(name)!.type === '0');
      assert.equal(copyrights.length, 3, `a copyright file per package taken: ${copyrights.join(', ')}`);
      assert.deepEqual(statuses.map((s) => path.basename(s)).sort(), copyrights.map((c) => c.split('/')[3]).sort());
      assert.ok(byName.has('usr/share/doc/kubectl-pullsecret/LICENSE'));
      for (const entry of [...system!, ...app!]) {
        assert.equal(entry.mtime, sourceDateEpoch(), `${entry.name}: the fixed mtime`);
        assert.ok(!/^usr\/share\/(man|info|locale)\//.test(entry.name), `${entry.name}: no docs beyond copyright files`);
      }
      const summary = built.platforms.find((p) => p.platform === platform)!;
      // The node pulls this much; the executable alone is about 37 MB gzipped.
      assert.ok(summary.compressedBytes < 50e6, `${platform} is ${summary.compressedBytes} bytes compressed`);
    });
  }

  test('linux/amd64: the executable starts in its own root filesystem as 65532 (chroot)', { skip: process.getuid?.() !== 0 && 'chroot needs root' }, async () => {
    const root = await rootfs('linux/amd64');
    // An empty environment and nothing of the host: the image's libraries are all it has.
    const result = succeeded(await run('/usr/sbin/chroot', ['--userspec=65532:65532', root, EXECUTABLE_PATH, '--version'], { env: {} }), 'chroot … --version');
    assert.equal(result.stdout.trim(), `v${version}`);
  });

  test('linux/arm64: the executable starts under qemu-aarch64 with the image as its library root', async () => {
    const root = await rootfs('linux/arm64/v8');
    const result = succeeded(await run('qemu-aarch64', ['-L', root, path.join(root, EXECUTABLE_PATH), '--version'], { env: { PATH: process.env.PATH } }), 'qemu-aarch64 … --version');
    assert.equal(result.stdout.trim(), `v${version}`);
    // qemu -L falls back to the host's files for what the root lacks; the host keeps its arm64
    // libraries under /usr/aarch64-linux-gnu, where the image's loader does not look, so a
    // library missing from the image fails the start. Shown with one taken away:
    const libstdcxx = path.join(root, 'usr/lib/aarch64-linux-gnu/libstdc++.so.6.0.30');
    renameSync(libstdcxx, `${libstdcxx}.away`);
    try {
      const without = await run('qemu-aarch64', ['-L', root, path.join(root, EXECUTABLE_PATH), '--version'], { env: { PATH: process.env.PATH } });
      assert.notEqual(without.code, 0);
      assert.match(without.stderr, /libstdc\+\+\.so\.6: cannot open shared object file/);
    } finally {
      renameSync(`${libstdcxx}.away`, libstdcxx);
    }
  });
});

// ------------------------------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function get(port: number, pathname: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: pathname, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('pushing the controller image', () => {
  const user = 'pusher';
  const password = `image-test-${process.pid}-secret`;
  let registry: ChildProcess | undefined;
  let port: number;
  let passwordFile: string;

  before(async () => {
    const dir = path.join(scratch.dir, 'registry');
    mkdirSync(dir, { recursive: true });
    port = await freePort();
    passwordFile = path.join(dir, 'password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    // bcrypt, the only hash the registry accepts; the password goes through stdin.
    writeFileSync(path.join(dir, 'htpasswd'), execFileSync('htpasswd', ['-Bni', user], { input: password, encoding: 'utf8' }));
    writeFileSync(path.join(dir, 'registry.yml'), [
      'version: 0.1',
      'log: {level: warn, accesslog: {disabled: true}}',
      `storage: {filesystem: {rootdirectory: ${path.join(dir, 'storage')}}}`,
      `http: {addr: "127.0.0.1:${port}"}`,
      `auth: {htpasswd: {realm: kubectl-pullsecret-image-test, path: ${path.join(dir, 'htpasswd')}}}`,
      '',
    ].join('\n'));
    registry = spawn('docker-registry', ['serve', path.join(dir, 'registry.yml')], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      const answered = await get(port, '/v2/', {}).then((r) => r.status, () => 0);
      if (answered === 401) break;
      if (i > 100 || registry.exitCode !== null) throw new Error(`docker-registry on 127.0.0.1:${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  after(() => {
    registry?.kill('SIGTERM');
  });

  test('--push sends the index and both images; the registry serves them back by digest', async () => {
    const reference = `127.0.0.1:${port}/kubectl-pullsecret:${version}`;
    const result = succeeded(await run(process.execPath, ['--import', 'tsx', script, '--no-build', '--out', built.layoutDir, '--push', reference, '--username', user, '--password-file', passwordFile], {
      env: { PATH: process.env.PATH },
      cwd: repoRoot,
    }), 'controller-image.ts --push');
    assert.equal(result.stdout.trim(), `${reference}@${built.indexDigest}`);
    assert.ok(!`${result.stdout}${result.stderr}`.includes(password), 'the password is never printed');

    const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const accept = [MEDIA_TYPE.index, MEDIA_TYPE.manifest].join(', ');
    const byDigest = await get(port, `/v2/kubectl-pullsecret/manifests/${built.indexDigest}`, { Authorization: authorization, Accept: accept });
    assert.equal(byDigest.status, 200);
    assert.ok(byDigest.body.equals(built.index.index.data), 'the index the registry serves is the one built');
    const byTag = await get(port, `/v2/kubectl-pullsecret/manifests/${version}`, { Authorization: authorization, Accept: accept });
    assert.equal(byTag.headers['docker-content-digest'], built.indexDigest);
    for (const image of built.index.images) {
      const manifest = await get(port, `/v2/kubectl-pullsecret/manifests/${image.manifest.digest}`, { Authorization: authorization, Accept: accept });
      assert.ok(manifest.body.equals(image.manifest.data), `${platformName(image.platform)} manifest`);
    }
  });

  test('pushControllerImage under another tag uploads nothing again', async () => {
    const pushed = await pushControllerImage({
      registry: `127.0.0.1:${port}`,
      repository: 'kubectl-pullsecret',
      tag: 'again',
      layoutDir: built.layoutDir,
      credentials: { username: user, password },
    });
    assert.equal(pushed.digest, built.indexDigest);
    assert.equal(pushed.uploadedBlobs, 0);
    assert.equal(pushed.skippedBlobs, 6, 'two layers and a config per platform');
  });

  test('without credentials the registry refuses, in one line that says what to give', async () => {
    const result = await run(process.execPath, ['--import', 'tsx', script, '--no-build', '--out', built.layoutDir, '--push', `127.0.0.1:${port}/kubectl-pullsecret:x`], { env: { PATH: process.env.PATH }, cwd: repoRoot });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^image: push to 127\.0\.0\.1:\d+\/kubectl-pullsecret: .*401.*--username/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });
});

test('a missing release archive says to run npm run package', async () => {
  const empty = path.join(scratch.dir, 'no-release');
  mkdirSync(empty, { recursive: true });
  await assert.rejects(buildControllerImage({ releaseDir: empty, layoutDir: path.join(scratch.dir, 'unused') }), /kubectl-pullsecret_linux_amd64\.tar\.gz is missing: run "npm run package"/);
});
