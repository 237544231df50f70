// `--verify`: do the stored credentials work? Logs in to each registry the way docker does, with
// the registry HTTP API v2: `GET /v2/` without credentials to learn the challenge, then either
// Basic auth on the registry itself, or the Bearer token flow (credentials to the token service
// the registry names in WWW-Authenticate, the token back to the registry).
//
// Credentials go only where they belong: Basic credentials only to the registry of the entry,
// token-service credentials only to the realm that registry names, never over plain HTTP unless
// the user named that host with --insecure-registry, and redirects are never followed. Results
// and their details never contain a password or token, only hosts, user names and HTTP codes.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { decodeAuthField, parsePullSecretData, type DockerConfigJson } from './dockerconfig';
import { networkReasons } from './connect';
import { CliError, UsageError, oneLine } from './errors';
import { normalizeRegistryKey } from './registry';
import type { V1Secret } from '@kubernetes/client-node';

export type LoginResult = 'ok' | 'unauthorized' | 'unreachable' | 'tls-error' | 'skipped';

/** What one login attempt found. Holds no credential. */
export interface LoginCheck {
  /** The `auths` key, as stored. */
  registry: string;
  /** Where the login went, e.g. `https://registry.example:5000`. */
  endpoint?: string;
  username?: string;
  result: LoginResult;
  /** Why, in words, e.g. `the registry refused the credentials of user ci`. */
  detail: string;
}

/** One login to check; the password never leaves this module except towards its registry. */
export interface LoginRequest {
  registry: string;
  username: string;
  password: string;
}

export interface VerifyOptions {
  /** For the whole login of one registry (challenge, token, retry). */
  timeoutMs: number;
  /** `--insecure-registry`: HOST (any port) or HOST:PORT; plain HTTP and unverified TLS allowed. */
  insecureRegistries?: string[];
  /** PEM certificates trusted for registries in addition to Node's built-in ones. */
  extraCa?: string;
  /** Logins running at once. */
  concurrency?: number;
}

