// Image names and registry keys, matched the way the kubelet matches them.
//
// The plugin tells users which pull-secret entries (the `auths` keys of a dockerconfigjson) the
// kubelet will try for an image. An answer that is friendlier than the kubelet's would be a wrong
// answer, so this module follows the kubelet's code, quirks included, rather than the docs:
//   - kubernetes pkg/credentialprovider/keyring.go: BasicDockerKeyring.Add (key normalisation),
//     URLsMatch (glob matching), isDefaultRegistryMatch (Docker Hub fallback), Lookup (order);
//   - distribution/reference ParseNormalizedNamed, which the kubelet uses to name the image;
//   - Go's net/url.Parse, net.SplitHostPort and path/filepath.Match, which those call.
// tests/unit/doctor-kubelet.test.ts holds it to the kubelet's own code (v1.36.3).

import { isIPv6 } from 'node:net';
import { UsageError } from './errors';

/** An image reference normalised like the container runtime does it. */
export interface ImageReference {
  /** What the kubelet looks credentials up for: `registry/path`, e.g. `docker.io/library/nginx`. */
  name: string;
  /** `host[:port]`, e.g. `docker.io`, `localhost:5000`, `[::1]:5000`. */
  registry: string;
  /** The registry without its port; IPv6 addresses keep their brackets. */
  host: string;
  port?: string;
  /** Repository path inside the registry, e.g. `library/nginx`. */
  path: string;
  tag?: string;
  digest?: string;
}

/** A pull-secret `auths` key normalised like the kubelet's keyring does it. */
export interface RegistryKey {
  /** The kubelet's index key: `host[:port]` plus the path prefix, e.g. `reg.example:5000/team-a`. */
  key: string;
  /** `host[:port]` exactly as the kubelet keeps it (globs included). */
  registry: string;
  /** The registry without its port; IPv6 addresses keep their brackets. May contain globs. */
  host: string;
  port?: string;
  /** Repository path prefix without the leading slash; '' covers the whole registry. */
  path: string;
}

/** The registry Docker Hub images are normalised to. */
export const DOCKER_HUB_REGISTRY = 'docker.io';

/** The key whose credentials the kubelet falls back to for Docker Hub images. */
export const DOCKER_HUB_FALLBACK_KEY = 'index.docker.io';

const LEGACY_DOCKER_HUB_REGISTRY = 'index.docker.io';
const OFFICIAL_IMAGE_PREFIX = 'library/';
const MAX_REPOSITORY_PATH_LENGTH = 255;
// Docker Hub's API host; people copy it from `docker login` output and proxies.
const DOCKER_HUB_ALIASES = new Set([DOCKER_HUB_REGISTRY, LEGACY_DOCKER_HUB_REGISTRY, 'registry-1.docker.io']);

// ---------------------------------------------------------------------------------------------
// Image references (distribution/reference grammar)

const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST_ALGORITHM = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*$/;
const DIGEST_ENCODED = /^[0-9a-fA-F]{32,}$/;
// Only these are available to the runtime; any other algorithm is rejected as unsupported.
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const IMAGE_ID = /^[a-f0-9]{64}$/;
const DOMAIN_COMPONENT = /^[a-zA-Z0-9-]+$/;
const PATH_ALPHANUMERIC_RUN = /[a-z0-9]+/;
const PATH_SEPARATOR = /^(?:[._]|__|-+)$/;

/**
 * Normalises an image reference like the container runtime: `nginx` is
 * `docker.io/library/nginx`, `user/app` is `docker.io/user/app`, `index.docker.io` is
 * `docker.io`; the tag and digest are split off. Throws UsageError for an invalid reference.
 */
