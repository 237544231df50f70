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
  AppsV1Api,
  BatchV1Api,
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
    trackPluginOutput(args, options, () => ({ stdout, stderr }));
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

/**
 * The integration tests check API objects, not pulls: their pods name registries that do not
 * exist and some carry statuses the tests set themselves. The PodNodeSelector admission plugin
 * gives every pod in their namespaces a node selector that the local node does not match, so
 * those pods stay Pending, unscheduled, as they were before the cluster had a node (the e2e
 * tests in tests/e2e make namespaces of their own, whose pods run).
 */
export const OFF_NODE_ANNOTATIONS = { 'scheduler.alpha.kubernetes.io/node-selector': 'kubectl-pullsecret.test/no-node=true' };

/** Creates a namespace for an integration test: its pods are never scheduled (see OFF_NODE_ANNOTATIONS). */
export async function createNamespace(
  name: string,
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
): Promise<void> {
  await admin.core.createNamespace({
    body: { metadata: { ...metadata, name, annotations: { ...OFF_NODE_ANNOTATIONS, ...metadata.annotations } } },
  });
}

/** Creates a fresh namespace, waits for its default ServiceAccount, and deletes it afterwards. */
export async function withNamespace<T>(prefix: string, body: (namespace: string) => Promise<T>): Promise<T> {
  const name = `${prefix}-${process.pid}-${++namespaceCounter}`.toLowerCase().slice(0, 63);
  await createNamespace(name);
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

/**
 * stderr of a run in which some changes failed, as kubectl reports them: one `error:` line per
 * object that failed (matching `failures`, in any order, and nothing else), then the summary
 * line. A run of one change has only the summary line, which is that failure.
 */
export function assertFailureReport(stderr: string, summary: RegExp, failures: RegExp[] = []): void {
  if (/\n\s+at /.test(stderr)) throw new Error(`stack trace on stderr:\n${stderr}`);
  const lines = stderr.trimEnd().split('\n');
  const bad = lines.find((line) => !line.startsWith('error: '));
  if (bad !== undefined) throw new Error(`expected only "error: " lines on stderr, got:\n${stderr}`);
  if (!summary.test(lines[lines.length - 1]!)) throw new Error(`expected stderr to end with ${summary}, got:\n${stderr}`);
  const objects = lines.slice(0, -1);
  if (objects.length !== failures.length) throw new Error(`expected ${failures.length} failed-object lines before the summary, got:\n${stderr}`);
  for (const failure of failures) {
    if (!objects.some((line) => failure.test(line))) throw new Error(`expected a line on stderr matching ${failure}, got:\n${stderr}`);
  }
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

/** A Pod created as admin (in a test namespace it is never scheduled: it stays Pending, which is all these tests need). */
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
  for (const creds of Object.values(entries)) rememberSecret(creds.secret, [creds.username]);
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
  await createNamespace(name);
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

// ------------------------------------------------------------------------------------------------
// Helpers for the doctor tests: workloads, and pull failures set through the pods/status
// subresource (there is no kubelet: the API server takes the status as a kubelet would send it).

/** API clients for workloads, acting as the cluster admin. */
export const adminWorkloads = {
  apps: adminConfig().makeApiClient(AppsV1Api),
  batch: adminConfig().makeApiClient(BatchV1Api),
};

/** Marks containers of a pod as failing to pull (ImagePullBackOff unless `reason` says otherwise). */
export async function setPullFailure(namespace: string, pod: string, containers: string[], reason = 'ImagePullBackOff'): Promise<V1Pod> {
  const current = await admin.core.readNamespacedPod({ name: pod, namespace });
  const images = new Map((current.spec?.containers ?? []).map((c) => [c.name, c.image ?? '']));
  const containerStatuses = containers.map((name) => ({
    name,
    image: images.get(name) ?? '',
    imageID: '',
    ready: false,
    restartCount: 0,
    state: { waiting: { reason, message: `Back-off pulling image "${images.get(name)}"` } },
  }));
  return admin.core.patchNamespacedPodStatus(
    { name: pod, namespace, body: { status: { phase: 'Pending', containerStatuses } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

/** Runs a shell command line (a `fix:` that doctor printed) with the built plugin on PATH. */
export function runShell(commandLine: string, options: { stdin?: string } = {}): Promise<RunResult> {
  return run(['-c', commandLine], {
    command: 'sh',
    env: { PATH: `${path.dirname(pluginPath)}:${process.env.PATH ?? ''}` },
    ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
  });
}

// ------------------------------------------------------------------------------------------------
// Helpers for the sync tests: long-running plugin processes (--watch), the API server's own
// request counters, stopping and starting control-plane components, namespaces with labels, and
// kubeconfigs that act as a ServiceAccount (a TokenRequest token).
// (An import here rather than at the top, so that this section stays purely additive.)
import { readFileSync } from 'node:fs';

/**
 * Runs `cluster.sh stop|start COMPONENT` on the cluster the tests use (KPS_CLUSTER_DIR=clusterDir).
 * `stop` also waits until the process is really gone (reaped): `cluster.sh start` checks with
 * `kill -0`, which a not-yet-reaped process still passes, and would then not start it again.
 */
export async function clusterCommand(action: 'stop' | 'start', component: string, timeoutMs = 120_000): Promise<void> {
  const pidFile = path.join(clusterDir, `${component}.pid`);
  const pid = action === 'stop' && existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : undefined;
  await clusterScript(action, component, timeoutMs);
  if (pid) {
    await waitFor(`${component} (pid ${pid}) to be gone`, async () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
  }
}

function clusterScript(action: 'stop' | 'start', component: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(repoRoot, 'scripts', 'cluster', 'cluster.sh'), action, component], {
      env: { ...process.env, KPS_CLUSTER_DIR: clusterDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`cluster.sh ${action} ${component} failed (exit ${code}):\n${output}`));
    });
  });
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A plugin process that keeps running (sync --watch), its stdout collected line by line. */
export interface PluginProcess {
  readonly pid: number;
  /** Complete stdout lines so far. */
  readonly lines: string[];
  /** Everything on stderr so far. */
  stderr(): string;
  /** Its exit, once it happened. */
  exited(): ProcessExit | undefined;
  readonly exit: Promise<ProcessExit>;
  /**
   * The first stdout line at index >= from matching pattern, bounded; fails at once if the
   * process exits first.
   */
  waitForLine(pattern: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  /** Sends signal (default SIGTERM), waits for the exit, SIGKILL after timeoutMs. Safe to call twice. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ProcessExit>;
}

/** Starts the plugin with args (KUBECONFIG defaults to the admin kubeconfig) without waiting for it. */
export function startPlugin(args: string[], options: { env?: Record<string, string | undefined> } = {}): PluginProcess {
  // A controller serves /metrics and probes on :8080 and :8081 unless told otherwise: tests run
  // several at once, so each gets free loopback ports (it logs them) unless the test chose.
  if (args.includes('--watch') && !args.includes('--print-manifests')) {
    for (const flag of ['--metrics-bind-address', '--health-probe-bind-address']) {
      if (!args.some((arg) => arg === flag || arg.startsWith(`${flag}=`))) args = [...args, flag, '127.0.0.1:0'];
    }
  }
  const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: adminKubeconfig, ...options.env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  const child = spawn(pluginPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  let exitInfo: ProcessExit | undefined;
  trackPluginOutput(args, {}, () => ({ stdout: [...lines, partial].join('\n'), stderr }));
  child.stdout.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exit = new Promise<ProcessExit>((resolve) => {
    child.on('close', (code, signal) => {
      if (partial) lines.push(partial);
      partial = '';
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    child.on('error', (error) => {
      stderr += `spawn failed: ${error.message}\n`;
      exitInfo = { code: null, signal: null };
      resolve(exitInfo);
    });
  });
  const describe = () => `stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`;
  return {
    pid: child.pid ?? -1,
    lines,
    stderr: () => stderr,
    exited: () => exitInfo,
    exit,
    async waitForLine(pattern, timeoutMs = 10_000, from = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.slice(from).find((line) => pattern.test(line));
        if (found !== undefined) return found;
        if (exitInfo) throw new Error(`the plugin exited (code ${exitInfo.code}, signal ${exitInfo.signal}) before printing ${pattern}\n${describe()}`);
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for a line matching ${pattern}\n${describe()}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000) {
      if (exitInfo) return exitInfo;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exit;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * The API server's own request counter (apiserver_request_total from /metrics, read as admin),
 * summed over response codes: `VERB resource` → count, e.g. `LIST secrets`, `PATCH serviceaccounts`.
 * It counts every client's requests, so compare before/after a run while nothing else writes.
 */
export async function apiRequestCounts(): Promise<Map<string, number>> {
  const result = await run(['get', '--raw', '/metrics', '--kubeconfig', adminKubeconfig], { command: 'kubectl' });
  if (result.code !== 0) throw new Error(`kubectl get --raw /metrics failed: ${result.stderr}`);
  const counts = new Map<string, number>();
  for (const line of result.stdout.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const close = line.lastIndexOf('}');
    const labels = Object.fromEntries([...line.slice(0, close).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const value = Number(line.slice(close + 1).trim());
    const resource = labels.subresource ? `${labels.resource}/${labels.subresource}` : labels.resource;
    const key = `${labels.verb} ${resource}`;
    counts.set(key, (counts.get(key) ?? 0) + value);
  }
  return counts;
}

/** The counters that moved between two apiRequestCounts() readings. */
export function requestDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [key, value] of after) {
    const moved = value - (before.get(key) ?? 0);
    if (moved !== 0) delta.set(key, moved);
  }
  return delta;
}

/**
 * Creates a namespace with these labels/annotations (name unique to this run) and, unless told
 * not to, waits for the controller manager to create its `default` ServiceAccount. The caller
 * deletes it (deleteNamespaces).
 */
export async function createTestNamespace(
  prefix: string,
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
  options: { waitForDefault?: boolean } = {},
): Promise<string> {
  const name = uniqueNamespaceName(prefix);
  await createNamespace(name, metadata);
  if (options.waitForDefault !== false) {
    await waitFor(`ServiceAccount ${name}/default`, () => readServiceAccount(name, 'default').then((sa) => sa !== undefined));
  }
  return name;
}

/** Deletes namespaces (best effort, not waiting for them to go). */
export async function deleteNamespaces(names: Iterable<string>): Promise<void> {
  await Promise.all([...names].map((name) => admin.core.deleteNamespace({ name }).catch(() => undefined)));
}

/**
 * A kubeconfig file in dir acting as ServiceAccount namespace/name: a token from the TokenRequest
 * API, the server and CA of the admin kubeconfig.
 */
export async function serviceAccountKubeconfig(dir: string, namespace: string, name: string, expirationSeconds = 3600): Promise<string> {
  const request = await admin.core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds } },
  });
  const token = request.status?.token;
  if (!token) throw new Error(`no token for serviceaccount ${namespace}/${name}`);
  const cluster = adminConfig().getCurrentCluster()!;
  if (!cluster.caData) throw new Error('the admin kubeconfig has no certificate-authority-data');
  const file = path.join(dir, `${namespace}-${name}.kubeconfig`);
  const user = `${namespace}-${name}`;
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: test',
      '  cluster:',
      `    server: ${cluster.server}`,
      `    certificate-authority-data: ${cluster.caData}`,
      'contexts:',
      '- name: test',
      `  context: {cluster: test, user: ${user}}`,
      'current-context: test',
      'users:',
      `- name: ${user}`,
      '  user:',
      `    token: ${token}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return file;
}

// ------------------------------------------------------------------------------------------------
// Helpers for the --verify tests: a CA made here, and the CNCF distribution registry (Debian's
// `docker-registry`) on 127.0.0.1 with htpasswd or token authentication. Every registry started
// is stopped by stopRegistries() (and, as a last resort, when the test process exits).
// (Imports here rather than at the top, so that this section stays purely additive.)
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';

/** A command the tests need; missing is a failure with the way to install it, never a skip. */
export function requireCommand(command: string, debianPackage: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${command} is not installed: apt-get install -y ${debianPackage} (.ci/run installs it)`);
  }
}

export interface TestPki {
  caFile: string;
  ca: string;
  /** A certificate for 127.0.0.1 and localhost, signed by the CA, and its key. */
  certFile: string;
  keyFile: string;
  key: string;
  /** The certificate as DER in base64, as a JWT x5c header carries it. */
  certDerBase64: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1, made with openssl in dir. */
export function makeTestPki(dir: string): TestPki {
  requireCommand('openssl', 'openssl');
  const file = (name: string) => path.join(dir, name);
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=kubectl-pullsecret test CA']);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext']);
  const der = openssl(['x509', '-in', 'server.crt', '-outform', 'DER']);
  return {
    caFile: file('ca.crt'),
    ca: readFileSync(file('ca.crt'), 'utf8'),
    certFile: file('server.crt'),
    keyFile: file('server.key'),
    key: readFileSync(file('server.key'), 'utf8'),
    certDerBase64: der.toString('base64'),
  };
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export type RegistryAuth =
  | { htpasswd: Record<string, string> }
  | { token: { realm: string; service: string; issuer: string; rootCertFile: string } };

export interface TestRegistry {
  /** `127.0.0.1:PORT`, as a pull-secret key. */
  host: string;
  port: number;
  logFile: string;
  stop: () => Promise<void>;
}

const runningRegistries = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of runningRegistries) child.kill('SIGKILL');
});

/**
 * Starts `docker-registry serve` on 127.0.0.1 with TLS from pki (plain HTTP without it). The
 * configuration binds only to 127.0.0.1 and leaves out everything that could reach the network:
 * no notifications, proxy (pull-through), redis, reporting or debug server.
 */
export async function startRegistry(dir: string, auth: RegistryAuth, pki?: TestPki): Promise<TestRegistry> {
  const binary = requireCommand('docker-registry', 'docker-registry');
  const port = await freePort();
  const authConfig = 'htpasswd' in auth
    ? (() => {
        requireCommand('htpasswd', 'apache2-utils');
        const lines = Object.entries(auth.htpasswd).map(([user, password]) =>
          // bcrypt (-B), the only hash the registry accepts; the password goes through stdin (-i).
          execFileSync('htpasswd', ['-Bni', user], { input: password, encoding: 'utf8' }).trim());
        writeFileSync(path.join(dir, 'htpasswd'), `${lines.join('\n')}\n`);
        return ['  htpasswd:', '    realm: kubectl-pullsecret-test', `    path: ${path.join(dir, 'htpasswd')}`];
      })()
    : ['  token:', `    realm: ${auth.token.realm}`, `    service: ${auth.token.service}`, `    issuer: ${auth.token.issuer}`, `    rootcertbundle: ${auth.token.rootCertFile}`];
  const config = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'storage')}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
    ...(pki ? ['  tls:', `    certificate: ${pki.certFile}`, `    key: ${pki.keyFile}`] : []),
    'health:',
    '  storagedriver:',
    '    enabled: false',
    'auth:',
    ...authConfig,
    '',
  ].join('\n');
  const configFile = path.join(dir, 'registry.yml');
  writeFileSync(configFile, config);
  const logFile = path.join(dir, 'registry.log');
  const child = spawn(binary, ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  runningRegistries.add(child);
  let log = '';
  const collect = (chunk: Buffer) => {
    log += chunk;
    writeFileSync(logFile, log);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));

  const stop = async () => {
    if (!runningRegistries.has(child)) return;
    runningRegistries.delete(child);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    await waitFor(`the registry on 127.0.0.1:${port} to answer`, async () => {
      if (child.exitCode !== null) throw new Error(`docker-registry exited with code ${child.exitCode}:\n${log}`);
      return (await probeStatus(port, pki)) !== undefined;
    }, 20_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { host: `127.0.0.1:${port}`, port, logFile, stop };
}

/** The status of GET /v2/ on 127.0.0.1:port, or undefined while nothing answers. */
function probeStatus(port: number, pki?: TestPki): Promise<number | undefined> {
  return new Promise((resolve) => {
    const options = { host: '127.0.0.1', port, path: '/v2/', timeout: 1000, ...(pki ? { ca: pki.ca } : {}) };
    const request = (pki ? httpsRequest : httpRequest)(options, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('error', () => resolve(undefined));
    request.on('timeout', () => request.destroy());
    request.end();
  });
}

/** Stops every registry the tests started (for an after() hook). */
export async function stopRegistries(): Promise<void> {
  await Promise.all([...runningRegistries].map((child) => {
    runningRegistries.delete(child);
    child.kill('SIGTERM');
    return new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.on('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }));
}

// ------------------------------------------------------------------------------------------------
// Secrets never leak: every password the tests give the plugin is remembered (stdin of
// --password-stdin runs, here; docker configs and credential helpers through rememberSecret and
// fakeCredentialHelper), every plugin run's output is recorded (run, runShell, startPlugin), and
// at the end of every test file that imports this harness an after() hook scans all of it (see
// leak-scan.ts; Secret data in `add|sync|remove -o yaml|json` is the one allowed place).
// (Imports here rather than at the top, so that this section stays purely additive.)
import { after } from 'node:test';
import { LeakScanner, type Leak, type PluginOutput } from './leak-scan';

/** The scanner of this test file (one process per file). */
export const leakScanner = new LeakScanner();

/** Remembers a password the plugin is given outside stdin (a docker config, a helper's answer). */
export function rememberSecret(value: string, usernames: string[] = []): void {
  leakScanner.remember(value, usernames);
}

/** Records output as a plugin run's, for the scanner's own test; returns the function that forgets it. */
export function recordPluginOutput(argv: string[], output: PluginOutput): () => void {
  return leakScanner.record({ argv, read: () => output });
}

/** Scans everything recorded so far (the after() hook does this at the end of every file). */
export function scanForLeaks(): Leak[] {
  return leakScanner.scan();
}

/** Called by run() and startPlugin(): records the plugin's output, and remembers a --password-stdin password. */
function trackPluginOutput(args: string[], options: { command?: string; stdin?: string }, read: () => PluginOutput): void {
  const words = args.flatMap((arg) => arg.split(/\s+/));
  const plugin = options.command === undefined || (options.command === 'sh' && words.some((word) => /pullsecret$/.test(word)));
  if (!plugin) return;
  if (options.stdin !== undefined && words.includes('--password-stdin')) {
    const usernames = words.flatMap((word, i) =>
      word === '--username' ? [words[i + 1] ?? ''] : word.startsWith('--username=') ? [word.slice('--username='.length)] : []);
    // As the plugin reads it: one trailing newline dropped.
    leakScanner.remember(options.stdin.replace(/\r?\n$/, ''), usernames);
  }
  leakScanner.record({ argv: options.command === undefined ? args : [options.command, ...args], read });
}

after(() => {
  const leaks = leakScanner.scan();
  if (leaks.length > 0) throw new Error(leakScanner.format(leaks));
  process.stderr.write(
    `leak scan: ${leakScanner.runCount} plugin runs checked for ${leakScanner.scannedPasswords().length} passwords: no leak\n`,
  );
});

// ------------------------------------------------------------------------------------------------
// A namespace held in Terminating: deleted while a ConfigMap with a finalizer keeps it from going.

/** Deletes namespace (which must exist) and waits until it is Terminating, held by a finalizer. */
export async function holdTerminating(namespace: string): Promise<void> {
  await admin.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'hold', finalizers: ['kubectl-pullsecret.test/hold'] } } });
  await admin.core.deleteNamespace({ name: namespace });
  await waitFor(`namespace ${namespace} to be Terminating`, async () =>
    (await admin.core.readNamespace({ name: namespace })).status?.phase === 'Terminating');
}

/** Lets a namespace held by holdTerminating go (best effort). */
export async function releaseTerminating(namespace: string): Promise<void> {
  await admin.core
    .patchNamespacedConfigMap(
      { name: 'hold', namespace, body: [{ op: 'remove', path: '/metadata/finalizers' }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    )
    .catch(() => undefined);
}

// ------------------------------------------------------------------------------------------------
// Outcomes every verb test checks the same way.

/** The run exited 0; otherwise the failure shows both streams. */
export function assertOk(result: RunResult, what = 'command'): void {
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
}

/** A source: `add NAME -n home` from a login (password on stdin), read back as admin. */
export async function addLoginSource(name: string, home: string, server: string, password: string, extra: string[] = []): Promise<V1Secret> {
  const result = await run(['add', name, '-n', home, '--server', server, '--username', 'ci', '--password-stdin', ...extra], {
    stdin: `${password}\n`,
  });
  assertOk(result, `add ${name} -n ${home}`);
  return (await readSecret(home, name))!;
}

/** Undoes everything done for NAME in the cluster (sources, copies, references). */
export async function removeEverywhere(name: string): Promise<void> {
  assertOk(await run(['remove', name, '-A']), `remove ${name} -A`);
}