export const DEFAULT_VERIFY_TIMEOUT_MS = 10_000;
const DEFAULT_CONCURRENCY = 8;
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;
// Docker Hub's registry API lives on its own host; `docker.io` itself does not serve /v2/.
const DOCKER_HUB_API = 'registry-1.docker.io';
const DOCKER_HUB_NAMES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** Reads `--registry-ca FILE`: PEM certificates, checked before anything is sent. */
export function readRegistryCa(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new UsageError(`cannot read --registry-ca ${file}: ${code === 'ENOENT' ? 'no such file' : code ?? 'unknown error'}`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new UsageError(`--registry-ca ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return text;
}

/** The logins a pull-secret content holds: entries with a username and password. */
export function loginRequests(config: DockerConfigJson): LoginRequest[] {
  return Object.entries(config.auths).flatMap(([registry, entry]) => {
    // As the kubelet does: a decodable `auth` wins over the separate fields.
    const decoded = entry.auth ? decodeAuthField(entry.auth) : undefined;
    const username = decoded?.username ?? entry.username ?? '';
    const password = decoded?.password ?? entry.password ?? '';
    return username && password ? [{ registry, username, password }] : [];
  });
}

/** Host and port to log in to for an `auths` key, or why there is no single one. */
export function loginTarget(registry: string): { host: string; port?: string } | { skip: string } {
  let key;
  try {
    key = normalizeRegistryKey(registry);
  } catch {
    return { skip: 'the kubelet cannot parse this key' };
  }
  if (/[*?[\]]/.test(key.host.replace(/^\[.*\]$/, ''))) return { skip: 'a glob names no single host to log in to' };
  const host = DOCKER_HUB_NAMES.has(key.host.toLowerCase()) && key.port === undefined ? DOCKER_HUB_API : key.host;
  return { host, ...(key.port !== undefined ? { port: key.port } : {}) };
}

/** Whether `--insecure-registry` names this host: `HOST` for every port, `HOST:PORT` for one. */
export function isInsecure(host: string, port: string | undefined, insecure: readonly string[]): boolean {
  const hostPort = port === undefined ? host : `${host}:${port}`;
  return insecure.some((entry) => {
    const wanted = entry.replace(/^https?:\/\//, '').replace(/\/.*$/, '').toLowerCase();
    return wanted === hostPort.toLowerCase() || wanted === host.toLowerCase();
  });
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * The first challenge of a WWW-Authenticate header (RFC 7235): `Bearer realm="...",service="..."`
 * or `Basic realm="..."`. Scheme in lowercase; quoted values may hold commas and escapes.
 */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  const match = header ? /^\s*([A-Za-z][A-Za-z0-9._~+/-]*)\s*(.*)$/s.exec(header) : null;
  if (!match) return undefined;
  const params: Record<string, string> = {};
  const param = /\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/gy;
  let found: RegExpExecArray | null;
  while (param.lastIndex < match[2]!.length && (found = param.exec(match[2]!))) {
    params[found[1]!.toLowerCase()] = found[2] !== undefined ? found[2].replace(/\\(.)/g, '$1') : found[3]!;
  }
  return { scheme: match[1]!.toLowerCase(), params };
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface RequestOptions {
  headers?: Record<string, string>;
  verifyTls: boolean;
  extraCa?: string;
  signal: AbortSignal;
  /** Read the body (capped); otherwise it is discarded. */
  readBody?: boolean;
}

function get(url: URL, options: RequestOptions): Promise<Response> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(
      url,
      {
        method: 'GET',
        headers: { 'User-Agent': 'kubectl-pullsecret', Accept: 'application/json', ...options.headers },
        signal: options.signal,
        // One connection per request, closed afterwards: nothing keeps the process alive.
        agent: false,
        ...(url.protocol === 'https:'
          ? { rejectUnauthorized: options.verifyTls, ...(options.extraCa ? { ca: [...rootCertificates, options.extraCa] } : {}) }
          : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          if (!options.readBody) return;
          size += chunk.length;
          if (size > MAX_TOKEN_RESPONSE_BYTES) {
            request.destroy(new Error(`the response is larger than ${MAX_TOKEN_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end();
  });
}

/** A failed request as a result: TLS problems apart from everything else that makes it unreachable. */
class LoginFailure extends Error {
  constructor(
    readonly result: LoginResult,
    message: string,
  ) {
    super(message);
  }
}

const TLS_ERROR = /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|EPROTO$|HOSTNAME_MISMATCH)/;
function describeFailure(error: unknown, where: string, timeoutMs: number): LoginFailure {
  if (error instanceof LoginFailure) return error;
  const { name, code, message } = error as { name?: string; code?: string; message?: string };
  if (name === 'AbortError' || name === 'TimeoutError') {
    return new LoginFailure('unreachable', `${where} did not answer within ${timeoutMs / 1000}s`);
  }
  if (code && TLS_ERROR.test(code)) {
    return new LoginFailure('tls-error', `TLS with ${where} failed: ${oneLine(message ?? code)}`);
  }
  return new LoginFailure('unreachable', `cannot reach ${where}: ${code && networkReasons[code] ? networkReasons[code] : oneLine(message ?? code ?? 'unknown error')}`);
}

const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;