export function normalizeImage(image: string): ImageReference {
  const fail = (reason: string): never => {
    throw new UsageError(`invalid image ${JSON.stringify(image)}: ${reason}`);
  };
  if (typeof image !== 'string' || image === '') fail('the image name is empty');
  if (/[\s\x00-\x1f\x7f]/.test(image)) fail('it contains whitespace or control characters');
  if (IMAGE_ID.test(image)) fail('a 64-character hex string is an image ID, not a name');

  const at = image.indexOf('@');
  const nameAndTag = at >= 0 ? image.slice(0, at) : image;
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
  const colon = nameAndTag.lastIndexOf(':');
  const hasTag = colon > nameAndTag.lastIndexOf('/');
  const name = hasTag ? nameAndTag.slice(0, colon) : nameAndTag;
  const tag = hasTag ? nameAndTag.slice(colon + 1) : undefined;

  const { registry, path } = splitRegistry(name);
  if (path.toLowerCase() !== path) fail('the repository path must be lowercase');
  const { host, port } = splitImageRegistry(registry) ?? fail(`${JSON.stringify(registry)} is not a valid registry host`);
  if (!path.split('/').every(isPathComponent)) {
    fail('the repository path must be lowercase letters and digits separated by "/", ".", "_", "__" or "-"');
  }
  if (path.length > MAX_REPOSITORY_PATH_LENGTH) {
    fail(`the repository path is longer than ${MAX_REPOSITORY_PATH_LENGTH} characters`);
  }
  if (tag !== undefined && !TAG.test(tag)) fail('the tag must be 1-128 letters, digits, "_", "." or "-" and not start with "." or "-"');
  if (digest !== undefined) {
    const reason = digestProblem(digest);
    if (reason) fail(reason);
  }

  const reference: ImageReference = { name: `${registry}/${path}`, registry, host, path };
  if (port !== undefined) reference.port = port;
  if (tag !== undefined) reference.tag = tag;
  if (digest !== undefined) reference.digest = digest;
  return reference;
}

/** Splits a name without tag or digest into registry and path, like splitDockerDomain. */
function splitRegistry(name: string): { registry: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash >= 0 ? name.slice(0, slash) : '';
  const rest = name.slice(slash + 1);
  let registry: string;
  let path: string;
  if (slash < 0) {
    // A single component is always a Docker Hub name, even `localhost` or `example.com`.
    [registry, path] = [DOCKER_HUB_REGISTRY, name];
  } else if (first === LEGACY_DOCKER_HUB_REGISTRY) {
    [registry, path] = [DOCKER_HUB_REGISTRY, rest];
  } else if (first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first) {
    // Repository paths are lowercase, so an uppercase first component can only be a host.
    [registry, path] = [first, rest];
  } else {
    [registry, path] = [DOCKER_HUB_REGISTRY, name];
  }
  if (registry === DOCKER_HUB_REGISTRY && !path.includes('/')) path = OFFICIAL_IMAGE_PREFIX + path;
  return { registry, path };
}

/** Host and port of an image's registry, or undefined when the grammar does not allow it. */
function splitImageRegistry(registry: string): { host: string; port?: string } | undefined {
  let host: string;
  let portPart: string;
  if (registry.startsWith('[')) {
    const close = registry.indexOf(']');
    if (close < 0 || !/^[a-fA-F0-9:]+$/.test(registry.slice(1, close))) return undefined;
    [host, portPart] = [registry.slice(0, close + 1), registry.slice(close + 1)];
  } else {
    const colon = registry.indexOf(':');
    [host, portPart] = colon >= 0 ? [registry.slice(0, colon), registry.slice(colon)] : [registry, ''];
    const componentsValid = host.split('.').every(
      (component) => DOMAIN_COMPONENT.test(component) && !component.startsWith('-') && !component.endsWith('-'),
    );
    if (!componentsValid) return undefined;
  }
  if (portPart === '') return { host };
  if (!/^:[0-9]+$/.test(portPart)) return undefined;
  return { host, port: portPart.slice(1) };
}

function isPathComponent(component: string): boolean {
  // alphanumeric runs joined by single separators; written without a nested-quantifier regex.
  const separators = component.split(PATH_ALPHANUMERIC_RUN);
  if (separators.length < 2 || separators[0] !== '' || separators[separators.length - 1] !== '') return false;
  return separators.slice(1, -1).every((separator) => PATH_SEPARATOR.test(separator));
}

