// The integration-test harness: runs the built plugin (dist/kubectl-pullsecret) as a user would,
// against the real local control plane that scripts/test.sh started, with one namespace per test
// and helpers to read objects back as the admin.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  VersionApi,
  setHeaderOptions,
  type V1Pod,
  type V1PolicyRule,
  type V1Secret,
  type V1ServiceAccount,
} from '@kubernetes/client-node';

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

// ------------------------------------------------------------------------------------------------
// Helpers for the add/list/remove tests (reading objects back as the admin, fixtures).

/** `error: ...` on one line of stderr, matching pattern, without a stack trace. */
export function assertOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got:\n${stderr}`);
  if (!/^error: /.test(lines[0]!)) throw new Error(`expected stderr to start with "error: ", got:\n${stderr}`);
  if (!pattern.test(lines[0]!)) throw new Error(`expected stderr to match ${pattern}, got:\n${stderr}`);
  if (/\n\s+at /.test(stderr)) throw new Error(`stack trace on stderr:\n${stderr}`);
}

/** A Secret read as admin, or undefined when it does not exist. */
export async function readSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await admin.core.readNamespacedSecret({ name, namespace });
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw error;
  }
}

/** A ServiceAccount read as admin, or undefined when it does not exist. */
export async function readServiceAccount(namespace: string, name: string): Promise<V1ServiceAccount | undefined> {
  try {
    return await admin.core.readNamespacedServiceAccount({ name, namespace });
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw error;
  }
}

/** The names in a ServiceAccount's imagePullSecrets, in order ([] when there are none). */
export async function pullSecretNames(namespace: string, serviceAccount: string): Promise<string[]> {
  const sa = await readServiceAccount(namespace, serviceAccount);
  if (!sa) throw new Error(`serviceaccount ${namespace}/${serviceAccount} does not exist`);
  return (sa.imagePullSecrets ?? []).map((ref) => ref.name ?? '');
}

/** The decoded `.dockerconfigjson` of a Secret as a string (exact bytes, UTF-8). */
export function dockerConfigJsonOf(secret: V1Secret | undefined): string {
  const encoded = secret?.data?.['.dockerconfigjson'];
  if (encoded === undefined) throw new Error(`secret ${secret?.metadata?.name ?? '(missing)'} has no .dockerconfigjson`);
  return Buffer.from(encoded, 'base64').toString('utf8');
}

/** The raw `.dockerconfigjson` bytes of a Secret. */
export function dockerConfigJsonBytes(secret: V1Secret | undefined): Buffer {
  return Buffer.from(dockerConfigJsonOf(secret), 'utf8');
}

export interface KubectlLogin {
  server?: string;
  username: string;
  password: string;
  email?: string;
}

/**
 * The `.dockerconfigjson` bytes that the real `kubectl create secret docker-registry` produces for
 * the same input (client dry run: nothing is sent to the cluster).
 */
export async function kubectlDockerConfigJson(login: KubectlLogin): Promise<Buffer> {
  const args = ['create', 'secret', 'docker-registry', 'kubectl-reference', '--kubeconfig', adminKubeconfig,
    `--docker-username=${login.username}`, `--docker-password=${login.password}`];
  if (login.server !== undefined) args.push(`--docker-server=${login.server}`);
  if (login.email !== undefined) args.push(`--docker-email=${login.email}`);
  args.push('--dry-run=client', '-o', 'json');
  const result = await run(args, { command: 'kubectl' });
  if (result.code !== 0) throw new Error(`kubectl create secret docker-registry failed: ${result.stderr}`);
  const secret = JSON.parse(result.stdout) as V1Secret;
  return Buffer.from(secret.data!['.dockerconfigjson']!, 'base64');
}

/** A dockerconfigjson Secret created as admin, with the content given (not managed by the plugin). */
export async function createDockerConfigSecret(
  namespace: string,
  name: string,
  content: string | object,
  extra: { labels?: Record<string, string>; annotations?: Record<string, string>; type?: string } = {},
): Promise<V1Secret> {
  const text = typeof content === 'string' ? content : JSON.stringify(content);
  const type = extra.type ?? 'kubernetes.io/dockerconfigjson';
  const key = type === 'kubernetes.io/dockercfg' ? '.dockercfg' : '.dockerconfigjson';
  return admin.core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name, ...(extra.labels ? { labels: extra.labels } : {}), ...(extra.annotations ? { annotations: extra.annotations } : {}) },
      type,
      data: { [key]: Buffer.from(text, 'utf8').toString('base64') },
    },
  });
}

/** A ServiceAccount created as admin, optionally with imagePullSecrets. */
export async function createServiceAccount(namespace: string, name: string, imagePullSecrets?: string[]): Promise<V1ServiceAccount> {
  return admin.core.createNamespacedServiceAccount({
    namespace,
    body: { metadata: { name }, ...(imagePullSecrets ? { imagePullSecrets: imagePullSecrets.map((n) => ({ name: n })) } : {}) },
  });
}

/** Replaces a ServiceAccount's imagePullSecrets as admin (a JSON patch, whole list). */
export async function setPullSecrets(namespace: string, serviceAccount: string, names: string[]): Promise<V1ServiceAccount> {
  return admin.core.patchNamespacedServiceAccount(
    { name: serviceAccount, namespace, body: [{ op: 'add', path: '/imagePullSecrets', value: names.map((n) => ({ name: n })) }] },
    setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
  );
}

/** A Pod created as admin (no nodes exist: it stays Pending, which is all these tests need). */
export async function createPod(
  namespace: string,
  name: string,
  options: { serviceAccount?: string; imagePullSecrets?: string[]; image?: string } = {},
): Promise<V1Pod> {
  return admin.core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name },
      spec: {
        ...(options.serviceAccount ? { serviceAccountName: options.serviceAccount } : {}),
        ...(options.imagePullSecrets ? { imagePullSecrets: options.imagePullSecrets.map((n) => ({ name: n })) } : {}),
        containers: [{ name: 'app', image: options.image ?? 'registry.example/app:1' }],
      },
    },
  });
}

/**
 * Binds a Role with these rules to the user "restricted" in namespace, and waits until the
 * binding is in effect (RBAC is served from an informer cache) using `probe` as the restricted user.
 */
export async function grantRestricted(namespace: string, rules: V1PolicyRule[], probe: string[]): Promise<void> {
  await admin.rbac.createNamespacedRole({ namespace, body: { metadata: { name: 'restricted-test-role' }, rules } });
  await admin.rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'restricted-test-binding' },
      subjects: [{ kind: 'User', name: 'restricted', apiGroup: 'rbac.authorization.k8s.io' }],
      roleRef: { kind: 'Role', name: 'restricted-test-role', apiGroup: 'rbac.authorization.k8s.io' },
    },
  });
  await waitFor('the RoleBinding to take effect', async () => {
    const result = await run(['auth', 'can-i', ...probe, '-n', namespace, '--kubeconfig', restrictedKubeconfig], { command: 'kubectl' });
    return result.stdout.trim() === 'yes';
  });
}

/**
 * Writes an executable `docker-credential-<name>` into dir implementing `get` of the Docker
 * credential-helper protocol for the servers given; any other server is "credentials not found".
 * Each call appends the server it was asked about to dir/<name>.calls.
 */
export function fakeCredentialHelper(dir: string, name: string, entries: Record<string, { username: string; secret: string }>): string {
  const cases = Object.entries(entries)
    .map(([server, creds]) => {
      const json = JSON.stringify({ ServerURL: server, Username: creds.username, Secret: creds.secret });
      return `  ${shellQuote(server)}) printf '%s\\n' ${shellQuote(json)} ;;`;
    })
    .join('\n');
  const file = path.join(dir, `docker-credential-${name}`);
  const script = `#!/bin/sh
[ "$1" = get ] || { echo "unsupported: $1" >&2; exit 1; }
server=$(cat)
printf '%s\\n' "$server" >> ${shellQuote(path.join(dir, `${name}.calls`))}
case "$server" in
${cases}
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;
  writeFileSync(file, script);
  chmodSync(file, 0o755);
  return file;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A namespace made without waiting for anything, deleted afterwards (best effort). */
export async function withBareNamespace<T>(prefix: string, body: (namespace: string) => Promise<T>): Promise<T> {
  const name = `${prefix}-${process.pid}-${++namespaceCounter}`.toLowerCase().slice(0, 63);
  await admin.core.createNamespace({ body: { metadata: { name } } });
  try {
    return await body(name);
  } finally {
    await admin.core.deleteNamespace({ name }).catch(() => undefined);
  }
}

/** A namespace name unique to this run, for namespaces a test creates itself. */
export function uniqueNamespaceName(prefix: string): string {
  return `${prefix}-${process.pid}-${++namespaceCounter}`.toLowerCase().slice(0, 63);
}
