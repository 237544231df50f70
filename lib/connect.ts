// The connection to the API server: kubeconfig resolution (lib/kubeconfig), API clients that
// honour --request-timeout, and the translation of every client error into one line that says
// what the user can do about it.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import {
  ApiException,
  CoreV1Api,
  ServerConfiguration,
  VersionApi,
  createConfiguration,
  type KubeConfig,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import { CliError, ExitCode, UsageError, oneLine } from './errors';
import { validateNamespaceName } from './names';
import { resolveConfig, type ConnectionFlags, type ResolveEnvironment, type ResolvedConfig } from './kubeconfig';

export interface ConnectOptions extends ConnectionFlags {
  /** kubectl's --request-timeout: "0" (none), "30", "30s", "2m", "1h". */
  requestTimeout?: string;
}

/** The resolved configuration and the API clients built from it. */
export interface Connection {
  config: ResolvedConfig;
  namespace: string;
  requestTimeoutMs: number | undefined;
  core: CoreV1Api;
  version: VersionApi;
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses kubectl's --request-timeout; undefined means no timeout. */
export function parseRequestTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  // Go durations may chain units ("1m30s"); a bare number means seconds, as in kubectl.
  const bare = /^\d+$/.test(value) ? `${value}s` : value;
  const parts = [...bare.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== bare) {
    throw new UsageError(
      `invalid --request-timeout "${value}": use a duration such as 30s, 2m or 1h, or 0 for no timeout`,
    );
  }
  const ms = parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * durationUnits[unit!]!, 0);
  return ms === 0 ? undefined : ms;
}

const TLS_OPTION_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

function sameTlsOptions(a: https.AgentOptions, b: https.AgentOptions): boolean {
  return TLS_OPTION_KEYS.every((key) => {
    const [x, y] = [a[key], b[key]];
    return Buffer.isBuffer(x) && Buffer.isBuffer(y) ? x.equals(y) : JSON.stringify(x) === JSON.stringify(y);
  });
}

/**
 * client-node builds a new https.Agent for every request, so every request pays a TLS handshake.
 * Swap it for one keep-alive agent with the same TLS options (a new one if they change, e.g.
 * when an exec plugin hands out a new client certificate); proxy agents are left alone.
 */
function keepAliveAgents() {
  let shared: { options: https.AgentOptions; agent: https.Agent } | undefined;
  const forOptions = (options: https.AgentOptions): https.Agent => {
    if (!shared || !sameTlsOptions(shared.options, options)) {
      shared?.agent.destroy();
      shared = { options, agent: new https.Agent({ ...options, keepAlive: true, maxSockets: 64 }) };
    }
    return shared.agent;
  };
  return {
    forOptions,
    /** The shared agent in place of one client-node made; undefined for proxy agents. */
    replace: (agent: unknown): https.Agent | undefined =>
      agent instanceof https.Agent && agent.constructor === https.Agent
        ? forOptions((agent as https.Agent & { options: https.AgentOptions }).options)
        : undefined,
  };
}

export function makeClient<T>(kubeConfig: KubeConfig, api: new (config: ReturnType<typeof createConfiguration>) => T, timeoutMs?: number): T {
  const cluster = kubeConfig.getCurrentCluster()!;
  const agents = keepAliveAgents();
  const timeout = {
    pre: async (context: RequestContext) => {
      // Each request gets its own deadline, so a slow or silent server fails within the timeout.
      if (timeoutMs !== undefined) context.setSignal(AbortSignal.timeout(timeoutMs));
      const agent = agents.replace(context.getAgent());
      if (agent) context.setAgent(agent);
      return context;
    },
    post: async (response: ResponseContext) => response,
  };
  return new api(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server.replace(/\/+$/, ''), {}),
      authMethods: { default: kubeConfig },
      promiseMiddleware: [timeout],
    }),
  );
}