function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  if (colon < 0 || !DIGEST_ALGORITHM.test(algorithm) || !DIGEST_ENCODED.test(encoded)) {
    return 'the digest must look like sha256:<64 hex digits>';
  }
  const length = DIGEST_HEX_LENGTH[algorithm];
  if (length === undefined) return `digest algorithm ${JSON.stringify(algorithm)} is not supported`;
  if (encoded.length !== length || !/^[a-f0-9]+$/.test(encoded)) {
    return `a ${algorithm} digest is ${length} lowercase hex digits`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Go's URL parsing, as far as the kubelet relies on it

interface ParsedUrl {
  /** Host with port, unescaped, as Go's URL.Host. */
  host: string;
  /** Unescaped path, as Go's URL.Path. */
  path: string;
}

/**
 * Host and path of an `http://` or `https://` URL, or undefined where Go's url.Parse fails.
 * The WHATWG parser (`new URL`) would lowercase, punycode and reject differently, so keys
 * would not come out as the kubelet sees them.
 */
function parseUrlLikeGo(url: string): ParsedUrl | undefined {
  if (/[\x00-\x1f\x7f]/.test(url)) return undefined;
  const hash = url.indexOf('#');
  if (hash >= 0 && percentDecode(url.slice(hash + 1)) === undefined) return undefined;
  let rest = hash >= 0 ? url.slice(0, hash) : url;
  rest = rest.slice(rest.indexOf('://') + 3);
  const query = rest.indexOf('?');
  if (query >= 0) rest = rest.slice(0, query);
  const slash = rest.indexOf('/');
  const authority = slash >= 0 ? rest.slice(0, slash) : rest;
  const at = authority.lastIndexOf('@');
  const host = parseHostLikeGo(authority.slice(at + 1));
  if (host === undefined) return undefined;
  if (at >= 0 && !isValidUserinfo(authority.slice(0, at))) return undefined;
  const path = percentDecode(slash >= 0 ? rest.slice(slash) : '');
  if (path === undefined) return undefined;
  return { host, path };
}

// ASCII that Go accepts unescaped in a host, besides letters and digits.
const HOST_PUNCTUATION = new Set(Array.from("-._~!$&'()*+,;=:[]<>\""));

function parseHostLikeGo(host: string): string | undefined {
  if (host.lastIndexOf('[') === 0) {
    const close = host.lastIndexOf(']');
    if (close < 0) return undefined;
    const colonPort = host.slice(close + 1);
    if (!/^(?::[0-9]*)?$/.test(colonPort)) return undefined;
    const literal = host.slice(1, close);
    const zoneStart = literal.indexOf('%25');
    const address = unescapeHost(zoneStart >= 0 ? literal.slice(0, zoneStart) : literal);
    const zone = zoneStart >= 0 ? percentDecode(literal.slice(zoneStart)) : '';
    if (address === undefined || zone === undefined) return undefined;
    const unescaped = address + zone;
    if (!isIPv6(unescaped)) return undefined;
    return `[${unescaped}]${colonPort}`;
  }
  // Since Go 1.25.2/1.24.8 url.Parse rejects a '[' anywhere but at the start, so current kubelets
  // (v1.36 is built with Go 1.26) ignore keys like `reg[0-9].example` that older ones matched as a
  // glob class. The kubelet-keyring differential test caught doctor reading them the old way.
  if (host.lastIndexOf('[') > 0) return undefined;
  const colon = host.indexOf(':');
  if (colon >= 0) {
    // Go (1.26+, for http and https) allows a single colon, followed by digits only.
    if (host.lastIndexOf(':') !== colon || !/^:[0-9]*$/.test(host.slice(colon))) return undefined;
  }
  return unescapeHost(host);
}

/** Go's unescape in host mode: only non-ASCII may be %-escaped, other ASCII must be allowed. */
function unescapeHost(host: string): string | undefined {
  for (let i = 0; i < host.length; i++) {
    const char = host[i]!;
    if (char === '%') {
      const escape = host.slice(i, i + 3);
      if (!/^%[0-9a-fA-F]{2}$/.test(escape)) return undefined;
      if (parseInt(escape.slice(1), 16) < 0x80 && escape !== '%25') return undefined;
      i += 2;
    } else if (char.charCodeAt(0) < 0x80 && !/[A-Za-z0-9]/.test(char) && !HOST_PUNCTUATION.has(char)) {
      return undefined;
    }
  }
  return percentDecode(host);
}

function isValidUserinfo(userinfo: string): boolean {
  return /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(userinfo) && percentDecode(userinfo) !== undefined;
}

/** Decodes %XX escapes; undefined when one is malformed, as Go's unescape fails. */
function percentDecode(text: string): string | undefined {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '%') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      const codePoint = text.codePointAt(i)!;
      const char = String.fromCodePoint(codePoint);
      bytes.push(...Buffer.from(char, 'utf8'));
      i += char.length - 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Go's net.SplitHostPort as the kubelet uses it: on any error the whole host is kept and the
 * port is ''. That is why a bracketed IPv6 address without a port never matches: its label is
 * `[::1]`, which as a glob is a one-character class.
 */
function splitHostPortLikeGo(hostPort: string): { host: string; port: string } {
  const whole = { host: hostPort, port: '' };
  const lastColon = hostPort.lastIndexOf(':');
  if (lastColon < 0) return whole;
  let host: string;
  let openFrom = 0;
  let closeFrom = 0;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0 || close + 1 !== lastColon) return whole;
    host = hostPort.slice(1, close);
    [openFrom, closeFrom] = [1, close + 1];
  } else {
    host = hostPort.slice(0, lastColon);
    if (host.includes(':')) return whole;
  }
  if (hostPort.slice(openFrom).includes('[') || hostPort.slice(closeFrom).includes(']')) return whole;
  return { host, port: hostPort.slice(lastColon + 1) };
}

