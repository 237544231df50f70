// The integration-test harness: runs the built plugin (dist/kubectl-pullsecret) as a user would,
// against the real local control plane that scripts/test.sh started, with one namespace per test
// and helpers to read objects back as the admin.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api, VersionApi } from '@kubernetes/client-node';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const pluginPath = path.join(repoRoot, 'dist', 'kubectl-pullsecret');
export const clusterDir = process.env.KPS_TEST_CLUSTER_DIR ?? path.join(repoRoot, '.cluster');
export const adminKubeconfig = path.join(clusterDir, 'kubeconfig');
export const restrictedKubeconfig = path.join(clusterDir, 'restricted.kubeconfig');

if (!existsSync(adminKubeconfig)) {
  throw new Error(`no local cluster at ${clusterDir}: run the tests with "npm test" (or "npm run cluster -- up" first)`);
}
if (!existsSync(pluginPath)) {
  throw new Error(`${pluginPath} is missing: run "npm run build" (npm test does)`);
}

function adminConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  return kc;
}

/** API clients acting as the cluster admin, for setting up and reading back. */
export const admin = {
  core: adminConfig().makeApiClient(CoreV1Api),
  rbac: adminConfig().makeApiClient(RbacAuthorizationV1Api),
  version: adminConfig().makeApiClient(VersionApi),
};

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Environment additions; KUBECONFIG defaults to the admin kubeconfig. */
  env?: Record<string, string | undefined>;
  stdin?: string;
  /** The executable to run instead of the plugin (e.g. kubectl for discovery tests). */
  command?: string;
  timeoutMs?: number;
}

/** Runs the plugin (or `command`) with args and collects its exit code and output. */
export function run(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: adminKubeconfig, ...options.env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  return new Promise((resolve, reject) => {
    const child = spawn(options.command ?? pluginPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

let namespaceCounter = 0;

/** Creates a fresh namespace, waits for its default ServiceAccount, and deletes it afterwards. */
export async function withNamespace<T>(prefix: string, body: (namespace: string) => Promise<T>): Promise<T> {
  const name = `${prefix}-${process.pid}-${++namespaceCounter}`.toLowerCase().slice(0, 63);
  await admin.core.createNamespace({ body: { metadata: { name } } });
  try {
    await waitFor(`ServiceAccount ${name}/default`, () =>
      admin.core.readNamespacedServiceAccount({ name: 'default', namespace: name }).then(
        () => true,
        () => false,
      ),
    );
    return await body(name);
  } finally {
    await admin.core.deleteNamespace({ name }).catch(() => undefined);
  }
}

/** Polls until check() is true, bounded. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A temporary directory removed when the returned cleanup runs. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'kps-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