/** Resolves the configuration like kubectl and builds the API clients; sends no request. */
export function connect(options: ConnectOptions, environment?: ResolveEnvironment): Connection {
  const requestTimeoutMs = parseRequestTimeout(options.requestTimeout);
  const config = resolveConfig(options, environment);
  // A namespace given with -n is checked like every other name: a typo gets a usage error, not an empty answer.
  if (config.namespaceFromFlag) validateNamespaceName(config.namespace);
  if (!/^https?:\/\//.test(config.server)) {
    throw new UsageError(`cluster server "${config.server}" in context "${config.contextName}" is not an http(s) URL`);
  }
  return {
    config,
    namespace: config.namespace,
    requestTimeoutMs,
    core: makeClient(config.kubeConfig, CoreV1Api, requestTimeoutMs),
    version: makeClient(config.kubeConfig, VersionApi, requestTimeoutMs),
  };
}

const rawAgents = new WeakMap<ResolvedConfig, ReturnType<typeof keepAliveAgents>>();

/**
 * A GET answered with plain JSON.parse. The generated client runs every object of a response
 * through its model deserializer, which costs more than the request itself for LISTs of
 * thousands of objects; the wide reads use this instead. Errors are ApiExceptions, like the
 * generated client's, so describeApiError reads them the same way.
 */
export async function getJson<T>(connection: Pick<Connection, 'config' | 'requestTimeoutMs'>, path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
  const { kubeConfig, server } = connection.config;
  const options: https.RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(options);
  const url = new URL(server.replace(/\/+$/, '') + path);
  for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value));
  let agents = rawAgents.get(connection.config);
  if (!agents) rawAgents.set(connection.config, (agents = keepAliveAgents()));
  // applyToHTTPSOptions made an agent for this request (a proxy agent for a proxy-url): a plain
  // HTTPS one is swapped for the shared keep-alive agent, anything else is used as it is.
  const agent = agents.replace(options.agent) ?? options.agent;
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<T>((resolve, reject) => {
    const request = transport.request(
      url,
      {
        ...options,
        agent,
        method: 'GET',
        headers: { ...options.headers, Accept: 'application/json' },
        ...(connection.requestTimeoutMs !== undefined ? { signal: AbortSignal.timeout(connection.requestTimeoutMs) } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const status = response.statusCode ?? 0;
          if (status < 200 || status > 299) {
            reject(new ApiException(status, response.statusMessage ?? '', body, response.headers as Record<string, string>));
            return;
          }
          try {
            resolve(JSON.parse(body) as T);
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    request.on('error', reject);
    request.end();
  });
}

/** A Kubernetes `Status` object, as the API server returns with errors. */
interface Status {
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string; group?: string };
}

function parseStatus(body: unknown): Status | undefined {
  if (typeof body === 'object' && body !== null) return body as Status;
  if (typeof body !== 'string') return undefined;
  try {
    return JSON.parse(body) as Status;
  } catch {
    return undefined;
  }
}

/** The `kubectl auth can-i` command that confirms a forbidden message, if the message names it. */
export function canIHint(message: string): string | undefined {
  const match = /cannot (\S+) resource "([^"]+)"(?: in API group "([^"]*)")?(?: in the namespace "([^"]+)")?/.exec(message);
  if (!match) return undefined;
  const [, verb, resource, group, namespace] = match;
  const qualified = group ? `${resource}.${group}` : resource;
  return `kubectl auth can-i ${verb} ${qualified}${namespace ? ` -n ${namespace}` : ''}`;
}

export const networkReasons: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
};

const tlsCodes = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
]);

/** Why the kubeconfig's client certificate cannot work (expired, not yet valid), if that is why; never its content. */
function clientCertificateProblem(config: Pick<ResolvedConfig, 'kubeConfig'>, now = new Date()): string | undefined {
  const user = config.kubeConfig.getCurrentUser();
  try {
    const pem = user?.certData ? Buffer.from(user.certData, 'base64') : user?.certFile ? readFileSync(user.certFile) : undefined;
    if (!user || !pem) return undefined;
    const certificate = new X509Certificate(pem);
    const [validFrom, validTo] = [new Date(certificate.validFrom), new Date(certificate.validTo)];
    if (validTo < now) return `the client certificate of user "${user.name}" expired on ${validTo.toISOString()}`;
    if (validFrom > now) return `the client certificate of user "${user.name}" is not valid before ${validFrom.toISOString()}`;
  } catch {
    // Unreadable, or not a certificate: the generic reason stands.
  }
  return undefined;
}