/** Logs in to one registry; never throws. */
export async function checkLogin(login: LoginRequest, options: VerifyOptions): Promise<LoginCheck> {
  const { registry, username } = login;
  const target = loginTarget(registry);
  if ('skip' in target) return { registry, username, result: 'skipped', detail: target.skip };
  const hostPort = target.port === undefined ? target.host : `${target.host}:${target.port}`;
  const insecure = isInsecure(target.host, target.port, options.insecureRegistries ?? []);
  const signal = AbortSignal.timeout(options.timeoutMs);
  let endpoint = `https://${hostPort}`;
  try {
    let challenge: Response;
    try {
      challenge = await get(new URL(`${endpoint}/v2/`), { verifyTls: !insecure, extraCa: options.extraCa, signal });
    } catch (error) {
      const failure = describeFailure(error, endpoint, options.timeoutMs);
      // As docker does for an insecure registry: HTTPS first, plain HTTP when TLS is not spoken.
      if (!insecure || failure.result !== 'tls-error') throw failure;
      endpoint = `http://${hostPort}`;
      challenge = await get(new URL(`${endpoint}/v2/`), { verifyTls: false, signal });
    }
    const { result, detail } = await answerChallenge(login, endpoint, challenge, options, signal);
    return { registry, endpoint, username, result, detail };
  } catch (error) {
    const failure = describeFailure(error, endpoint, options.timeoutMs);
    const advice = failure.result === 'tls-error' && !insecure
      ? `; --registry-ca FILE trusts a private CA, --insecure-registry ${hostPort} allows plain HTTP or an unverified certificate`
      : '';
    return { registry, endpoint, username, result: failure.result, detail: failure.message + advice };
  }
}

async function answerChallenge(
  login: LoginRequest,
  endpoint: string,
  first: Response,
  options: VerifyOptions,
  signal: AbortSignal,
): Promise<{ result: LoginResult; detail: string }> {
  const v2 = new URL(`${endpoint}/v2/`);
  const tls = { verifyTls: v2.protocol === 'https:' && !isInsecure(v2.hostname, v2.port || undefined, options.insecureRegistries ?? []), extraCa: options.extraCa, signal };
  const refused = { result: 'unauthorized' as const, detail: `${endpoint} refused the credentials of user ${login.username}` };
  if (first.status === 200) return { result: 'ok', detail: `${endpoint} needs no login, so the credentials were not checked` };
  if (first.status !== 401) return unexpected(endpoint, first);
  const challenge = parseChallenge(first.headers['www-authenticate']);
  if (challenge?.scheme === 'basic') {
    const answer = await get(v2, { ...tls, headers: { Authorization: basic(login.username, login.password) } });
    if (answer.status === 200) return { result: 'ok', detail: `logged in to ${endpoint} as ${login.username}` };
    return answer.status === 401 || answer.status === 403 ? refused : unexpected(endpoint, answer);
  }
  if (challenge?.scheme !== 'bearer' || !challenge.params.realm) {
    return { result: 'unreachable', detail: `${endpoint} asked for a login it does not describe (WWW-Authenticate: ${challenge?.scheme ?? 'missing'})` };
  }

  let realm: URL;
  try {
    realm = new URL(challenge.params.realm);
  } catch {
    return { result: 'unreachable', detail: `${endpoint} names a token service that is not a URL` };
  }
  const realmInsecure = isInsecure(realm.hostname, realm.port || undefined, options.insecureRegistries ?? []);
  if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && realmInsecure)) {
    return {
      result: 'tls-error',
      detail: `${endpoint} names the token service ${realm.origin}, which is not HTTPS; the credentials were not sent (--insecure-registry ${realm.host} allows it)`,
    };
  }
  if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
  if (challenge.params.scope) realm.searchParams.set('scope', challenge.params.scope);
  realm.searchParams.set('account', login.username);
  const where = `token service ${realm.origin}`;
  let tokenResponse: Response;
  try {
    tokenResponse = await get(realm, {
      verifyTls: !realmInsecure,
      extraCa: options.extraCa,
      signal,
      readBody: true,
      headers: { Authorization: basic(login.username, login.password) },
    });
  } catch (error) {
    throw describeFailure(error, where, options.timeoutMs);
  }
  if (tokenResponse.status === 401 || tokenResponse.status === 403) {
    return { result: 'unauthorized', detail: `${where} of ${endpoint} refused the credentials of user ${login.username}` };
  }
  if (tokenResponse.status !== 200) return unexpected(where, tokenResponse);
  const token = tokenFrom(tokenResponse.body);
  if (!token) return { result: 'unreachable', detail: `${where} answered without a token` };
  const answer = await get(v2, { ...tls, headers: { Authorization: `Bearer ${token}` } });
  if (answer.status === 200) return { result: 'ok', detail: `logged in to ${endpoint} as ${login.username} (token from ${realm.origin})` };
  return answer.status === 401 || answer.status === 403
    ? { result: 'unauthorized', detail: `${endpoint} refused the token issued for user ${login.username}` }
    : unexpected(endpoint, answer);
}

