// The released executables run as users get them, against the real local control plane:
// linux/amd64 natively with an empty environment (so no Node.js and no PATH), linux/arm64 under
// qemu-aarch64, windows/amd64 under wine64; and shell completion through the real kubectl, via
// the helper shipped in the archive.
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawn } from 'node:child_process';
import { exec } from '../../scripts/package/exec';
import { selectTargets } from '../../scripts/package/targets';
import {
  archivePath,
  assertListedFixture,
  localCluster,
  pullSecretFixture,
  repoRoot,
  run,
  succeeded,
  tempDir,
  type LocalCluster,
  type Result,
} from './helpers';

const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
const scratch = tempDir('run');
let cluster: LocalCluster;
let fixture: Awaited<ReturnType<typeof pullSecretFixture>>;

/** Unpacks a target's archive into the scratch directory; returns the directory. */
async function unpack(name: string): Promise<string> {
  const target = selectTargets([name])[0]!;
  const dir = path.join(scratch.dir, name.replace('/', '_'));
  mkdirSync(dir, { recursive: true });
  await exec('tar', ['-xzf', archivePath(target), '-C', dir]);
  return dir;
}

before(async () => {
  cluster = await localCluster();
  fixture = await pullSecretFixture(cluster.kubeconfig, 'kps-package-run');
});

after(async () => {
  await fixture?.remove();
  await cluster?.stop();
  scratch.cleanup();
});

describe('linux/amd64', () => {
  test('runs with an empty environment: no Node.js, no PATH', async () => {
    const dir = await unpack('linux/amd64');
    const binary = path.join(dir, 'kubectl-pullsecret');
    const versionRun = succeeded(await run(binary, ['--version'], { env: {} }), '--version');
    assert.equal(versionRun.stdout, `v${version}\n`);
    assert.equal(versionRun.stderr, '', 'no warning of any kind on stderr');
    const list = succeeded(await run(binary, ['list', '-n', fixture.namespace], { env: { KUBECONFIG: cluster.kubeconfig } }), 'list');
    assertListedFixture(list.stdout, fixture.secret);
    assert.equal(list.stderr, '');
  });

  test('V8 accepts the code cache it carries', async () => {
    const dir = await unpack('linux/amd64');
    const result = succeeded(await run(path.join(dir, 'kubectl-pullsecret'), ['--version'], { env: { KPS_TEST_REPORT_CODE_CACHE: '1' } }), '--version');
    assert.equal(result.stderr, 'code cache: accepted\n');
  });

  test('add loads the libraries part, with its code cache, and writes through the Kubernetes client', async () => {
    const dir = await unpack('linux/amd64');
    const copy = `${fixture.secret}-copy`;
    const env = { KUBECONFIG: cluster.kubeconfig, KPS_TEST_REPORT_CODE_CACHE: '1' };
    const args = ['add', copy, '-n', fixture.namespace, '--from-secret', `${fixture.namespace}/${fixture.secret}`, '--no-attach', '-o', 'name'];
    const added = succeeded(await run(path.join(dir, 'kubectl-pullsecret'), args, { env }), 'add --from-secret');
    assert.equal(added.stdout, `secret/${copy}\n`);
    // The libraries are compiled only once a command needs them, and only then reported.
    assert.equal(added.stderr, 'code cache: accepted\nlibraries code cache: accepted\n');
    const read = succeeded(await run('kubectl', ['get', 'secret', copy, '-n', fixture.namespace, '-o', 'jsonpath={.type}'], { env: { ...process.env, KUBECONFIG: cluster.kubeconfig } }), 'kubectl get secret');
    assert.equal(read.stdout, 'kubernetes.io/dockerconfigjson');
  });

  test('kubectl completes verbs, namespaces and pull-secret names through the shipped helper', async () => {
    const dir = await unpack('linux/amd64');
    const kubectl = (await exec('sh', ['-c', 'command -v kubectl'])).stdout.toString('utf8').trim();
    // The plugin and its helper are found on PATH, as kubectl finds them; nothing else of ours is.
    const env = { PATH: `${dir}:${path.dirname(kubectl)}:/usr/bin:/bin`, HOME: scratch.dir, KUBECONFIG: cluster.kubeconfig };
    const complete = async (...words: string[]) => succeeded(await run('kubectl', ['__complete', 'pullsecret', ...words], { env }), `kubectl __complete pullsecret ${words.join(' ')}`).stdout;

    const verbs = await complete('');
    for (const verb of ['add', 'list', 'remove', 'version']) assert.match(verbs, new RegExp(`^${verb}\\t`, 'm'));
    assert.match(verbs, /^:4$/m);
    assert.match(await complete('list', '-n', ''), new RegExp(`^${fixture.namespace}$`, 'm'));
    assert.match(await complete('remove', '-n', fixture.namespace, ''), new RegExp(`^${fixture.secret}$`, 'm'));
    assert.match(await complete('list', '--all'), /^--all-namespaces\t/m);
  });
});