// ---------------------------------------------------------------------------------------------
// Registry keys

/** The kubelet's index key for an `auths` key, or undefined when the kubelet ignores the entry. */
function kubeletKeyOf(raw: string): { key: string; host: string; path: string } | undefined {
  if (typeof raw !== 'string') return undefined;
  // Only these two exact, lowercase schemes are recognised; anything else gets https:// prepended.
  const url = raw.startsWith('https://') || raw.startsWith('http://') ? raw : `https://${raw}`;
  const parsed = parseUrlLikeGo(url);
  if (!parsed) return undefined;
  let path = parsed.path;
  // Docker's API roots: `https://index.docker.io/v1/` means the whole registry.
  // A bare `/v1` (no slash) is not stripped, so it stays a repository path prefix.
  if (path.startsWith('/v1/') || path.startsWith('/v2/')) path = path.slice(3);
  if (path === '/') path = '';
  return { key: parsed.host + path, host: parsed.host, path };
}

/**
 * Normalises a pull-secret `auths` key like the kubelet: scheme dropped, a leading `/v1/` or
 * `/v2/` dropped, key = `host[:port]` + remaining path. Globs in the host are kept. Throws
 * UsageError for keys the kubelet cannot parse (it ignores those entries).
 */
export function normalizeRegistryKey(key: string): RegistryKey {
  const normalized = registryKeyOrProblem(key);
  if (typeof normalized === 'string') {
    throw new UsageError(`invalid registry server ${JSON.stringify(key)}: ${normalized}`);
  }
  return normalized;
}

function tryNormalizeRegistryKey(key: string): RegistryKey | undefined {
  const normalized = registryKeyOrProblem(key);
  return typeof normalized === 'string' ? undefined : normalized;
}

/** The normalised key, or why the kubelet would ignore the entry. */
function registryKeyOrProblem(key: string): RegistryKey | string {
  const kubeletKey = kubeletKeyOf(key);
  if (!kubeletKey) return 'it is not an address the kubelet can parse';
  // The kubelet keeps such an entry, but a key without a host never matches an image.
  if (kubeletKey.host === '') return 'it has no host name';
  const registry = kubeletKey.host;
  const portStart = registry.startsWith('[') ? registry.indexOf(']') + 1 : registry.lastIndexOf(':');
  const hasPort = portStart > 0 && registry[portStart] === ':';
  const normalized: RegistryKey = {
    key: kubeletKey.key,
    registry,
    host: hasPort ? registry.slice(0, portStart) : registry,
    path: kubeletKey.path.slice(1),
  };
  const port = hasPort ? registry.slice(portStart + 1) : '';
  if (port !== '') normalized.port = port;
  return normalized;
}

// ---------------------------------------------------------------------------------------------
// Matching

/**
 * Whether the kubelet would try credentials stored under `key` for `image` (not counting the
 * Docker Hub fallback, see matchingKeys): equal ports (no port is not `:443`), the same number
 * of host labels, each label matched as a glob, and the key's path a string prefix of the
 * image's repository path. A key the kubelet cannot parse matches nothing.
 */
