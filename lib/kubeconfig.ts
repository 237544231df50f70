// Kubeconfig resolution with kubectl's rules. client-node's loadFromDefault differs from kubectl
// on every point that matters here (the last current-context wins, duplicate names throw, a
// missing file throws, and with no config it silently talks to localhost:8080), so the files are
// merged here and only the result is handed to the client.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';
import { KubeConfig, type Cluster, type Context, type User } from '@kubernetes/client-node';
import { CliError, UsageError, oneLine } from './errors';

/** The kubectl connection flags, as the user gave them. */
export interface ConnectionFlags {
  kubeconfig?: string;
  context?: string;
  cluster?: string;
  user?: string;
  namespace?: string;
  insecureSkipTlsVerify?: boolean;
}

/** Where the configuration came from, for messages. */
export type ConfigSource =
  | { kind: 'files'; files: string[] }
  | { kind: 'in-cluster' };

export interface ResolvedConfig {
  /** A KubeConfig holding exactly the selected context as its current one. */
  kubeConfig: KubeConfig;
  contextName: string;
  /** The namespace to work in: -n, else the context's, else `default`. */
  namespace: string;
  /** Whether the namespace came from -n (kubectl reports unknown namespaces differently then). */
  namespaceFromFlag: boolean;
  server: string;
  source: ConfigSource;
}

/** What resolution reads from the process, injectable for tests. */
export interface ResolveEnvironment {
  env: NodeJS.ProcessEnv;
  home: string;
  /** Root of the in-cluster service-account files (tests point it at a temp dir). */
  serviceAccountDir: string;
}

export const defaultEnvironment = (): ResolveEnvironment => ({
  env: process.env,
  home: homedir(),
  serviceAccountDir: '/var/run/secrets/kubernetes.io/serviceaccount',
});

interface MergedConfig {
  clusters: Cluster[];
  users: User[];
  contexts: Context[];
  currentContext: string;
}

/** The kubeconfig files to read, in priority order, and whether each was named explicitly. */
export function kubeconfigFiles(flags: ConnectionFlags, environment: ResolveEnvironment): string[] {
  if (flags.kubeconfig !== undefined) {
    if (flags.kubeconfig === '') throw new UsageError('--kubeconfig needs a file name');
    if (!existsSync(flags.kubeconfig)) {
      throw new UsageError(`kubeconfig file "${flags.kubeconfig}" does not exist (from --kubeconfig)`);
    }
    return [flags.kubeconfig];
  }
  const fromEnv = environment.env.KUBECONFIG;
  if (fromEnv !== undefined && fromEnv !== '') {
    // kubectl skips missing files in KUBECONFIG and de-duplicates repeated paths.
    const seen = new Set<string>();
    return fromEnv
      .split(path.delimiter)
      .filter((file) => file !== '' && !seen.has(file) && (seen.add(file), true))
      .filter((file) => existsSync(file));
  }
  const home = path.join(environment.home, '.kube', 'config');
  return existsSync(home) ? [home] : [];
}

function loadFile(file: string): MergedConfig {
  try {
    if (statSync(file).isDirectory()) throw new Error('is a directory');
    const text = readFileSync(file, 'utf8');
    const kc = new KubeConfig();
    // An empty file is an empty config to kubectl.
    if (text.trim() !== '') kc.loadFromString(text);
    // Relative certificate and key paths are relative to the file that names them.
    kc.makePathsAbsolute(path.dirname(path.resolve(file)));
    return {
      clusters: kc.clusters,
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext ?? '',
    };
  } catch (error) {
    throw new UsageError(`cannot load kubeconfig "${file}": ${oneLine(error)}`);
  }
}

/** Merges kubeconfig files like kubectl: the first file to define a name, or a current context, wins. */
export function mergeKubeconfigs(files: string[]): MergedConfig {
  const merged: MergedConfig = { clusters: [], users: [], contexts: [], currentContext: '' };
  const firstWins = <T extends { name: string }>(into: T[], from: T[]) => {
    for (const item of from) if (!into.some((existing) => existing.name === item.name)) into.push(item);
  };
  for (const file of files) {
    const config = loadFile(file);
    firstWins(merged.clusters, config.clusters);
    firstWins(merged.users, config.users);
    firstWins(merged.contexts, config.contexts);
    if (merged.currentContext === '') merged.currentContext = config.currentContext;
  }
  return merged;
}

