// The connection to the API server: kubeconfig resolution (lib/kubeconfig), the requests that
// honour --request-timeout, and the translation of every client error into one line that says
// what the user can do about it.
//
// Nothing here loads @kubernetes/client-node: its import alone (every model and API class) costs
// more than the rest of `list`'s start together. The reads every verb starts from are plain JSON
// requests made here with the kubeconfig's static credentials; client-node is loaded (lib/client)
// only for the generated clients that write, and for the credentials that need its code: an
// exec plugin, an auth-provider, a proxy-url.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createSecureContext } from 'node:tls';
import { CliError, ExitCode, UsageError, oneLine } from './errors';
import { validateNamespaceName } from './names';
import { PROTOBUF, PROTOBUF_WATCH, ProtobufError, decodeObject } from './protobuf';
import { pluginVersion } from './version';
import { TOKEN_FILE_PROVIDER, resolveConfig, type ConnectionFlags, type ResolveEnvironment, type ResolvedConfig } from './kubeconfig';

export interface ConnectOptions extends ConnectionFlags {
  /** kubectl's --request-timeout: "0" (none), "30", "30s", "2m", "1h". */
  requestTimeout?: string;
}

/** The resolved configuration and the per-request settings; lib/client adds the generated clients. */
export interface Connection {
  config: ResolvedConfig;
  namespace: string;
  requestTimeoutMs: number | undefined;
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

/**
 * Checked for every request. Kubeconfig data is decoded once (fileOrData), so the same Buffer
 * comes back each time: identity answers first, byte comparison only for files read again.
 */
function sameTlsOptions(a: https.AgentOptions, b: https.AgentOptions): boolean {
  return TLS_OPTION_KEYS.every((key) => {
    const x = a[key];
    const y = b[key];
    if (x === y) return true;
    return Buffer.isBuffer(x) && Buffer.isBuffer(y) ? x.equals(y) : JSON.stringify(x) === JSON.stringify(y);
  });
}

/**
 * A keep-alive agent whose TLS material is one SecureContext, built once. Given as ca, cert and
 * key, the PEM text would be part of the name https.Agent files every request under, turned
 * into a string and concatenated several times per request: in a CPU profile of sync's writes,
 * the agent's bookkeeping took about a tenth of the main thread's time.
 */
function agentFor(options: https.AgentOptions): https.Agent {
  const { ca, cert, key, pfx, passphrase, ...rest } = options;
  return new https.Agent({ ...rest, secureContext: createSecureContext({ ca, cert, key, pfx, passphrase }), keepAlive: true, maxSockets: 64 });
}

/**
 * One keep-alive agent for a set of TLS options (a new one if they change, e.g. when an exec
 * plugin hands out a new client certificate), so requests share connections instead of each
 * paying a TLS handshake. client-node builds a new https.Agent for every request; `replace`
 * swaps such an agent for the shared one and leaves proxy agents alone.
 */
export function keepAliveAgents() {
  let shared: { options: https.AgentOptions; agent: https.Agent } | undefined;
  const forOptions = (options: https.AgentOptions): https.Agent => {
    if (!shared || !sameTlsOptions(shared.options, options)) {
      shared?.agent.destroy();
      shared = { options, agent: agentFor(options) };
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

/** Resolves the configuration like kubectl; sends no request. */
export function connect(options: ConnectOptions, environment?: ResolveEnvironment): Connection {
  const requestTimeoutMs = parseRequestTimeout(options.requestTimeout);
  const config = resolveConfig(options, environment);
  // A namespace given with -n is checked like every other name: a typo gets a usage error, not an empty answer.
  if (config.namespaceFromFlag) validateNamespaceName(config.namespace);
  if (!/^https?:\/\//.test(config.server)) {
    throw new UsageError(`cluster server "${config.server}" in context "${config.contextName}" is not an http(s) URL`);
  }
  return { config, namespace: config.namespace, requestTimeoutMs };
}

/** Whether the user's credentials need client-node's code (anything but certificates, tokens and basic auth). */
function needsClientNode({ cluster, user }: ResolvedConfig): boolean {
  return Boolean(user.exec || (user.authProvider && user.authProvider.name !== TOKEN_FILE_PROVIDER) || cluster.proxyUrl);
}

/** Decoded certificate data of a kubeconfig, by its base64 text: decoded once, not per request. */
const decodedData = new Map<string, Buffer>();

/** A file is read each time (certificates on disk rotate); data is the kubeconfig's own. */
function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (file) return readFileSync(file);
  if (!data) return undefined;
  let decoded = decodedData.get(data);
  if (!decoded) decodedData.set(data, (decoded = Buffer.from(data, 'base64')));
  return decoded;
}

/**
 * The TLS material and credentials of a request, as client-node's applyToHTTPSOptions gives them
 * (that is what the generated clients send): CA, client certificate and key, server name,
 * insecure-skip-tls-verify, bearer token (re-read from a token file each time: projected tokens
 * rotate), basic auth and impersonation. The CA, certificate and key go to the agent (see
 * agentFor), not into each request's options.
 */
function staticRequestOptions({ cluster, user }: ResolvedConfig): { tls: https.AgentOptions; options: https.RequestOptions } {
  const options: https.RequestOptions & { headers: Record<string, string> } = { headers: {} };
  const tls: https.AgentOptions = {};
  if (cluster.skipTLSVerify) tls.rejectUnauthorized = false;
  if (cluster.tlsServerName) tls.servername = cluster.tlsServerName;
  const ca = fileOrData(cluster.caFile, cluster.caData);
  if (ca) tls.ca = ca;
  const cert = fileOrData(user.certFile, user.certData);
  if (cert) tls.cert = cert;
  const key = fileOrData(user.keyFile, user.keyData);
  if (key) tls.key = key;
  if (user.impersonateUser) options.headers['Impersonate-User'] = user.impersonateUser;
  const tokenFile = user.authProvider?.name === TOKEN_FILE_PROVIDER ? (user.authProvider.config?.tokenFile as string | undefined) : undefined;
  const token = tokenFile ? readFileSync(tokenFile, 'utf8').trim() : user.token;
  if (token) options.headers.Authorization = `Bearer ${token}`;
  if (user.username) options.auth = `${user.username}:${user.password ?? ''}`;
  return { tls, options };
}

const sharedAgents = new WeakMap<ResolvedConfig, ReturnType<typeof keepAliveAgents>>();

/** The options of one request to the API server, with the shared keep-alive agent where it applies. */
async function requestOptions(config: ResolvedConfig): Promise<https.RequestOptions> {
  let agents = sharedAgents.get(config);
  if (!agents) sharedAgents.set(config, (agents = keepAliveAgents()));
  if (!needsClientNode(config)) {
    const { tls, options } = staticRequestOptions(config);
    if (config.server.startsWith('https:')) options.agent = agents.forOptions(tls);
    return options;
  }
  const options: https.RequestOptions = {};
  await (await import('./client')).kubeConfigOf(config).applyToHTTPSOptions(options);
  // client-node made an agent for this request (a proxy agent for a proxy-url): a plain HTTPS
  // one is swapped for the shared keep-alive agent, anything else is used as it is.
  options.agent = agents.replace(options.agent) ?? options.agent;
  return options;
}

/**
 * A failed API request: its HTTP status and the body (a Kubernetes Status, usually). Shaped like
 * the generated client's ApiException (numeric `code`, `body`), so one check reads both.
 */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
    readonly headers: Record<string, string | string[] | undefined> = {},
  ) {
    super(`HTTP ${code}`);
    this.name = 'ApiError';
  }
}

/** The HTTP status of a request that the API server answered with an error; undefined for anything else. */
export function apiStatus(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined;
  // ApiError, or client-node's ApiException (whose `body` is undefined for statuses it has no
  // model for, such as 401); system errors carry string codes and no body.
  const { code } = error as { code?: unknown };
  return typeof code === 'number' && 'body' in error ? code : undefined;
}

export interface JsonRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** Of the body: a JSON patch, a merge patch; application/json otherwise. */
  contentType?: string;
  /** The encoding asked for: application/json unless said (see requestFrames). */
  accept?: string;
}

