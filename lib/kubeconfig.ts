// Kubeconfig resolution with kubectl's rules. client-node's loadFromDefault differs from kubectl
// on every point that matters here (the last current-context wins, duplicate names throw, a
// missing file throws, and with no config it silently talks to localhost:8080), so the files are
// read and merged here. The entries keep client-node's shapes, so lib/client can hand the result
// to the generated client; but nothing here loads client-node, whose import alone costs tens of
// milliseconds at every start of a command that only reads (see lib/connect).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Cluster, Context, User } from '@kubernetes/client-node';
import { load as loadYaml } from 'js-yaml';
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
  /** The selected cluster, with file paths made absolute. */
  cluster: Cluster;
  /** The selected user (`anonymous`, with no credentials, when the context names none). */
  user: User;
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

type Entry = Record<string, unknown> | undefined;
const entries = (value: unknown): Entry[] => (Array.isArray(value) ? value : []);
/** A string field; YAML reads an unquoted `password: 1234` as a number, kubectl as the string. */
const text = (value: unknown): string | undefined =>
  (typeof value === 'string' || typeof value === 'number') && value !== '' ? String(value) : undefined;

/**
 * One kubeconfig file's entries, checked as client-node checks them (the same messages), with
 * certificate, key and token-file paths made relative to the file that names them.
 */
export function parseKubeconfig(content: string, directory: string): MergedConfig {
  // An empty file is an empty config to kubectl.
  const document = (content.trim() === '' ? {} : loadYaml(content)) as Record<string, unknown> | null;
  if (typeof document !== 'object' || document === null) throw new Error('not a kubeconfig (expected a YAML mapping)');
  const absolute = (file: unknown) => {
    const name = text(file);
    return name ? path.resolve(directory, name) : undefined;
  };
  const clusters = entries(document.clusters).map((entry, i): Cluster => {
    if (!entry?.name) throw new Error(`clusters[${i}].name is missing`);
    const cluster = entry.cluster as Entry;
    if (!cluster) throw new Error(`clusters[${i}].cluster is missing`);
    if (!cluster.server) throw new Error(`clusters[${i}].cluster.server is missing`);
    return {
      name: String(entry.name),
      server: String(cluster.server).replace(/\/$/, ''),
      caData: text(cluster['certificate-authority-data']),
      caFile: absolute(cluster['certificate-authority']),
      skipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
      tlsServerName: text(cluster['tls-server-name']),
      proxyUrl: text(cluster['proxy-url']),
    };
  });
  const users = entries(document.users).map((entry, i): User => {
    if (!entry?.name) throw new Error(`users[${i}].name is missing`);
    const user = (entry.user ?? {}) as Record<string, unknown>;
    const tokenFile = absolute(user['token-file']);
    return {
      name: String(entry.name),
      certData: text(user['client-certificate-data']),
      certFile: absolute(user['client-certificate']),
      keyData: text(user['client-key-data']),
      keyFile: absolute(user['client-key']),
      // As client-node does, a token file is read when the kubeconfig is loaded; trimmed, as kubectl does.
      token: text(user.token) ?? (tokenFile ? readFileSync(tokenFile, 'utf8').trim() : undefined),
      username: text(user.username),
      password: text(user.password),
      impersonateUser: text(user.as),
      exec: user.exec ?? undefined,
      authProvider: user['auth-provider'] ?? undefined,
    } as User;
  });
  const contexts = entries(document.contexts).map((entry, i): Context => {
    if (!entry?.name) throw new Error(`contexts[${i}].name is missing`);
    const context = entry.context as Entry;
    if (!context) throw new Error(`contexts[${i}].context is missing`);
    if (!context.cluster) throw new Error(`contexts[${i}].context.cluster is missing`);
    return { name: String(entry.name), cluster: String(context.cluster), user: text(context.user) ?? '', namespace: text(context.namespace) };
  });
  return { clusters, users, contexts, currentContext: text(document['current-context']) ?? '' };
}

function loadFile(file: string): MergedConfig {
  try {
    if (statSync(file).isDirectory()) throw new Error('is a directory');
    return parseKubeconfig(readFileSync(file, 'utf8'), path.dirname(path.resolve(file)));
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

/** The name of client-node's auth provider that re-reads a (rotated, projected) token file. */
export const TOKEN_FILE_PROVIDER = 'tokenFile';

function inClusterConfig(environment: ResolveEnvironment): { cluster: Cluster; user: User } | undefined {
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = environment.env;
  const tokenFile = path.join(environment.serviceAccountDir, 'token');
  if (!host || !port || !existsSync(tokenFile)) return undefined;
  // Like client-node's loadFromCluster, but from the environment we were given (testable).
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  return {
    cluster: { name: 'in-cluster', server, caFile: path.join(environment.serviceAccountDir, 'ca.crt'), skipTLSVerify: false },
    user: { name: 'in-cluster', authProvider: { name: TOKEN_FILE_PROVIDER, config: { tokenFile } } },
  };
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
    const { cluster, user } = inCluster;
    return {
      cluster: flags.insecureSkipTlsVerify ? { ...cluster, skipTLSVerify: true } : cluster,
      user,
      contextName: 'in-cluster',
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

  return {
    cluster: flags.insecureSkipTlsVerify ? { ...cluster, skipTLSVerify: true } : cluster,
    user,
    contextName: contextName || 'command-line',
    namespace: flags.namespace ?? (context?.namespace || 'default'),
    namespaceFromFlag: flags.namespace !== undefined,
    server: cluster.server,
    source: { kind: 'files', files },
  };
}
