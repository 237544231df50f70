// Pushes an image or an image index to a registry over the Docker Registry HTTP API v2 (what
// CNCF distribution serves): for each blob a HEAD, and only when it is missing a POST to open an
// upload and a monolithic PUT with ?digest=; then the manifests, an index's images by digest
// before the index itself by tag. Pushing the same image again under another tag costs a HEAD
// per blob and one manifest PUT.
//
// Authentication: Basic with the given credentials, or, when the registry answers with a Bearer
// challenge (distribution's token auth), a token fetched from the challenge's realm with those
// credentials. Credentials go only to the registry's and the realm's origins, never over plain
// http to a host other than loopback, and never into an error message.
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, STATUS_CODES, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Blob, Image, ImageIndex } from './oci';

export interface Credentials {
  username: string;
  password: string;
}

/** A command-line mistake of the image scripts: printed as one line with their usage. */
export class UsageError extends Error {}

/**
 * The registry login of the image scripts: --username or KPS_REGISTRY_USERNAME, --password-file
 * or KPS_REGISTRY_PASSWORD — never a password in argv. Undefined: no login given.
 */
export function credentialsFrom(username: string | undefined, passwordFile: string | undefined): Credentials | undefined {
  const user = username ?? process.env.KPS_REGISTRY_USERNAME;
  let password: string | undefined;
  if (passwordFile !== undefined) {
    try {
      // One trailing newline is the file's, not the password's (as `echo secret > file` writes).
      password = readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      throw new UsageError(`cannot read --password-file ${passwordFile}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  } else {
    password = process.env.KPS_REGISTRY_PASSWORD;
  }
  if (user === undefined && password === undefined) return undefined;
  if (!user) throw new UsageError('a password was given without --username (or KPS_REGISTRY_USERNAME)');
  if (password === undefined) throw new UsageError('--username was given without --password-file (or KPS_REGISTRY_PASSWORD)');
  return { username: user, password };
}

export interface RegistryOptions {
  /** `host[:port]`, as in an image reference. */
  registry: string;
  /** A PEM CA bundle to trust besides the system's; implies https. */
  caFile?: string;
  credentials?: Credentials;
}

export interface PushResult {
  /** `registry/repository:tag@sha256:…` */
  reference: string;
  digest: string;
  uploadedBlobs: number;
  uploadedBytes: number;
  skippedBlobs: number;
}

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const REQUEST_TIMEOUT_MS = 60_000;
/** Repository path components as distribution accepts them. */
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** The registry's base URL: https with a CA or for any host but loopback, else plain http. */
export function registryBaseUrl(options: Pick<RegistryOptions, 'registry' | 'caFile'>): URL {
  if (!/^[A-Za-z0-9.-]+(?::\d+)?$|^\[[0-9a-fA-F:]+\](?::\d+)?$/.test(options.registry)) {
    throw new Error(`registry must be host[:port] without a scheme or path, not "${options.registry}"`);
  }
  const url = new URL(`http://${options.registry}`);
  if (options.caFile || !LOOPBACK.has(url.hostname)) url.protocol = 'https:';
  return url;
}

/** The parameters of a WWW-Authenticate challenge: `Bearer realm="…",service="…"` -> scheme and map. */
export function parseChallenge(header: string): { scheme: string; params: Map<string, string> } {
  const match = /^\s*(\S+)\s*(.*)$/.exec(header);
  const params = new Map<string, string>();
  for (const param of (match?.[2] ?? '').matchAll(/([A-Za-z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params.set(param[1]!.toLowerCase(), param[2] !== undefined ? param[2].replace(/\\(.)/g, '$1') : param[3]!);
  }
  return { scheme: (match?.[1] ?? '').toLowerCase(), params };
}

/** `STATUS CODE: message` from a registry's error body, or the status alone. Never echoes headers. */
function describeFailure(response: Response): string {
  let errors: { code?: unknown; message?: unknown }[] = [];
  try {
    const parsed = JSON.parse(response.body.toString('utf8')) as { errors?: unknown };
    if (Array.isArray(parsed.errors)) errors = parsed.errors as typeof errors;
  } catch {
    // not JSON: a proxy's page, or an https server answering plain http
  }
  const text = errors.map((e) => [e.code, e.message].filter((part) => typeof part === 'string').join(': ')).filter(Boolean).join('; ');
  const plain = response.body.toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 200);
  const detail = text || (plain && !plain.startsWith('<') ? plain : STATUS_CODES[response.status] ?? '');
  return `${response.status}${detail ? ` ${detail}` : ''}`;
}

/** A one-line message for a failed connection, with what to do about the usual TLS mistakes. */
function describeConnectionError(error: NodeJS.ErrnoException, url: URL): string {
  const code = error.code ?? '';
  if (code === 'EPROTO' || /wrong version number|packet length too long/i.test(error.message)) {
    return `cannot reach ${url.origin}: no TLS there (the registry is plain http, or --ca was given by mistake)`;
  }
  const hint = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code)
    ? ' (is the registry\'s CA given with --ca, and is the address in its certificate?)'
    : code.startsWith('HPE_') && url.protocol === 'http:'
      ? ' (an https registry answers plain http like this: give its CA with --ca)'
      : '';
  return `cannot reach ${url.origin}: ${error.message.split('\n')[0]}${hint}`;
}

class RegistryClient {
  private readonly base: URL;
  private readonly agent: HttpAgent;
  private readonly ca: string[] | undefined;
  private readonly basic: string | undefined;
  /** Bearer tokens by scope, once a registry has asked for one. */
  private readonly tokens = new Map<string, string>();
  private bearer: { realm: URL; service: string | undefined } | undefined;

  constructor(options: RegistryOptions) {
    this.base = registryBaseUrl(options);
    this.ca = options.caFile ? [...rootCertificates, readFileSync(options.caFile, 'utf8')] : undefined;
    this.agent = this.base.protocol === 'https:'
      ? new HttpsAgent({ keepAlive: true, maxSockets: 4, ...(this.ca ? { ca: this.ca } : {}) })
      : new HttpAgent({ keepAlive: true, maxSockets: 4 });
    if (options.credentials) {
      const { username, password } = options.credentials;
      this.basic = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
    }
  }

  close(): void {
    this.agent.destroy();
  }

  private send(method: string, url: URL, headers: Record<string, string>, body?: Buffer): Promise<Response> {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(url, {
        method,
        // The registry's own connections are kept alive; a token realm elsewhere gets its own.
        agent: url.origin === this.base.origin ? this.agent : undefined,
        headers: { ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) },
        ...(this.ca && url.origin !== this.base.origin ? { ca: this.ca } : {}),
        timeout: REQUEST_TIMEOUT_MS,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer in ${REQUEST_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
      req.on('error', (error: NodeJS.ErrnoException) => reject(new Error(describeConnectionError(error, url))));
      req.end(body);
    });
  }

  /** Fetches a token for `scope` from the realm of the registry's Bearer challenge. */
  private async token(scope: string): Promise<string> {
    const cached = this.tokens.get(scope);
    if (cached) return cached;
    const { realm, service } = this.bearer!;
    if (realm.protocol !== 'https:' && !LOOPBACK.has(realm.hostname)) {
      throw new Error(`the registry's token realm ${realm.origin} is plain http; credentials are not sent there`);
    }
    const url = new URL(realm);
    if (service) url.searchParams.set('service', service);
    url.searchParams.set('scope', scope);
    const response = await this.send('GET', url, this.basic ? { Authorization: this.basic } : {});
    if (response.status !== 200) {
      const hint = response.status === 401 ? (this.basic ? ' (the credentials were refused)' : ' (give --username and --password-file)') : '';
      throw new Error(`token from ${realm.origin}${realm.pathname} for ${scope}: ${describeFailure(response)}${hint}`);
    }
    let parsed: { token?: string; access_token?: string } = {};
    try {
      parsed = JSON.parse(response.body.toString('utf8')) as typeof parsed;
    } catch {
      // reported as no token just below
    }
    const token = parsed.token || parsed.access_token;
    if (!token) throw new Error(`token from ${realm.origin}${realm.pathname}: the answer has no token`);
    this.tokens.set(scope, token);
    return token;
  }

  /** A request to the registry, authenticated as it asks: Basic up front, Bearer after a challenge. */
  async request(method: string, target: string | URL, scope: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Response> {
    const url = new URL(target, this.base);
    if (url.origin !== this.base.origin) throw new Error(`the registry sent ${method} to another origin (${url.origin}); not following`);
    const authorization = this.bearer ? `Bearer ${await this.token(scope)}` : this.basic;
    const response = await this.send(method, url, { ...headers, ...(authorization ? { Authorization: authorization } : {}) }, body);
    if (response.status !== 401 || this.bearer) return response;
    const challenge = parseChallenge(String(response.headers['www-authenticate'] ?? ''));
    const realm = challenge.params.get('realm');
    if (challenge.scheme !== 'bearer' || !realm) return response;
    this.bearer = { realm: new URL(realm), service: challenge.params.get('service') };
    return this.request(method, target, scope, headers, body);
  }
}

function isIndex(target: Image | ImageIndex): target is ImageIndex {
  return 'index' in target;
}

/** Throws unless `repository` and every tag are names a registry accepts. */
export function checkNames(repository: string, tags: readonly string[]): void {
  if (!REPOSITORY.test(repository)) throw new Error(`"${repository}" is not a valid repository name (lower-case path components)`);
  if (tags.length === 0) throw new Error('no tag to push');
  for (const tag of tags) if (!TAG.test(tag)) throw new Error(`"${tag}" is not a valid tag`);
}

/** Pushes `target` to registry/repository under each of `tags` (one upload of each blob). */
export async function push(options: RegistryOptions, repository: string, tags: readonly string[], target: Image | ImageIndex): Promise<PushResult[]> {
  checkNames(repository, tags);
  const client = new RegistryClient(options);
  const scope = `repository:${repository}:pull,push`;
  const where = `${options.registry}/${repository}`;
  const stats = { uploadedBlobs: 0, uploadedBytes: 0, skippedBlobs: 0 };

  const fail = (what: string, response: Response): never => {
    const hint = response.status === 401 ? (options.credentials ? ' (the credentials were refused)' : ' (give --username and --password-file)') : '';
    throw new Error(`push to ${where}: ${what}: ${describeFailure(response)}${hint}`);
  };

  const pushBlob = async (item: Blob) => {
    const head = await client.request('HEAD', `/v2/${repository}/blobs/${item.digest}`, scope);
    if (head.status === 200 || head.status === 307) {
      stats.skippedBlobs++;
      return;
    }
    if (head.status !== 404) fail(`HEAD blob ${item.digest}`, head);
    const opened = await client.request('POST', `/v2/${repository}/blobs/uploads/`, scope, { 'Content-Length': '0' });
    const location = opened.headers.location;
    if (opened.status !== 202 || !location) fail('POST blob upload', opened);
    const upload = new URL(location!, registryBaseUrl(options));
    upload.searchParams.set('digest', item.digest);
    const put = await client.request('PUT', upload, scope, { 'Content-Type': 'application/octet-stream' }, item.data);
    if (put.status !== 201) fail(`PUT blob ${item.digest} (${item.size} bytes)`, put);
    stats.uploadedBlobs++;
    stats.uploadedBytes += item.size;
  };

  const pushManifest = async (manifest: Blob, reference: string) => {
    const put = await client.request('PUT', `/v2/${repository}/manifests/${reference}`, scope, { 'Content-Type': manifest.mediaType }, manifest.data);
    if (put.status !== 201) fail(`PUT manifest ${reference} (${manifest.mediaType})`, put);
    const served = put.headers['docker-content-digest'];
    if (served && served !== manifest.digest) {
      throw new Error(`push to ${where}: the registry stored manifest ${reference} as ${String(served)}, not ${manifest.digest}`);
    }
  };

  try {
    const images = isIndex(target) ? target.images : [target];
    const top = isIndex(target) ? target.index : target.manifest;
    const done = new Set<string>();
    for (const image of images) {
      for (const item of [...image.layers, image.config]) {
        if (done.has(item.digest)) continue;
        done.add(item.digest);
        await pushBlob(item);
      }
      // An index may only name manifests the registry already has.
      if (isIndex(target)) await pushManifest(image.manifest, image.manifest.digest);
    }
    for (const tag of tags) await pushManifest(top, tag);
    return tags.map((tag) => ({ reference: `${where}:${tag}@${top.digest}`, digest: top.digest, ...stats }));
  } finally {
    client.close();
  }
}