function inClusterConfig(environment: ResolveEnvironment): KubeConfig | undefined {
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = environment.env;
  const tokenFile = path.join(environment.serviceAccountDir, 'token');
  if (!host || !port || !existsSync(tokenFile)) return undefined;
  // Like client-node's loadFromCluster, but from the environment we were given (testable).
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(
    { name: 'in-cluster', server, caFile: path.join(environment.serviceAccountDir, 'ca.crt'), skipTLSVerify: false },
    { name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile } } },
  );
  return kc;
}

function readInClusterNamespace(environment: ResolveEnvironment): string {
  try {
    return readFileSync(path.join(environment.serviceAccountDir, 'namespace'), 'utf8').trim() || 'default';
  } catch {
    return 'default';
  }
}

/** Resolves the connection like kubectl: files, then in-cluster, else a clear error. */
export function resolveConfig(
  flags: ConnectionFlags,
  environment: ResolveEnvironment = defaultEnvironment(),
): ResolvedConfig {
  if (flags.namespace === '') throw new UsageError('--namespace needs a value');
  const files = kubeconfigFiles(flags, environment);

  if (files.length === 0) {
    const inCluster = inClusterConfig(environment);
    if (!inCluster) {
      throw new CliError(
        'no Kubernetes configuration found: set KUBECONFIG, pass --kubeconfig FILE, or create ~/.kube/config',
      );
    }
    if (flags.context || flags.cluster || flags.user) {
      throw new UsageError('--context, --cluster and --user need a kubeconfig; none was found (running in-cluster)');
    }
    const cluster = inCluster.getCurrentCluster()!;
    if (flags.insecureSkipTlsVerify) inCluster.clusters = [{ ...cluster, skipTLSVerify: true }];
    return {
      kubeConfig: inCluster,
      contextName: inCluster.currentContext,
      namespace: flags.namespace ?? readInClusterNamespace(environment),
      namespaceFromFlag: flags.namespace !== undefined,
      server: cluster.server,
      source: { kind: 'in-cluster' },
    };
  }

  const merged = mergeKubeconfigs(files);
  const where = files.length === 1 ? `kubeconfig "${files[0]}"` : `KUBECONFIG (${files.join(path.delimiter)})`;
  const contextName = flags.context ?? merged.currentContext;
  let context: Context | undefined;
  if (contextName) {
    context = merged.contexts.find((c) => c.name === contextName);
    if (!context) {
      const known = merged.contexts.map((c) => c.name).join(', ') || 'none';
      throw new UsageError(`context "${contextName}" does not exist in ${where} (contexts: ${known})`);
    }
  } else if (!flags.cluster || !flags.user) {
    throw new UsageError(`no current context is set in ${where}: pass --context NAME or run kubectl config use-context NAME`);
  }

  const clusterName = flags.cluster ?? context?.cluster ?? '';
  const userName = flags.user ?? context?.user ?? '';
  const cluster = merged.clusters.find((c) => c.name === clusterName);
  if (!cluster) {
    throw new UsageError(`cluster "${clusterName}" does not exist in ${where}${flags.cluster ? ' (from --cluster)' : ''}`);
  }
  if (!cluster.server) throw new UsageError(`cluster "${clusterName}" in ${where} has no server`);
  // kubectl allows a context without a user (anonymous); client-node wants one, so give it an empty one.
  let user: User = { name: 'anonymous' };
  if (userName) {
    const found = merged.users.find((u) => u.name === userName);
    if (!found) {
      const from = flags.user ? ' (from --user)' : ` (named by context "${contextName}")`;
      throw new UsageError(`user "${userName}" does not exist in ${where}${from}`);
    }
    user = found;
  }

  const effective: Context = {
    name: contextName || 'command-line',
    cluster: cluster.name,
    user: user.name,
    ...(context?.namespace ? { namespace: context.namespace } : {}),
  };
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [flags.insecureSkipTlsVerify ? { ...cluster, skipTLSVerify: true } : cluster],
    users: [user],
    contexts: [effective],
    currentContext: effective.name,
  });
  return {
    kubeConfig,
    contextName: effective.name,
    namespace: flags.namespace ?? (context?.namespace || 'default'),
    namespaceFromFlag: flags.namespace !== undefined,
    server: cluster.server,
    source: { kind: 'files', files },
  };
}