export function registryKeyMatchesImage(key: string | RegistryKey, image: string | ImageReference): boolean {
  const registryKey = typeof key === 'string' ? tryNormalizeRegistryKey(key) : key;
  if (!registryKey) return false;
  const reference = typeof image === 'string' ? normalizeImage(image) : image;
  return kubeletUrlsMatch(registryKey.key, reference.name);
}

/** URLsMatchStr: the key is parsed again from its normalised form, as the kubelet does. */
function kubeletUrlsMatch(key: string, imageName: string): boolean {
  const glob = parseUrlLikeGo(`https://${key}`);
  const target = parseUrlLikeGo(`https://${imageName}`);
  if (!glob || !target) return false;
  const globHost = splitHostPortLikeGo(glob.host);
  const targetHost = splitHostPortLikeGo(target.host);
  if (globHost.port !== targetHost.port) return false;
  const globLabels = globHost.host.split('.');
  const targetLabels = targetHost.host.split('.');
  if (globLabels.length !== targetLabels.length) return false;
  if (!target.path.startsWith(glob.path)) return false;
  return globLabels.every((label, index) => hostLabelMatches(label, targetLabels[index]!));
}

/**
 * The keys the kubelet tries for `image`, in the order it tries them: keys that match, most
 * specific first (reverse byte order of the normalised keys, as the keyring sorts its index;
 * entries with equal normalised keys keep their given order). When none matches and the
 * kubelet takes the image for a Docker Hub image, the keys normalising to `index.docker.io`.
 * Keys the kubelet cannot parse are left out. Throws UsageError for an invalid image.
 */
export function matchingKeys(image: string | ImageReference, keys: readonly string[]): string[] {
  const reference = typeof image === 'string' ? normalizeImage(image) : image;
  const entries = keys
    .map((raw, order) => ({ raw, order, normalized: tryNormalizeRegistryKey(raw) }))
    .filter((entry): entry is { raw: string; order: number; normalized: RegistryKey } => !!entry.normalized)
    .sort(
      (a, b) =>
        Buffer.compare(Buffer.from(b.normalized.key), Buffer.from(a.normalized.key)) || a.order - b.order,
    );
  const matched = entries.filter((entry) => kubeletUrlsMatch(entry.normalized.key, reference.name));
  if (matched.length > 0) return matched.map((entry) => entry.raw);
  if (!isDockerHubForKubelet(reference.name)) return [];
  return entries.filter((entry) => entry.normalized.key === DOCKER_HUB_FALLBACK_KEY).map((entry) => entry.raw);
}

/**
 * isDefaultRegistryMatch on the normalised name: a first component without '.' or ':' counts as
 * Docker Hub too, so `localhost/app` also gets the Docker Hub fallback, as in the kubelet.
 */
function isDockerHubForKubelet(imageName: string): boolean {
  const first = imageName.split('/', 1)[0]!;
  if (first === '') return false;
  if (!imageName.includes('/')) return true;
  if (first === DOCKER_HUB_REGISTRY || first === LEGACY_DOCKER_HUB_REGISTRY) return true;
  return !/[.:]/.test(first);
}

// ---------------------------------------------------------------------------------------------
// Globs (Go's path/filepath.Match)

type GlobToken =
  | { kind: 'star' }
  | { kind: 'any' }
  | { kind: 'literal'; char: string }
  | { kind: 'class'; negated: boolean; ranges: Array<[number, number]> };

/**
 * Whether a host label matches a glob label with Go's filepath.Match rules: `*` any run of
 * characters, `?` one character, `[a-z0-9]` a class, `[^...]` a negated class, `\` escapes.
 * `[!...]` is not negation in Go (it is a class containing '!'). A malformed pattern matches
 * nothing, because the kubelet treats Match's error as no match.
 */
