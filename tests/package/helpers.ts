// Shared by the release tests: where `npm run package` put its output, reading an archive back,
// running a command and collecting its exit code, and a local control plane of the tests' own.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { spawnCollect } from '../../scripts/package/exec';
import { repoRoot } from '../../scripts/package/main';
import { archiveName, type Target } from '../../scripts/package/targets';

export { repoRoot };
export const releaseDir = path.join(repoRoot, 'dist', 'release');
export const workDir = path.join(repoRoot, 'dist', 'package-work');

export function archivePath(target: Pick<Target, 'os' | 'arch'>): string {
  const file = path.join(releaseDir, archiveName(target));
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run package" (npm run test:package does)`);
  return file;
}

export interface TarEntry {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  type: string;
  uname: string;
  data: Buffer;
}

/** The entries of a .tar.gz, in archive order, read with our own ustar parser. */
export function readTarGz(file: string): TarEntry[] {
  const tar = gunzipSync(readFileSync(file));
  const entries: TarEntry[] = [];
  const field = (block: Buffer, start: number, length: number) => block.subarray(start, start + length).toString('latin1').replace(/\0.*$/s, '');
  const octal = (block: Buffer, start: number, length: number) => parseInt(field(block, start, length).trim() || '0', 8);
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const size = octal(header, 124, 12);
    entries.push({
      name: field(header, 0, 100),
      mode: octal(header, 100, 8),
      uid: octal(header, 108, 8),
      gid: octal(header, 116, 8),
      mtime: octal(header, 136, 12),
      type: field(header, 156, 1),
      uname: field(header, 265, 32),
      data: tar.subarray(offset + 512, offset + 512 + size),
    });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs command with exactly `env` (nothing inherited) and collects its exit code and output. */
export async function run(command: string, args: readonly string[], options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number }): Promise<Result> {
  const result = await spawnCollect(command, args, { ...options, timeoutMs: options.timeoutMs ?? 120_000 });
  return { code: result.code, stdout: result.stdout.toString('utf8'), stderr: result.stderr };
}

/** Fails with the command's output unless it exited 0. */
export function succeeded(result: Result, what: string): Result {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

/** A directory removed again by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `kps-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface LocalCluster {
  kubeconfig: string;
  stop: () => Promise<void>;
}

const clusterScript = path.join(repoRoot, 'scripts', 'cluster', 'cluster.sh');

/**
 * The local control plane: the one KPS_TEST_CLUSTER_DIR names if it is up, else one started here
 * in a temporary directory (a few seconds once its binaries are cached) and stopped by stop().
 */
export async function localCluster(): Promise<LocalCluster> {
  const given = process.env.KPS_TEST_CLUSTER_DIR;
  if (given) {
    const status = await run('bash', [clusterScript, 'status'], { env: { ...process.env, KPS_CLUSTER_DIR: given } });
    if (status.code === 0) return { kubeconfig: path.join(given, 'kubeconfig'), stop: async () => undefined };
  }
  const { dir, cleanup } = tempDir('cluster');
  // The control plane alone: the release is tested against the API server, no pod runs.
  const env = { ...process.env, KPS_CLUSTER_DIR: dir, KPS_CLUSTER_NODE: 'none' };
  succeeded(await run('bash', [clusterScript, 'up'], { env, timeoutMs: 15 * 60_000 }), 'cluster.sh up');
  return {
    kubeconfig: path.join(dir, 'kubeconfig'),
    stop: async () => {
      await run('bash', [clusterScript, 'down'], { env });
      cleanup();
    },
  };
}

/**
 * A namespace holding one pull secret, made with kubectl as the cluster admin, so that `list`
 * through each executable has a row to show. remove() deletes the namespace.
 */
export async function pullSecretFixture(kubeconfig: string, prefix: string): Promise<{ namespace: string; secret: string; remove: () => Promise<void> }> {
  const namespace = `${prefix}-${process.pid}`;
  const secret = 'regcred';
  const env = { ...process.env, KUBECONFIG: kubeconfig };
  succeeded(await run('kubectl', ['create', 'namespace', namespace], { env }), 'kubectl create namespace');
  succeeded(
    await run('kubectl', ['create', 'secret', 'docker-registry', secret, '-n', namespace, '--docker-server=registry.example:5000',
      '--docker-username=ci', '--docker-password=FAKE-package-test-password'], { env }),
    'kubectl create secret docker-registry',
  );
  return { namespace, secret, remove: async () => void (await run('kubectl', ['delete', 'namespace', namespace, '--wait=false'], { env })) };
}

/** The one row `list` prints for the fixture's secret: name, registry, unused. */
export function assertListedFixture(stdout: string, secret: string): void {
  const row = stdout.split('\n').find((line) => line.startsWith(`${secret} `));
  if (!row || !/registry\.example:5000/.test(row) || !/\bunused\b/.test(row)) {
    throw new Error(`list did not show ${secret} on registry.example:5000 as unused:\n${stdout}`);
  }
  if (stdout.includes('FAKE-package-test-password')) throw new Error('list printed the password');
}
