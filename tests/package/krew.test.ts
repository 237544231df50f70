// krew for real: krew and validate-krew-manifest built from the Go module proxy
// (scripts/package/krew-tools.sh), the rendered manifest validated, then installed from the
// manifest and the linux/amd64 archive into a temporary KREW_ROOT, run as `kubectl pullsecret`
// against the local control plane, completion enabled the way the caveats say, and uninstalled.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadYaml } from '@kubernetes/client-node';
import { exec } from '../../scripts/package/exec';
import { selectTargets } from '../../scripts/package/targets';
import {
  archivePath,
  assertListedFixture,
  localCluster,
  pullSecretFixture,
  releaseDir,
  repoRoot,
  run,
  succeeded,
  tempDir,
  type LocalCluster,
} from './helpers';

const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
const manifest = path.join(releaseDir, 'pullsecret.yaml');
const krewRoot = tempDir('krew-root');
let tools: string;
let cluster: LocalCluster;
let fixture: Awaited<ReturnType<typeof pullSecretFixture>>;
let env: NodeJS.ProcessEnv;

const kubectl = async (...args: string[]) => succeeded(await run('kubectl', args, { env }), `kubectl ${args.join(' ')}`);

before(async () => {
  tools = (await exec('bash', [path.join(repoRoot, 'scripts', 'package', 'krew-tools.sh')], { timeoutMs: 15 * 60_000 })).stdout.toString('utf8').trim();
  cluster = await localCluster();
  fixture = await pullSecretFixture(cluster.kubeconfig, 'kps-package-krew');
  const kubectlDir = path.dirname((await exec('sh', ['-c', 'command -v kubectl'])).stdout.toString('utf8').trim());
  env = {
    // krew's bin first, as its installer tells users; then krew itself and kubectl.
    PATH: `${path.join(krewRoot.dir, 'bin')}:${tools}:${kubectlDir}:/usr/bin:/bin`,
    HOME: krewRoot.dir,
    KREW_ROOT: krewRoot.dir,
    KREW_NO_UPGRADE_CHECK: '1',
    KUBECONFIG: cluster.kubeconfig,
  };
});

after(async () => {
  await fixture?.remove();
  await cluster?.stop();
  krewRoot.cleanup();
});

describe('krew', () => {
  test('validate-krew-manifest accepts the rendered manifest', async () => {
    const result = succeeded(await run(path.join(tools, 'validate-krew-manifest'), ['-manifest', manifest, '-skip-install'], { env }), 'validate-krew-manifest');
    assert.match(result.stderr, /structural validation OK/);
    assert.match(result.stderr, /no overlapping spec\.platform\[\]\.selector/);
  });

  test('install from the manifest and the archive, run, enable completion, uninstall', async () => {
    const install = await kubectl('krew', 'install', `--manifest=${manifest}`, `--archive=${archivePath(selectTargets(['linux/amd64'])[0]!)}`);
    assert.match(install.stderr + install.stdout, /Installed plugin: pullsecret/);

    const store = path.join(krewRoot.dir, 'store', 'pullsecret', `v${version}`);
    const link = path.join(krewRoot.dir, 'bin', 'kubectl-pullsecret');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), path.join(store, 'kubectl-pullsecret'));
    assert.equal(statSync(path.join(store, 'kubectl-pullsecret')).mode & 0o777, 0o755);
    assert.ok(existsSync(path.join(store, 'LICENSE')));

    assert.equal((await kubectl('pullsecret', '--version')).stdout, `v${version}\n`);
    assertListedFixture((await kubectl('pullsecret', 'list', '-n', fixture.namespace)).stdout, fixture.secret);

    // The caveats' instruction, run as written, makes kubectl complete the plugin's arguments.
    const caveats = loadYaml<{ spec: { caveats: string } }>(readFileSync(manifest, 'utf8')).spec.caveats;
    assert.match(install.stderr + install.stdout, /kubectl_complete-pullsecret/, 'krew prints the caveats');
    const copy = caveats.split('\n').map((line) => line.trim()).find((line) => line.startsWith('cp '));
    assert.ok(copy, 'the caveats say how to enable completion');
    succeeded(await run('sh', ['-c', copy], { env }), copy);
    const completion = (await kubectl('__complete', 'pullsecret', 'list', '-n', '')).stdout;
    assert.match(completion, new RegExp(`^${fixture.namespace}$`, 'm'));

    // krew uninstall insists on an initialised index, which `kubectl krew update` would clone
    // from GitHub; an empty git repository stands in for it.
    succeeded(await run('git', ['init', '-q', path.join(krewRoot.dir, 'index', 'default')], { env }), 'git init');
    await kubectl('krew', 'uninstall', 'pullsecret');
    assert.ok(!existsSync(link), 'the plugin link is gone');
    assert.ok(!existsSync(store), 'the installed files are gone');
    const gone = await run('kubectl', ['pullsecret', 'list'], { env });
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /unknown command "pullsecret"/);
  });
});