export function hostLabelMatches(pattern: string, label: string): boolean {
  const tokens = compileGlob(pattern);
  if (!tokens) return false;
  const chars = Array.from(label);
  let tokenAt = 0;
  let charAt = 0;
  let starTokenAt = -1;
  let starCharAt = 0;
  while (charAt < chars.length) {
    const token = tokens[tokenAt];
    if (token?.kind === 'star') {
      [starTokenAt, starCharAt] = [tokenAt++, charAt];
    } else if (token && tokenMatches(token, chars[charAt]!)) {
      tokenAt++;
      charAt++;
    } else if (starTokenAt >= 0) {
      // Let the last star take one more character and retry from there.
      tokenAt = starTokenAt + 1;
      charAt = ++starCharAt;
    } else {
      return false;
    }
  }
  while (tokens[tokenAt]?.kind === 'star') tokenAt++;
  return tokenAt === tokens.length;
}

function tokenMatches(token: GlobToken, char: string): boolean {
  switch (token.kind) {
    case 'star':
      return false;
    case 'any':
      return true;
    case 'literal':
      return token.char === char;
    case 'class': {
      const code = char.codePointAt(0)!;
      return token.ranges.some(([low, high]) => low <= code && code <= high) !== token.negated;
    }
  }
}

function compileGlob(pattern: string): GlobToken[] | undefined {
  const chars = Array.from(pattern);
  const tokens: GlobToken[] = [];
  let at = 0;
  // One class member; Go refuses an unescaped '-' or ']' here.
  const classChar = (): number | undefined => {
    let char = chars[at];
    if (char === undefined || char === '-' || char === ']') return undefined;
    if (char === '\\') char = chars[++at];
    if (char === undefined) return undefined;
    at++;
    return char.codePointAt(0);
  };
  while (at < chars.length) {
    const char = chars[at]!;
    if (char === '*') {
      tokens.push({ kind: 'star' });
      at++;
    } else if (char === '?') {
      tokens.push({ kind: 'any' });
      at++;
    } else if (char === '\\') {
      const escaped = chars[at + 1];
      if (escaped === undefined) return undefined;
      tokens.push({ kind: 'literal', char: escaped });
      at += 2;
    } else if (char === '[') {
      at++;
      const negated = chars[at] === '^';
      if (negated) at++;
      const ranges: Array<[number, number]> = [];
      while (!(chars[at] === ']' && ranges.length > 0)) {
        const low = classChar();
        if (low === undefined) return undefined;
        let high = low;
        if (chars[at] === '-') {
          at++;
          const rangeEnd = classChar();
          if (rangeEnd === undefined) return undefined;
          high = rangeEnd;
        }
        ranges.push([low, high]);
      }
      at++;
      tokens.push({ kind: 'class', negated, ranges });
    } else {
      tokens.push({ kind: 'literal', char });
      at++;
    }
  }
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Checking a server the user wants to write

const SERVER_EXAMPLES = 'host[:port][/path] such as reg.example.com, reg.example.com:5000/team-a or *.corp.example';

/**
 * Checks a registry server given for a new pull secret (`add --server`) and returns it
 * normalised. Accepts the forms the kubelet uses (with or without http(s)://, ports, paths,
 * `/v1/` and `/v2/` API roots, `*` globs, `[::1]:5000`), and rejects, with a one-line
 * UsageError, forms the kubelet would ignore or read differently from what was meant.
 */
export function validateServerKey(server: string): RegistryKey {
  const fail = (reason: string): never => {
    throw new UsageError(`invalid registry server ${JSON.stringify(server)}: ${reason}; expected ${SERVER_EXAMPLES}`);
  };
  if (typeof server !== 'string' || server.trim() === '') fail('it is empty');
  if (/[\s\x00-\x1f\x7f]/.test(server)) fail('it contains whitespace or control characters');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(server);
  if (scheme && !server.startsWith('https://') && !server.startsWith('http://')) {
    fail(`the kubelet only understands a lowercase https:// or http:// prefix, not ${scheme[1]}://`);
  }
  if (server.includes('@')) fail('it must not contain "@" (user names belong in the credentials, digests in images)');
  if (/[?#]/.test(server)) fail('the kubelet reads "?" and "#" as the start of a URL query or fragment, so they cannot be globs');
  if (/^(?:https?:\/\/)?[^/[]+\[/.test(server)) fail('current kubelets ignore entries with "[...]" in the host name; use "*" globs instead');

  const parsed = registryKeyOrProblem(server);
  if (typeof parsed === 'string') return fail(parsed);
  const hostProblem = serverHostProblem(parsed);
  if (hostProblem) fail(hostProblem);
  if (parsed.port !== undefined && !(Number(parsed.port) >= 1 && Number(parsed.port) <= 65535)) {
    fail('the port must be a number from 1 to 65535');
  }
  if (parsed.port === undefined && /:$/.test(parsed.registry)) fail('the port after ":" is missing');
  if (/^v[12]$/.test(parsed.path)) {
    fail('a path of /v1 or /v2 without the trailing slash is read as a repository prefix; write /v2/ or leave it out');
  }
  if (!/^[a-z0-9._/-]*$/.test(parsed.path)) {
    fail('the repository path may only contain lowercase letters, digits, ".", "_", "-" and "/" (no tag or digest)');
  }
  return parsed;
}

function serverHostProblem(key: RegistryKey): string | undefined {
  if (key.host.startsWith('[')) {
    return key.port === undefined
      ? 'an IPv6 address needs a port, e.g. [::1]:5000 (the kubelet never matches one without a port)'
      : undefined;
  }
  if (key.host.toLowerCase() !== key.host) {
    return 'the kubelet compares host names case-sensitively with image names, which are lowercase; write it in lowercase';
  }
  const badLabel = key.host.split('.').find((label) => !/^[a-z0-9*-]+$/.test(label));
  if (badLabel !== undefined) {
    return `host name part ${JSON.stringify(badLabel)} must be letters, digits, "-" or "*" globs`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Registry identity and cloud registries

/**
 * Whether two registry keys or hosts name the same registry: host (case-insensitive, the Docker
 * Hub names `docker.io`, `index.docker.io` and `registry-1.docker.io` being one) and port must
 * agree; scheme, API root and repository path are ignored. Unparseable input matches nothing.
 */
export function sameRegistry(a: string, b: string): boolean {
  const first = registryIdentity(a);
  return first !== undefined && first === registryIdentity(b);
}

function registryIdentity(keyOrHost: string): string | undefined {
  const key = tryNormalizeRegistryKey(keyOrHost);
  if (!key) return undefined;
  const host = key.host.toLowerCase();
  const canonicalHost = DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB_REGISTRY : host;
  return key.port === undefined ? canonicalHost : `${canonicalHost}:${key.port}`;
}

const SHORT_LIVED_TOKEN_REGISTRIES: Array<{ label: string; host: RegExp }> = [
  { label: 'AWS ECR', host: /^[0-9]{12}\.dkr\.ecr(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$/ },
  { label: 'AWS ECR', host: /^[0-9]{12}\.dkr-ecr(?:-fips)?\.[a-z0-9-]+\.on\.aws$/ },
  { label: 'Google Container Registry', host: /^(?:[a-z0-9-]+\.)*gcr\.io$/ },
  { label: 'Google Artifact Registry', host: /^[a-z0-9-]+-docker\.pkg\.dev$/ },
  { label: 'Azure Container Registry', host: /^(?:[a-z0-9-]+\.)+azurecr\.(?:io|cn|us)$/ },
];

// These user names mean a long-lived key or account, not a token.
const GOOGLE_KEY_USERS = new Set(['_json_key', '_json_key_base64']);
const AZURE_TOKEN_USER = '00000000-0000-0000-0000-000000000000';

/**
 * The kind of registry, e.g. 'AWS ECR', when passwords for `server` are normally short-lived
 * tokens (hours), so a copied secret will stop working; undefined otherwise. With `username`,
 * credentials known to be long-lived (Google `_json_key`, an Azure user other than the token
 * user) are not flagged.
 */
export function shortLivedTokenRegistry(server: string, username?: string): string | undefined {
  const key = tryNormalizeRegistryKey(server);
  if (!key) return undefined;
  const host = key.host.toLowerCase().replace(/\.$/, '');
  const label = SHORT_LIVED_TOKEN_REGISTRIES.find((registry) => registry.host.test(host))?.label;
  if (label === undefined || username === undefined) return label;
  if (label.startsWith('Google') && GOOGLE_KEY_USERS.has(username)) return undefined;
  if (label.startsWith('Azure') && username !== AZURE_TOKEN_USER) return undefined;
  return label;
}