function tokenFrom(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { token?: unknown; access_token?: unknown };
    const token = parsed.token ?? parsed.access_token;
    return typeof token === 'string' && token !== '' ? token : undefined;
  } catch {
    return undefined;
  }
}

function unexpected(where: string, response: Response): { result: LoginResult; detail: string } {
  if (response.status >= 300 && response.status < 400) {
    return { result: 'unreachable', detail: `${where} redirects (HTTP ${response.status}); redirects are not followed with credentials` };
  }
  if (response.status === 404) return { result: 'unreachable', detail: `${where} is not a registry (GET /v2/ answered HTTP 404)` };
  return { result: 'unreachable', detail: `${where} answered HTTP ${response.status}` };
}

/**
 * Checks many logins, a few at a time; the same registry and credentials are tried once
 * (copies of one secret in many namespaces are one login). Results are in the requests' order.
 */
export async function checkLogins(logins: LoginRequest[], options: VerifyOptions): Promise<LoginCheck[]> {
  const distinct = new Map<string, LoginRequest>();
  const keyOf = (login: LoginRequest) => JSON.stringify([login.registry, login.username, login.password]);
  for (const login of logins) if (!distinct.has(keyOf(login))) distinct.set(keyOf(login), login);
  const queue = [...distinct.entries()];
  const results = new Map<string, LoginCheck>();
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) results.set(next[0], await checkLogin(next[1], options));
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? DEFAULT_CONCURRENCY, queue.length) }, worker));
  return logins.map((login) => results.get(keyOf(login))!);
}

/**
 * Verifies pull secrets: one check per `auths` key, in each secret's order (`skipped` for an
 * entry without credentials), keyed by `namespace/name`.
 */
export async function verifySecrets(secrets: V1Secret[], options: VerifyOptions): Promise<Map<string, LoginCheck[]>> {
  const perSecret = secrets.map((secret) => {
    const parsed = parsePullSecretData(secret.type, secret.data);
    return {
      id: `${secret.metadata?.namespace}/${secret.metadata?.name}`,
      keys: parsed.ok ? Object.keys(parsed.config.auths) : [],
      logins: parsed.ok ? loginRequests(parsed.config) : [],
    };
  });
  const checks = await checkLogins(perSecret.flatMap((secret) => secret.logins), options);
  let next = 0;
  const results = new Map<string, LoginCheck[]>();
  for (const { id, keys, logins } of perSecret) {
    const byKey = new Map(logins.map((login) => [login.registry, checks[next++]!]));
    results.set(id, keys.map((registry) => byKey.get(registry) ?? { registry, result: 'skipped', detail: 'the entry has no username and password' }));
  }
  return results;
}

/** Logins that failed: refused, unreachable or TLS problems (not those skipped). */
export function failedChecks(checks: LoginCheck[]): LoginCheck[] {
  return checks.filter((check) => check.result !== 'ok' && check.result !== 'skipped');
}

/**
 * `add --verify`: every registry of the new content must accept its credentials, else a CliError
 * (exit 1) before anything is written. Resolves to the checks, all ok.
 */
export async function requireWorkingLogins(config: DockerConfigJson, options: VerifyOptions): Promise<LoginCheck[]> {
  const checks = await checkLogins(loginRequests(config), options);
  // A glob (skipped) cannot be verified, and unverified is not what --verify asked for.
  const failed = checks.filter((check) => check.result !== 'ok');
  if (failed.length > 0) throw new CliError(`--verify failed, nothing was written: ${failed.map(formatCheck).join('; ')}`);
  return checks;
}

/** `registry.example:5000: unauthorized (…)`, one line. */
export function formatCheck(check: LoginCheck): string {
  return `${check.registry}: ${check.result} (${check.detail})`;
}