/**
 * Turns anything an API call threw into a CliError with one line the user can act on. Messages
 * from the server are quoted as they are: they never contain credentials, only names.
 */
export function describeApiError(error: unknown, connection: Pick<Connection, 'config' | 'requestTimeoutMs'>): CliError {
  if (error instanceof CliError) return error;
  const server = connection.config.server;
  const context = connection.config.contextName;
  if (error instanceof ApiException) {
    const status = parseStatus(error.body);
    const message = oneLine(status?.message ?? `HTTP ${error.code}`);
    if (error.code === 401) {
      const why = clientCertificateProblem(connection.config) ?? 'they may be expired, revoked or issued by another CA';
      return new CliError(`unauthorized: the API server at ${server} did not accept the credentials of context "${context}" (${why}): renew them or log in again`);
    }
    if (error.code === 403) {
      const hint = canIHint(message);
      return new CliError(`forbidden: ${message}${hint ? ` (check with: ${hint})` : ''}`);
    }
    return new CliError(`${status?.reason ? `${status.reason}: ` : ''}${message}`);
  }
  const err = error as { name?: string; type?: string; code?: string; errno?: string; message?: string };
  if (err?.name === 'AbortError' || err?.type === 'aborted' || err?.name === 'TimeoutError') {
    const seconds = (connection.requestTimeoutMs ?? 0) / 1000;
    return new CliError(`the API server at ${server} did not answer within ${seconds}s (--request-timeout)`, ExitCode.failed, error);
  }
  const code = err?.code ?? err?.errno;
  if (code && networkReasons[code]) {
    return new CliError(`cannot reach the API server at ${server} (context "${context}"): ${networkReasons[code]}`, ExitCode.failed, error);
  }
  if (code && tlsCodes.has(code)) {
    return new CliError(
      `TLS verification of the API server at ${server} failed (${oneLine(err.message).replace(/^.*reason: /, '')}): check certificate-authority in context "${context}"`,
    );
  }
  const execProblem = execPluginProblem(error, connection.config, code);
  if (execProblem) return execProblem;
  return new CliError(`request to the API server at ${server} failed: ${oneLine(error)}`);
}

/**
 * A failure of the kubeconfig's exec credential plugin (client-node rejects with the plugin's
 * stderr, its spawn error, or JSON.parse's error, which quotes what the plugin printed: a token,
 * maybe — so that one is never repeated).
 */
function execPluginProblem(error: unknown, config: Pick<ResolvedConfig, 'kubeConfig' | 'contextName'>, code: string | undefined): CliError | undefined {
  const user = config.kubeConfig.getCurrentUser();
  const command = user?.exec?.command;
  if (!user || typeof command !== 'string' || !(error instanceof Error)) return undefined;
  const subject = `the exec credential plugin "${command}" of user "${user.name}" (context "${config.contextName}")`;
  if (error instanceof SyntaxError) {
    return new CliError(`${subject} printed something that is not ExecCredential JSON; run it by hand to see what it prints`);
  }
  if (code === 'ENOENT') return new CliError(`${subject} was not found: install it, or fix the command in the kubeconfig`);
  if (code === 'EACCES') return new CliError(`${subject} is not executable: fix its permissions`);
  if (code !== undefined) return undefined;
  const message = oneLine(error);
  return new CliError(`${subject} failed${message ? `: ${message}` : ' without a message'}; run it by hand, or log in again`);
}

/** Runs one API call and reports its failure as a CliError. */
export async function apiCall<T>(connection: Pick<Connection, 'config' | 'requestTimeoutMs'>, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw describeApiError(error, connection);
  }
}