describe('linux/arm64 under qemu-aarch64', () => {
  test('--version and list against the control plane', async () => {
    const dir = await unpack('linux/arm64');
    const qemu = ['-L', '/usr/aarch64-linux-gnu', path.join(dir, 'kubectl-pullsecret')];
    const env = { KUBECONFIG: cluster.kubeconfig };
    assert.equal(succeeded(await run('qemu-aarch64', [...qemu, '--version'], { env }), 'arm64 --version').stdout, `v${version}\n`);
    const cache = succeeded(await run('qemu-aarch64', [...qemu, '--version'], { env: { ...env, KPS_TEST_REPORT_CODE_CACHE: '1' } }), 'arm64 --version');
    assert.equal(cache.stderr, 'code cache: accepted\n', 'its own cache, made by the arm64 Node under qemu');
    const list = succeeded(await run('qemu-aarch64', [...qemu, 'list', '-n', fixture.namespace], { env }), 'arm64 list');
    assertListedFixture(list.stdout, fixture.secret);
  });
});

describe('windows/amd64 under wine64', () => {
  const wine = '/usr/lib/wine/wine64';
  let prefix: string;
  let env: NodeJS.ProcessEnv;

  /** Runs under wine with stdout and stderr in files: through a pipe, wine's Node gets EBADF. */
  async function underWine(args: string[], cwd: string): Promise<Result> {
    const out = path.join(scratch.dir, 'wine.out');
    const err = path.join(scratch.dir, 'wine.err');
    const fds = [openSync(out, 'w'), openSync(err, 'w')] as const;
    try {
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(wine, args, { env, cwd, stdio: ['ignore', fds[0], fds[1]] });
        const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
        child.on('error', reject);
        child.on('close', (status) => {
          clearTimeout(timer);
          resolve(status ?? 1);
        });
      });
      return { code, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
    } finally {
      fds.forEach((fd) => closeSync(fd));
    }
  }

  before(async () => {
    prefix = path.join(scratch.dir, 'wineprefix');
    env = { PATH: '/usr/bin:/bin', HOME: scratch.dir, WINEPREFIX: prefix, WINEDEBUG: '-all' };
    // Node refuses Windows versions before 8.1, and a fresh prefix claims to be Windows 7.
    succeeded(await run(wine, ['winecfg', '-v', 'win10'], { env, timeoutMs: 300_000 }), 'winecfg -v win10');
  });

  after(async () => {
    await run('/usr/lib/wine/wineserver', ['-k'], { env }).catch(() => undefined);
  });

  test('--version and list against the control plane', async () => {
    const dir = await unpack('windows/amd64');
    assert.equal(succeeded(await underWine(['kubectl-pullsecret.exe', '--version'], dir), 'windows --version').stdout.trim(), `v${version}`);
    // Windows sees the Unix root as drive Z:.
    env = { ...env, KUBECONFIG: `Z:${cluster.kubeconfig.replace(/\//g, '\\')}` };
    const list = succeeded(await underWine(['kubectl-pullsecret.exe', 'list', '-n', fixture.namespace], dir), 'windows list');
    assertListedFixture(list.stdout.replace(/\r\n/g, '\n'), fixture.secret);
  });
});