/** `kubectl-pullsecret/v0.1.0 (linux/amd64)`, in the form kubectl and client-go use. */
const USER_AGENT = `kubectl-pullsecret/${pluginVersion} (${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch})`;

interface ServerAddress {
  https: boolean;
  /** Without the brackets of an IPv6 literal, as node:http takes it. */
  host: string;
  port: number;
  /** The server URL's own path (a proxy's, e.g. `/k8s/clusters/c-1`), without its trailing slash. */
  pathPrefix: string;
  /** user:password written into the server URL, used unless the kubeconfig's user has its own. */
  auth?: string;
}

const serverAddresses = new Map<string, ServerAddress>();

/**
 * The kubeconfig's server URL taken apart once. Each request then names host, port and path
 * itself: a URL object per request, and node:http turning it back into options, cost 4–7% of
 * the plugin's CPU over sync's 4000 writes (--dry-run=server, 1000 namespaces).
 */
function serverAddress(server: string): ServerAddress {
  let address = serverAddresses.get(server);
  if (!address) {
    const url = new URL(server);
    const secure = url.protocol === 'https:';
    address = {
      https: secure,
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port ? Number(url.port) : secure ? 443 : 80,
      pathPrefix: url.pathname.replace(/\/+$/, ''),
      ...(url.username ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` } : {}),
    };
    serverAddresses.set(server, address);
  }
  return address;
}

/** `?key=value&…` of the parameters given, each encoded; '' for none. */
function queryString(query: JsonRequest['query']): string {
  let text = '';
  for (const key in query) {
    const value = query[key];
    if (value !== undefined) text += `${text ? '&' : '?'}${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`;
  }
  return text;
}

/**
 * Sends one request and resolves with the response once its status and headers are in. A
 * long-running request (a WATCH) is bounded by `signal` alone, not by --request-timeout.
 */
async function send(
  connection: Pick<Connection, 'config' | 'requestTimeoutMs'>,
  request: JsonRequest,
  stream?: { signal: AbortSignal },
): Promise<http.IncomingMessage> {
  const { config } = connection;
  const options = await requestOptions(config);
  const server = serverAddress(config.server);
  const payload = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
  const transport = server.https ? https : http;
  const signal = stream ? stream.signal : connection.requestTimeoutMs !== undefined ? AbortSignal.timeout(connection.requestTimeoutMs) : undefined;
  return new Promise<http.IncomingMessage>((resolve, reject) => {
    const outgoing = transport.request(
      {
        ...(server.auth ? { auth: server.auth } : {}),
        ...options,
        host: server.host,
        port: server.port,
        path: server.pathPrefix + request.path + queryString(request.query),
        method: request.method ?? 'GET',
        headers: {
          ...options.headers,
          Accept: request.accept ?? 'application/json',
          // As kubectl names itself: audit logs and API priority-and-fairness see who wrote.
          'User-Agent': USER_AGENT,
          ...(payload ? { 'Content-Type': request.contentType ?? 'application/json', 'Content-Length': payload.length } : {}),
        },
        ...(signal ? { signal } : {}),
      },
      resolve,
    );
    // A watch can be silent for minutes: TCP keep-alive finds a connection that died meanwhile.
    if (stream) outgoing.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

/**
 * The whole body of a response; an ApiError for a status that is not 2xx, whose body is always
 * JSON text: a Status the server encoded in protobuf (it answers in the encoding asked for,
 * errors too) is decoded.
 */
function readBody(response: http.IncomingMessage): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('error', reject);
    response.on('end', () => {
      const bytes = Buffer.concat(chunks);
      const status = response.statusCode ?? 0;
      if (status >= 200 && status <= 299) return resolve(bytes.toString('utf8'));
      reject(new ApiError(status, isProtobuf(response.headers) ? protobufStatusText(bytes) : bytes.toString('utf8'), response.headers));
    });
  });
}

const isProtobuf = (headers: http.IncomingHttpHeaders) => (headers['content-type'] ?? '').startsWith(PROTOBUF);

function protobufStatusText(bytes: Buffer): string {
  try {
    return JSON.stringify(decodeObject(bytes));
  } catch {
    return `(an error the API server encoded in protobuf, ${bytes.length} bytes, that could not be read)`;
  }
}

/**
 * One API request answered with plain JSON.parse. The generated client runs every object of a
 * response through its model deserializer, which costs more than the request itself for LISTs
 * of thousands of objects, and needs client-node loaded; the reads, and the guarded
 * ServiceAccount patches, use this. Failures are ApiErrors (see describeApiError).
 */
export async function requestJson<T>(connection: Pick<Connection, 'config' | 'requestTimeoutMs'>, request: JsonRequest): Promise<T> {
  return JSON.parse(await readBody(await send(connection, request))) as T;
}

/**
 * A streaming request answered with one JSON document per line, as a WATCH is: each line is
 * handed to onLine as it arrives (never the whole stream held at once). Resolves when the server
 * ends the response, or at once when onLine returns 'stop' (the request is then closed); rejects
 * with an ApiError for a refused request, with onLine's own error, or when the connection fails.
 * --request-timeout does not apply: `signal` ends it.
 */
export function requestLines(
  connection: Pick<Connection, 'config' | 'requestTimeoutMs'>,
  request: JsonRequest,
  onLine: (line: string) => 'stop' | void,
  signal?: AbortSignal,
): Promise<void> {
  return requestMessages(connection, request, new LineSplitter(), (bytes, start, end) => {
    const line = bytes.toString('utf8', start, end);
    return line.trim() === '' ? undefined : onLine(line);
  }, signal);
}

/**
 * The same for a protobuf WATCH (Accept: PROTOBUF_WATCH): each frame, a 4-byte big-endian length
 * and then that many bytes of a metav1.WatchEvent (see decodeWatchEvent), is handed to onFrame as
 * bytes[start, end), valid only during the call.
 */
export function requestFrames(
  connection: Pick<Connection, 'config' | 'requestTimeoutMs'>,
  request: JsonRequest,
  onFrame: (bytes: Buffer, start: number, end: number) => 'stop' | void,
  signal?: AbortSignal,
): Promise<void> {
  return requestMessages(connection, { ...request, accept: PROTOBUF_WATCH }, new FrameSplitter(), onFrame, signal, (response) => {
    // Something between us and the API server may answer in JSON whatever was asked.
    if (!isProtobuf(response.headers)) throw new ProtobufError(`the answer is ${response.headers['content-type'] ?? 'of no content type'}`);
  });
}

/** Receives a message as bytes[start, end); 'stop' ends the stream. */
type MessageHandler = (bytes: Buffer, start: number, end: number) => 'stop' | void;

/** Cuts a stream's chunks into its messages, which may span chunks. */
interface Splitter {
  /** Hands on each message that ends in this chunk and keeps the rest for the next; true once told to stop. */
  push(chunk: Buffer, onMessage: MessageHandler): boolean;
}

class LineSplitter implements Splitter {
  private pending: Buffer[] = [];

  push(chunk: Buffer, onMessage: MessageHandler): boolean {
    let start = 0;
    for (let end = chunk.indexOf(10); end !== -1; end = chunk.indexOf(10, start)) {
      // A line that began in an earlier chunk is copied together; any other is handed on in place.
      const line = this.pending.length > 0 ? Buffer.concat([...this.pending, chunk.subarray(start, end)]) : undefined;
      const stop = line ? onMessage(line, 0, line.length) : onMessage(chunk, start, end);
      this.pending = [];
      start = end + 1;
      if (stop === 'stop') return true;
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start));
    return false;
  }
}

class FrameSplitter implements Splitter {
  /** The start of a frame that the last chunk did not complete. */
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer, onMessage: MessageHandler): boolean {
    let start = 0;
    if (this.pending.length > 0) {
      // Only the frame that spans the chunks is copied together, not the rest of the chunk.
      const head = this.pending.length >= 4 ? this.pending : Buffer.concat([this.pending, chunk.subarray(0, 4 - this.pending.length)]);
      if (head.length < 4) {
        this.pending = head;
        return false;
      }
      const missing = 4 + head.readUInt32BE(0) - this.pending.length;
      if (missing > chunk.length) {
        this.pending = Buffer.concat([this.pending, chunk]);
        return false;
      }
      const frame = Buffer.concat([this.pending, chunk.subarray(0, missing)]);
      this.pending = Buffer.alloc(0);
      start = missing;
      if (onMessage(frame, 4, frame.length) === 'stop') return true;
    }
    while (chunk.length - start >= 4) {
      const end = start + 4 + chunk.readUInt32BE(start);
      if (end > chunk.length) break;
      const stop = onMessage(chunk, start + 4, end);
      start = end;
      if (stop === 'stop') return true;
    }
    // Copied: a pending frame would otherwise keep the whole chunk it came in alive.
    if (start < chunk.length) this.pending = Buffer.from(chunk.subarray(start));
    return false;
  }
}

/** A streaming request whose messages `splitter` cuts out, each handed to onMessage (see requestLines). */
async function requestMessages(
  connection: Pick<Connection, 'config' | 'requestTimeoutMs'>,
  request: JsonRequest,
  splitter: Splitter,
  onMessage: MessageHandler,
  signal: AbortSignal = new AbortController().signal,
  /** Throws when a successful response is not what the splitter can read. */
  checkResponse?: (response: http.IncomingMessage) => void,
): Promise<void> {
  const closer = new AbortController();
  const onAbort = () => closer.abort(signal.reason);
  if (signal.aborted) onAbort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const response = await send(connection, request, { signal: closer.signal });
    const status = response.statusCode ?? 0;
    // A refused request: readBody rejects with the ApiError its body describes.
    if (status < 200 || status > 299) return void (await readBody(response));
    try {
      checkResponse?.(response);
    } catch (error) {
      closer.abort();
      throw error;
    }
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (error?: unknown) => {
        if (done) return;
        done = true;
        if (error === undefined) resolve();
        else reject(error);
      };
      response.on('data', (chunk: Buffer) => {
        if (done) return;
        try {
          if (splitter.push(chunk, onMessage)) {
            finish();
            closer.abort();
          }
        } catch (error) {
          finish(error);
          closer.abort();
        }
      });
      // Aborted by `signal`: its reason (a timeout, say) is the error, not the socket's "aborted".
      response.on('error', (error) => finish(signal.aborted ? signal.reason : error));
      response.on('end', () => finish());
      response.on('close', () => finish(signal.aborted ? signal.reason : undefined));
    });
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
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
function clientCertificateProblem({ user }: Pick<ResolvedConfig, 'user'>, now = new Date()): string | undefined {
  try {
    const pem = user.certData ? Buffer.from(user.certData, 'base64') : user.certFile ? readFileSync(user.certFile) : undefined;
    if (!pem) return undefined;
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
  const code = apiStatus(error);
  if (code !== undefined) {
    const status = parseStatus((error as ApiError).body);
    const message = oneLine(status?.message ?? `HTTP ${code}`);
    if (code === 401) {
      const why = clientCertificateProblem(connection.config) ?? 'they may be expired, revoked or issued by another CA';
      return new CliError(`unauthorized: the API server at ${server} did not accept the credentials of context "${context}" (${why}): renew them or log in again`);
    }
    if (code === 403) {
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
  const systemCode = err?.code ?? err?.errno;
  if (systemCode && networkReasons[systemCode]) {
    return new CliError(`cannot reach the API server at ${server} (context "${context}"): ${networkReasons[systemCode]}`, ExitCode.failed, error);
  }
  if (systemCode && tlsCodes.has(systemCode)) {
    return new CliError(
      `TLS verification of the API server at ${server} failed (${oneLine(err.message).replace(/^.*reason: /, '')}): check certificate-authority in context "${context}"`,
    );
  }
  const execProblem = execPluginProblem(error, connection.config, systemCode);
  if (execProblem) return execProblem;
  return new CliError(`request to the API server at ${server} failed: ${oneLine(error)}`);
}

/**
 * A failure of the kubeconfig's exec credential plugin (client-node rejects with the plugin's
 * stderr, its spawn error, or JSON.parse's error, which quotes what the plugin printed: a token,
 * maybe — so that one is never repeated).
 */
function execPluginProblem(error: unknown, config: Pick<ResolvedConfig, 'user' | 'contextName'>, code: string | undefined): CliError | undefined {
  const { user } = config;
  const command = user.exec?.command;
  if (typeof command !== 'string' || !(error instanceof Error)) return undefined;
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
