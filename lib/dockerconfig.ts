// Docker config.json / pull-secret content: building it byte-for-byte like kubectl, reading it
// from Secrets and local files, merging, redacting, and resolving credentials held by Docker
// credential helpers. Nothing here talks to a cluster.
//
// Secret values (passwords, `auth`, identity/registry tokens, header values) must never reach an
// error message: messages only name files, registries, JSON paths and helper binaries.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { CliError, UsageError } from './errors';
import {
  decodeBase64LikeGo,
  decodeUtf8LikeGo,
  goFoldName,
  goJsonStringFromBytes,
  GoJsonSyntaxError,
  decodeRune,
  parseJsonLikeGo,
  type GoJsonValue,
} from './godecode';

/** One `auths` entry, as written by docker/podman/kubectl (all fields optional). */
export interface AuthEntry {
  username?: string;
  password?: string;
  /** base64("username:password"). */
  auth?: string;
  email?: string;
  serveraddress?: string;
  /** OAuth refresh token (docker login with a token). */
  identitytoken?: string;
  /** Bearer token for the registry. */
  registrytoken?: string;
}

/** The content of a `kubernetes.io/dockerconfigjson` Secret. */
export interface DockerConfigJson {
  auths: Record<string, AuthEntry>;
  HttpHeaders?: Record<string, string>;
}

/** A local docker/podman config file: Kubernetes' layout plus the credential-helper settings. */
export interface LocalDockerConfig extends DockerConfigJson {
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

export const DOCKERCONFIGJSON_TYPE = 'kubernetes.io/dockerconfigjson';
export const DOCKERCONFIGJSON_KEY = '.dockerconfigjson';
export const DOCKERCFG_TYPE = 'kubernetes.io/dockercfg';
export const DOCKERCFG_KEY = '.dockercfg';

/** Value that `redact` puts in place of every secret field. */
export const REDACTED = 'REDACTED';

/** A docker config is a few KB; anything this big is the wrong file. */
export const MAX_DOCKER_CONFIG_BYTES = 1024 * 1024;

export const DEFAULT_HELPER_TIMEOUT_MS = 10_000;
export const MAX_HELPER_OUTPUT_BYTES = 64 * 1024;

// ------------------------------------------------------------------------------------------------
// Go-compatible JSON

const GO_HEX = '0123456789abcdef';

/** A string as Go's encoding/json writes it (HTML-safe escaping, \u2028/\u2029 escaped). */
function goJsonString(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    switch (char) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '<':
      case '>':
      case '&':
      case '\u2028':
      case '\u2029':
        out += '\\u' + code.toString(16).padStart(4, '0');
        continue;
    }
    if (code < 0x20) {
      out += '\\u00' + GO_HEX[code >> 4] + GO_HEX[code & 0xf];
    } else if (code >= 0xd800 && code <= 0xdfff) {
      // A lone surrogate becomes U+FFFD when the string is UTF-8 encoded (for the argv of
      // kubectl too), and Go writes a valid U+FFFD raw; emitting it raw keeps both identical.
      out += '\ufffd';
    } else {
      out += char;
    }
  }
  return out + '"';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Compact JSON exactly as Go's json.Marshal would write the same structure: object keys in the
 * order given (sort them first where Go would marshal a map), undefined properties skipped.
 * Supports plain objects, arrays, strings, booleans, null and safe integers; anything else is a
 * programming error (Go formats floats differently, so they are refused rather than guessed).
 */
export function goJsonStringify(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return goJsonString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw new TypeError(`goJsonStringify supports only safe integers, got ${value}`);
      }
      return String(value);
  }
  if (Array.isArray(value)) {
    return '[' + value.map((item) => goJsonStringify(item === undefined ? null : item)).join(',') + ']';
  }
  if (isPlainObject(value)) {
    const members: string[] = [];
    for (const key of Object.keys(value)) {
      const member = value[key];
      if (member === undefined) continue;
      members.push(goJsonString(key) + ':' + goJsonStringify(member));
    }
    return '{' + members.join(',') + '}';
  }
  throw new TypeError(`goJsonStringify cannot encode a ${typeof value}`);
}

/** Go sorts map keys by their UTF-8 bytes, which differs from JS's UTF-16 order for astral chars. */
function goMapKeyOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Assigns an own property even for keys like "__proto__" that come from untrusted JSON. */
function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

function sortedRecord<T>(record: Record<string, T>, mapValue: (value: T) => unknown): Record<string, unknown> {
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(record).sort(goMapKeyOrder)) setOwn(sorted, key, mapValue(record[key]!));
  return sorted;
}

/** Field order of kubectl's DockerConfigEntry, then the Docker-only fields; empty ones omitted. */
function orderedEntry(entry: AuthEntry): Record<string, string | undefined> {
  const nonEmpty = (text: string | undefined) => (text ? text : undefined);
  return {
    username: nonEmpty(entry.username),
    password: nonEmpty(entry.password),
    email: nonEmpty(entry.email),
    auth: nonEmpty(entry.auth),
    serveraddress: nonEmpty(entry.serveraddress),
    identitytoken: nonEmpty(entry.identitytoken),
    registrytoken: nonEmpty(entry.registrytoken),
  };
}

/**
 * The bytes to store under `.dockerconfigjson`: Go-compatible compact JSON with `auths` (and
 * `HttpHeaders`) keys sorted as Go sorts map keys, so equal configs always hash the same.
 */
export function serializeDockerConfig(config: DockerConfigJson): string {
  const headers = config.HttpHeaders && Object.keys(config.HttpHeaders).length > 0
    ? sortedRecord(config.HttpHeaders, (value) => value)
    : undefined;
  return goJsonStringify({ auths: sortedRecord(config.auths, orderedEntry), HttpHeaders: headers });
}

export interface RegistryLogin {
  server: string;
  username: string;
  password: string;
  email?: string;
}

function base64Auth(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}

/**
 * The `.dockerconfigjson` that `kubectl create secret docker-registry` writes for the same
 * flags, byte for byte (verified against the real kubectl in the unit tests).
 */
export function buildDockerConfigJson(login: RegistryLogin): string {
  for (const field of ['server', 'username', 'password'] as const) {
    if (!login[field]) {
      throw new UsageError(`cannot build a pull secret: the registry ${field} is empty; give a non-empty ${field}`);
    }
  }
  const entry: AuthEntry = {
    username: login.username,
    password: login.password,
    email: login.email,
    auth: base64Auth(login.username, login.password),
  };
  const auths: Record<string, AuthEntry> = {};
  setOwn(auths, login.server, entry);
  return serializeDockerConfig({ auths });
}

/** sha256 hex of the exact bytes, for an annotation that detects drift without exposing content. */
export function contentHash(content: string | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

// ------------------------------------------------------------------------------------------------
// Shape checks shared by Secrets and local files

const ENTRY_FIELDS = ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const;

/** JSON-path-like label for messages; registry keys are not secret, values never appear. */
function where(container: string, key: string, field?: string): string {
  return `${container}[${JSON.stringify(key)}]${field ? '.' + field : ''}`;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const AUTH_FIELD_FORMAT_ERROR = 'unable to parse auth field, must be formatted as base64(username:password)';
// unicode.IsSpace, which strings.TrimSpace uses (JavaScript's trim() differs: it strips U+FEFF and keeps U+0085).
const GO_TRAILING_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/;

type AuthFieldDecoding = { ok: true; username: Buffer; password: Buffer } | { ok: false; error: string };

/**
 * The kubelet's decodeDockerConfigFieldAuth: StdEncoding when the value (trimmed) ends with "=",
 * else RawStdEncoding, so unpadded base64 is fine; then split at the first colon. The error is
 * the kubelet's own message. User name and password stay bytes, as in Go.
 */
function decodeAuthLikeKubelet(auth: string): AuthFieldDecoding {
  const decoded = decodeBase64LikeGo(auth, auth.replace(GO_TRAILING_SPACE, '').endsWith('='));
  if (!decoded.ok) return decoded;
  const colon = decoded.bytes.indexOf(0x3a);
  if (colon < 0) return { ok: false, error: AUTH_FIELD_FORMAT_ERROR };
  return { ok: true, username: decoded.bytes.subarray(0, colon), password: decoded.bytes.subarray(colon + 1) };
}

/**
 * Splits an `auth` field as the kubelet does (see decodeAuthLikeKubelet): base64, padded or not,
 * then at the first colon. Returns undefined when the kubelet would fail on it.
 */
export function decodeAuthField(auth: string): { username: string; password: string } | undefined {
  const decoded = decodeAuthLikeKubelet(auth);
  if (!decoded.ok) return undefined;
  return { username: decodeUtf8LikeGo(decoded.username), password: decodeUtf8LikeGo(decoded.password) };
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** Checks one `auths` map of a local docker config; returns a problem description instead of throwing. */
function checkAuths(value: unknown, container: string): Record<string, AuthEntry> | string {
  if (!isPlainObject(value)) return `${container} is ${describeType(value)}, not an object of registries`;
  const auths: Record<string, AuthEntry> = {};
  for (const key of Object.keys(value)) {
    const raw = value[key];
    if (!isPlainObject(raw)) return `${where(container, key)} is ${describeType(raw)}, not an object`;
    const entry: AuthEntry = {};
    for (const field of ENTRY_FIELDS) {
      const fieldValue = raw[field];
      if (fieldValue === undefined || fieldValue === null) continue;
      if (typeof fieldValue !== 'string') {
        return `${where(container, key, field)} is ${describeType(fieldValue)}, not a string`;
      }
      entry[field] = fieldValue;
    }
    setOwn(auths, key, entry);
  }
  return auths;
}

function checkStringMap(value: unknown, label: string): Record<string, string> | string {
  if (!isPlainObject(value)) return `${label} is ${describeType(value)}, not an object`;
  const result: Record<string, string> = {};
  for (const key of Object.keys(value)) {
    if (typeof value[key] !== 'string') return `${where(label, key)} is ${describeType(value[key])}, not a string`;
    setOwn(result, key, value[key] as string);
  }
  return result;
}

/** The credentials an entry gives kubelet/the runtime, or undefined when it has none. */
function usableCredentials(entry: AuthEntry): AuthEntry | undefined {
  const decoded = entry.auth ? decodeAuthField(entry.auth) : undefined;
  // As in kubelet, a decodable `auth` wins over the separate username/password fields.
  const username = decoded ? decoded.username : entry.username ?? '';
  const password = decoded ? decoded.password : entry.password ?? '';
  // The kubelet reads only username, password and auth: an identitytoken or registrytoken alone
  // never reaches the registry, so such an entry is not usable in a pull secret.
  if (!username || !password) return undefined;
  const result: AuthEntry = { username, password, auth: base64Auth(username, password) };
  if (entry.email) result.email = entry.email;
  return result;
}

// ------------------------------------------------------------------------------------------------
// Pull secrets in the cluster, read as the kubelet reads them
//
// The kubelet (pkg/credentialprovider/secrets.MakeDockerKeyring) decodes each pull secret of a
// pod with Go's encoding/json into DockerConfigJSON{Auths, HttpHeaders} (legacy: the map alone),
// whose entries decode their `auth` as they are read. What that implies, and what this code
// therefore does:
//   - field names match case-insensitively (`Auths`, `Username`, `AUTH`), the last one wins, and a
//     null value leaves a field as it was; a repeated `auths` adds to the map, a null one empties it;
//   - unknown fields are ignored (credsStore, identitytoken: the kubelet never sees them);
//   - an `auth` in unpadded base64 is fine; an `auth` that does not decode to "user:password",
//     a value of the wrong JSON type or invalid JSON fails the secret, and then
//     MakeDockerKeyring fails, and with it every pull of every pod that lists the secret;
//   - a secret of another type, or without its key, or with an empty value, is skipped silently.

/** The credentials the kubelet takes from one `auths` entry. */
export interface KubeletCredentials {
  username: string;
  password: string;
  email: string;
  /**
   * The kubelet's AuthConfigHash of them (sha256 of the JSON of username, password and email),
   * which it also uses to recognise the same credentials in another secret.
   */
  hash: string;
}

export type KubeletPullSecretReading =
  | {
      outcome: 'read';
      /** Entries as written (raw fields), keyed by `auths` key, in document order. */
      auths: Record<string, AuthEntry>;
      /** What the kubelet takes from each entry, by the same keys. */
      credentials: Record<string, KubeletCredentials>;
      headers?: Record<string, string>;
      /** The content names credsStore/credHelpers, which Kubernetes ignores. */
      usesCredentialHelpers: boolean;
    }
  /** Not a pull secret to the kubelet (another type, no key, empty value): it is skipped. */
  | { outcome: 'skipped'; reason: string }
  /** The kubelet cannot read it, so it cannot build the keyring of any pod that lists it. */
  | { outcome: 'failed'; reason: string; kubeletError?: string };

/** A failure that ends decoding at once, as an error returned by an UnmarshalJSON method does. */
class ImmediateFailure {
  constructor(
    readonly reason: string,
    readonly kubeletError?: string,
  ) {}
}

const JSON_TYPE_WORDS: Record<GoJsonValue['type'], string> = {
  null: 'null', bool: 'a boolean', number: 'a number', string: 'a string', array: 'an array', object: 'an object',
};

// Fields of the kubelet's dockerConfigEntryWithAuth, then those only docker reads (kept for
// copies and redaction, never used for a pull).
const KUBELET_ENTRY_FIELDS = new Map(['username', 'password', 'email', 'auth'].map((field) => [goFoldName(field), field]));
const DOCKER_ONLY_ENTRY_FIELDS = new Map(['serveraddress', 'identitytoken', 'registrytoken'].map((field) => [goFoldName(field), field]));

function credentialHash(username: Uint8Array, password: Uint8Array, email: Uint8Array): string {
  // json.Marshal of AuthConfig: every field omitempty, in this order.
  const members: string[] = [];
  if (username.length > 0) members.push(`"username":${goJsonStringFromBytes(username)}`);
  if (password.length > 0) members.push(`"password":${goJsonStringFromBytes(password)}`);
  if (email.length > 0) members.push(`"email":${goJsonStringFromBytes(email)}`);
  return contentHash(`{${members.join(',')}}`);
}

/** One `auths` entry, as DockerConfigEntry.UnmarshalJSON reads it. */
function readEntryLikeKubelet(value: GoJsonValue, label: string): { entry: AuthEntry; credentials: KubeletCredentials } {
  const entry: AuthEntry = {};
  if (value.type !== 'null' && value.type !== 'object') {
    throw new ImmediateFailure(`${label} is ${JSON_TYPE_WORDS[value.type]}, not an object`);
  }
  let typeProblem: string | undefined;
  for (const [name, fieldValue] of value.type === 'object' ? value.members : []) {
    const folded = goFoldName(name);
    const kubeletField = KUBELET_ENTRY_FIELDS.get(folded);
    const field = (kubeletField ?? DOCKER_ONLY_ENTRY_FIELDS.get(folded)) as keyof AuthEntry | undefined;
    if (field === undefined || fieldValue.type === 'null') continue;
    if (fieldValue.type === 'string') entry[field] = fieldValue.value;
    else if (kubeletField) typeProblem ??= `${label}.${field} is ${JSON_TYPE_WORDS[fieldValue.type]}, not a string`;
  }
  // The entry is decoded as a whole first: its type errors win over its auth.
  if (typeProblem) throw new ImmediateFailure(typeProblem);
  const email = Buffer.from(entry.email ?? '', 'utf8');
  let username: Uint8Array = Buffer.from(entry.username ?? '', 'utf8');
  let password: Uint8Array = Buffer.from(entry.password ?? '', 'utf8');
  if (entry.auth) {
    const decoded = decodeAuthLikeKubelet(entry.auth);
    if (!decoded.ok) {
      throw new ImmediateFailure(`${label}.auth is not base64 of "username:password" (the kubelet: ${decoded.error})`, decoded.error);
    }
    ({ username, password } = decoded);
  }
  return {
    entry,
    credentials: {
      username: decodeUtf8LikeGo(username),
      password: decodeUtf8LikeGo(password),
      email: decodeUtf8LikeGo(email),
      hash: credentialHash(username, password, email),
    },
  };
}

/** Line and column of a byte offset, for messages that must not quote the content. */
function lineAndColumn(bytes: Uint8Array, offset: number): string {
  const before = bytes.subarray(0, offset);
  const line = before.filter((byte) => byte === 0x0a).length + 1;
  const column = offset - before.lastIndexOf(0x0a);
  return `line ${line}, column ${column}`;
}

/**
 * Reads the `data` of a Secret (values base64, as the API returns them) exactly as the kubelet
 * reads a pull secret; see the notes above. Reasons never contain secret values.
 */
export function readPullSecretLikeKubelet(type: string | undefined, data: Record<string, string> | undefined): KubeletPullSecretReading {
  let key: string;
  if (type === DOCKERCONFIGJSON_TYPE) key = DOCKERCONFIGJSON_KEY;
  else if (type === DOCKERCFG_TYPE) key = DOCKERCFG_KEY;
  else {
    return { outcome: 'skipped', reason: `secret type ${JSON.stringify(type ?? '')} is not ${DOCKERCONFIGJSON_TYPE} or ${DOCKERCFG_TYPE}` };
  }
  const encoded = data?.[key];
  if (encoded === undefined || encoded === null) return { outcome: 'skipped', reason: `the secret has no ${key} key` };
  // The API server always sends valid base64; anything else did not come from it.
  if (typeof encoded !== 'string' || !STRICT_BASE64.test(encoded)) {
    return { outcome: 'failed', reason: `the ${key} value is not valid base64` };
  }
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.length === 0) return { outcome: 'skipped', reason: `the ${key} value is empty` };
  let document: GoJsonValue;
  try {
    document = parseJsonLikeGo(bytes);
  } catch (error) {
    if (!(error instanceof GoJsonSyntaxError)) throw error;
    const notUtf8 = error.offset < bytes.length && decodeRune(bytes, error.offset) === undefined;
    const what = notUtf8 ? 'not UTF-8 text' : 'not valid JSON';
    const where = error.offset >= bytes.length ? ' (it ends too early)' : ` at ${lineAndColumn(bytes, error.offset)}`;
    return { outcome: 'failed', reason: `the ${key} value is ${what}${where}` };
  }

  const auths: Record<string, AuthEntry> = {};
  const credentials: Record<string, KubeletCredentials> = {};
  let headers: Record<string, string> | undefined;
  let usesCredentialHelpers = false;
  // Type errors outside entries are remembered and reported at the end, as Go's decoder does.
  let typeProblem: string | undefined;
  const clear = (record: Record<string, unknown>) => {
    for (const name of Object.keys(record)) delete record[name];
  };
  const readAuths = (value: GoJsonValue, container: string) => {
    if (value.type === 'null') {
      clear(auths);
      clear(credentials);
    } else if (value.type !== 'object') {
      typeProblem ??= `${container} is ${JSON_TYPE_WORDS[value.type]}, not an object of registries`;
    } else {
      for (const [registry, entryValue] of value.members) {
        const read = readEntryLikeKubelet(entryValue, where(container, registry));
        setOwn(auths, registry, read.entry);
        setOwn(credentials, registry, read.credentials);
      }
    }
  };
  const readHeaders = (value: GoJsonValue) => {
    if (value.type === 'null') headers = undefined;
    else if (value.type !== 'object') typeProblem ??= `HttpHeaders is ${JSON_TYPE_WORDS[value.type]}, not an object`;
    else {
      headers ??= {};
      for (const [name, headerValue] of value.members) {
        if (headerValue.type === 'string' || headerValue.type === 'null') {
          setOwn(headers, name, headerValue.type === 'string' ? headerValue.value : '');
        } else {
          typeProblem ??= `${where('HttpHeaders', name)} is ${JSON_TYPE_WORDS[headerValue.type]}, not a string`;
        }
      }
    }
  };

  try {
    if (document.type !== 'null' && document.type !== 'object') {
      typeProblem = `the ${key} value is ${JSON_TYPE_WORDS[document.type]}, not a JSON object`;
    } else if (key === DOCKERCFG_KEY) {
      readAuths(document, key);
    } else {
      for (const [name, value] of document.type === 'object' ? document.members : []) {
        const folded = goFoldName(name);
        if (folded === 'AUTHS') readAuths(value, 'auths');
        else if (folded === 'HTTPHEADERS') readHeaders(value);
        else if (folded === 'CREDSSTORE' || folded === 'CREDHELPERS') usesCredentialHelpers = true;
      }
    }
  } catch (error) {
    if (!(error instanceof ImmediateFailure)) throw error;
    return { outcome: 'failed', reason: error.reason, ...(error.kubeletError ? { kubeletError: error.kubeletError } : {}) };
  }
  if (typeProblem) return { outcome: 'failed', reason: typeProblem };
  return { outcome: 'read', auths, credentials, ...(headers ? { headers } : {}), usesCredentialHelpers };
}

export type PullSecretParse =
  | {
      ok: true;
      config: DockerConfigJson;
      /** The content names credsStore/credHelpers, which Kubernetes ignores. */
      usesCredentialHelpers: boolean;
    }
  | { ok: false; reason: string };

/**
 * Decodes the `data` of a `kubernetes.io/dockerconfigjson` or legacy `kubernetes.io/dockercfg`
 * Secret as the kubelet does (readPullSecretLikeKubelet). Legacy content has no `auths` wrapper
 * and is returned wrapped. A missing `auths` counts as no entries, as it does for kubelet.
 */
export function parsePullSecretData(type: string | undefined, data: Record<string, string> | undefined): PullSecretParse {
  const reading = readPullSecretLikeKubelet(type, data);
  if (reading.outcome !== 'read') return { ok: false, reason: reading.reason };
  const config: DockerConfigJson = { auths: reading.auths };
  if (reading.headers) config.HttpHeaders = reading.headers;
  return { ok: true, config, usesCredentialHelpers: reading.usesCredentialHelpers };
}

export interface PullSecretInspection {
  status: 'ok' | 'malformed' | 'empty';
  /** Every `auths` key, in the secret's order (empty when malformed). */
  registries: string[];
  /** The subset of `registries` whose entry has no usable credentials. */
  emptyRegistries: string[];
  /** Distinct usernames of the usable entries (decoded from `auth` when present, like kubelet). */
  usernames: string[];
  /** Why the status is not ok; never contains secret values. */
  reason?: string;
}

/**
 * What `list` shows for a pull secret. `malformed` means the kubelet cannot read it (or skips it);
 * `empty` means no entry has a username and password, e.g. a Docker Desktop config with only
 * credsStore, or only identity tokens, which the kubelet does not read.
 */
export function inspectPullSecret(type: string | undefined, data: Record<string, string> | undefined): PullSecretInspection {
  return inspectReading(readPullSecretLikeKubelet(type, data));
}

/** inspectPullSecret for a secret already read. */
export function inspectReading(reading: KubeletPullSecretReading): PullSecretInspection {
  if (reading.outcome !== 'read') return { status: 'malformed', registries: [], emptyRegistries: [], usernames: [], reason: reading.reason };
  const registries = Object.keys(reading.auths);
  const emptyRegistries: string[] = [];
  const usernames: string[] = [];
  for (const registry of registries) {
    const { username, password } = reading.credentials[registry]!;
    if (!username || !password) {
      emptyRegistries.push(registry);
      continue;
    }
    if (!usernames.includes(username)) usernames.push(username);
  }
  if (emptyRegistries.length < registries.length) return { status: 'ok', registries, emptyRegistries, usernames };
  const ignored = reading.usesCredentialHelpers ? ' (credsStore/credHelpers are ignored by Kubernetes)' : '';
  const reason = registries.length === 0
    ? `it lists no registries${ignored}; recreate it with a registry, username and password`
    : `no registry entry has credentials${ignored}; recreate it with a username and password`;
  return { status: 'empty', registries, emptyRegistries, usernames, reason };
}

// ------------------------------------------------------------------------------------------------
// Merging and redacting

/** `existing` with `added`'s entries (and headers) replacing those under the exact same key. */
export function mergeAuths(existing: DockerConfigJson, added: DockerConfigJson): DockerConfigJson {
  const auths: Record<string, AuthEntry> = {};
  for (const source of [existing.auths, added.auths]) {
    for (const key of Object.keys(source)) setOwn(auths, key, { ...source[key] });
  }
  const merged: DockerConfigJson = { auths };
  if (existing.HttpHeaders || added.HttpHeaders) {
    const headers: Record<string, string> = {};
    for (const source of [existing.HttpHeaders ?? {}, added.HttpHeaders ?? {}]) {
      for (const key of Object.keys(source)) setOwn(headers, key, source[key]!);
    }
    merged.HttpHeaders = headers;
  }
  return merged;
}

/**
 * A copy safe to print: every non-empty password, auth, identitytoken, registrytoken and every
 * HttpHeaders value is replaced by "REDACTED" (kept rather than removed, so the reader still sees
 * which credentials exist). Fields other than the known ones are dropped.
 */
export function redact(config: DockerConfigJson): DockerConfigJson {
  const hide = (text: string | undefined) => (text ? REDACTED : text);
  const auths: Record<string, AuthEntry> = {};
  for (const key of Object.keys(config.auths)) {
    const entry = config.auths[key]!;
    const copy: AuthEntry = {};
    if (entry.username !== undefined) copy.username = entry.username;
    if (entry.password !== undefined) copy.password = hide(entry.password);
    if (entry.email !== undefined) copy.email = entry.email;
    if (entry.auth !== undefined) copy.auth = hide(entry.auth);
    if (entry.serveraddress !== undefined) copy.serveraddress = entry.serveraddress;
    if (entry.identitytoken !== undefined) copy.identitytoken = hide(entry.identitytoken);
    if (entry.registrytoken !== undefined) copy.registrytoken = hide(entry.registrytoken);
    setOwn(auths, key, copy);
  }
  const result: DockerConfigJson = { auths };
  if (config.HttpHeaders) {
    const headers: Record<string, string> = {};
    for (const key of Object.keys(config.HttpHeaders)) setOwn(headers, key, REDACTED);
    result.HttpHeaders = headers;
  }
  return result;
}

// ------------------------------------------------------------------------------------------------
// Local docker / podman config files

/** $DOCKER_CONFIG/config.json when DOCKER_CONFIG is set, else ~/.docker/config.json (as docker). */
export function defaultDockerConfigPath(env: Record<string, string | undefined>, homedir: string): string {
  const dir = env.DOCKER_CONFIG;
  return dir ? path.join(dir, 'config.json') : path.join(homedir, '.docker', 'config.json');
}

/** " at line L, column C" from a JSON.parse error, without V8's quote of the input (may hold secrets). */
function jsonErrorLocation(error: unknown, text: string): string {
  const match = /at position (\d+)/.exec(error instanceof Error ? error.message : '');
  if (!match) return '';
  const before = text.slice(0, Number(match[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return ` at line ${line}, column ${column}`;
}

function fileErrorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

/**
 * Reads and shape-checks a docker `config.json` or podman/skopeo `auth.json`. Failures are
 * one-line UsageErrors naming the file and the fix. `auth` fields are checked later, only for the
 * registries actually used, so one stale entry does not block the others.
 */
export async function readDockerConfigFile(file: string, options: { maxBytes?: number } = {}): Promise<LocalDockerConfig> {
  const maxBytes = options.maxBytes ?? MAX_DOCKER_CONFIG_BYTES;
  let bytes: Buffer;
  try {
    const handle = await open(file, 'r');
    try {
      const info = await handle.stat();
      if (info.isDirectory()) throw new UsageError(`docker config ${file} is a directory; give the path of its config.json`);
      if (info.size > maxBytes) throw tooLarge(file, maxBytes);
      // Read one byte past the cap so a file that grew after stat is still refused.
      const buffer = Buffer.alloc(maxBytes + 1);
      let length = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
        if (bytesRead === 0) break;
        length += bytesRead;
        if (length > maxBytes) throw tooLarge(file, maxBytes);
      }
      bytes = buffer.subarray(0, length);
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof CliError) throw error;
    switch (fileErrorCode(error)) {
      case 'ENOENT':
      case 'ENOTDIR':
        throw new UsageError(`docker config ${file} does not exist; run \`docker login REGISTRY\` or give the path of an existing config`);
      case 'EACCES':
      case 'EPERM':
        throw new UsageError(`cannot read docker config ${file}: permission denied; check the file's permissions`);
      case 'EISDIR':
        throw new UsageError(`docker config ${file} is a directory; give the path of its config.json`);
      default:
        throw new UsageError(`cannot read docker config ${file}: ${fileErrorCode(error) ?? 'unknown error'}; check the path`);
    }
  }
  const text = decodeUtf8(bytes);
  if (text === undefined) throw new UsageError(`docker config ${file} is not UTF-8 text; give the path of a docker config.json`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`docker config ${file} is not valid JSON${jsonErrorLocation(error, text)}; fix the file or log in again with \`docker login\``);
  }
  const config = checkLocalConfig(parsed);
  if (typeof config === 'string') {
    throw new UsageError(`docker config ${file} has the wrong shape: ${config}; fix the file or log in again with \`docker login\``);
  }
  return config;
}

function tooLarge(file: string, maxBytes: number): UsageError {
  const limit = maxBytes % (1024 * 1024) === 0 ? `${maxBytes / (1024 * 1024)} MiB` : `${maxBytes} bytes`;
  return new UsageError(`docker config ${file} is larger than ${limit}, too large for a docker config; check the path`);
}

function checkLocalConfig(parsed: unknown): LocalDockerConfig | string {
  if (!isPlainObject(parsed)) return `the top level is ${describeType(parsed)}, not an object`;
  const auths = parsed.auths === undefined || parsed.auths === null ? {} : checkAuths(parsed.auths, 'auths');
  if (typeof auths === 'string') return auths;
  const config: LocalDockerConfig = { auths };
  if (parsed.credsStore !== undefined && parsed.credsStore !== null && parsed.credsStore !== '') {
    if (typeof parsed.credsStore !== 'string') return `credsStore is ${describeType(parsed.credsStore)}, not a string`;
    config.credsStore = parsed.credsStore;
  }
  if (parsed.credHelpers !== undefined && parsed.credHelpers !== null) {
    const helpers = checkStringMap(parsed.credHelpers, 'credHelpers');
    if (typeof helpers === 'string') return helpers;
    config.credHelpers = helpers;
  }
  if (parsed.HttpHeaders !== undefined && parsed.HttpHeaders !== null) {
    const headers = checkStringMap(parsed.HttpHeaders, 'HttpHeaders');
    if (typeof headers === 'string') return headers;
    config.HttpHeaders = headers;
  }
  return config;
}

// ------------------------------------------------------------------------------------------------
// Registry names

const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/**
 * A registry key reduced for comparison: scheme dropped, host lower-cased, a leading /v1/ or /v2/
 * and trailing slashes dropped (as kubelet does), and Docker Hub's aliases folded to docker.io.
 * `https://index.docker.io/v1/`, `index.docker.io` and `docker.io` all give `docker.io`.
 */
export function normalizeRegistry(key: string): string {
  const withoutScheme = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = withoutScheme.indexOf('/');
  let host = (slash < 0 ? withoutScheme : withoutScheme.slice(0, slash)).toLowerCase();
  let rest = slash < 0 ? '' : withoutScheme.slice(slash);
  if (rest.startsWith('/v1/') || rest.startsWith('/v2/') || rest === '/v1' || rest === '/v2') rest = rest.slice(3);
  rest = rest.replace(/\/+$/, '');
  if (DOCKER_HUB_HOSTS.has(host)) host = 'docker.io';
  return host + rest;
}

function registryHost(key: string): string {
  const normalized = normalizeRegistry(key);
  const slash = normalized.indexOf('/');
  return slash < 0 ? normalized : normalized.slice(0, slash);
}

// ------------------------------------------------------------------------------------------------
// Credential helpers

/** What a helper returned; `username` "<token>" means `secret` is an identity token. */
export interface HelperCredentials {
  username: string;
  secret: string;
}

/** Runs `docker-credential-<helper> get` for one server; injectable for tests. */
export type HelperRunner = (helper: string, serverUrl: string) => Promise<HelperCredentials>;

export interface RunHelperOptions {
  timeoutMs?: number;
  maxOutputBytes?: number;
  /** Environment for the helper and for finding it on PATH; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const IDENTITY_TOKEN_USERNAME = '<token>';

/** First non-blank line, without control characters, at most 200 characters. */
function firstLine(text: string): string {
  const line = text.split(/\r?\n/).map((part) => part.trim()).find((part) => part !== '') ?? '';
  const clean = line.replace(/\p{Cc}/gu, ' ');
  return clean.length > 200 ? clean.slice(0, 200) + '…' : clean;
}

/**
 * The Docker credential-helper protocol: `docker-credential-<helper> get` with the server address
 * on stdin prints {"ServerURL","Username","Secret"}. Spawned without a shell, killed after the
 * timeout, output capped. Failures are one-line CliErrors that never include the output.
 */
export function runCredentialHelper(helper: string, serverUrl: string, options: RunHelperOptions = {}): Promise<HelperCredentials> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS;
  const maxOutputBytes = options.maxOutputBytes ?? MAX_HELPER_OUTPUT_BYTES;
  if (!HELPER_NAME.test(helper)) {
    // A slash would make spawn run an arbitrary path instead of looking the helper up on PATH.
    return Promise.reject(new UsageError(`credential helper name ${JSON.stringify(helper)} (for registry ${serverUrl}) is not valid; fix credsStore/credHelpers in the docker config`));
  }
  const binary = `docker-credential-${helper}`;
  const subject = `credential helper ${binary} (for registry ${serverUrl})`;

  return new Promise<HelperCredentials>((resolve, reject) => {
    const child = spawn(binary, ['get'], { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], shell: false });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let outputBytes = 0;
    let settled = false;

    const finish = (error: Error | undefined, value?: HelperCredentials) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        // Helpers run grandchildren (e.g. shell scripts) that may hold the pipes open; dropping
        // our ends lets this process exit without waiting for them.
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        child.stdout.destroy();
        child.stderr.destroy();
        child.stdin.destroy();
        reject(error);
      } else {
        resolve(value!);
      }
    };

    const timer = setTimeout(() => {
      const seconds = timeoutMs >= 1000 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`;
      finish(new CliError(`${subject} did not answer within ${seconds}; it may be waiting for a locked keychain or a prompt — unlock it, or check that \`${binary} get\` works`));
    }, timeoutMs);

    const collect = (sink: Buffer[]) => (chunk: Buffer) => {
      outputBytes += chunk.length;
      if (outputBytes > maxOutputBytes) {
        finish(new CliError(`${subject} printed more than ${maxOutputBytes} bytes; check that \`${binary} get\` works`));
        return;
      }
      sink.push(chunk);
    };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));

    child.on('error', (error) => {
      const code = fileErrorCode(error);
      if (code === 'ENOENT') {
        finish(new CliError(`${subject} was not found on PATH; install ${binary}, or log in again so the credentials are stored in the config file`));
      } else if (code === 'EACCES') {
        finish(new CliError(`${subject} is not executable; fix its permissions`));
      } else {
        finish(new CliError(`${subject} could not be started (${code ?? 'unknown error'})`));
      }
    });
    // The helper may exit without reading stdin; the resulting EPIPE is not the failure to report.
    child.stdin.on('error', () => {});
    child.stdin.end(serverUrl);

    child.on('close', (code, signal) => {
      if (settled) return;
      const out = Buffer.concat(stdout).toString('utf8');
      if (code !== 0) {
        if (signal) {
          finish(new CliError(`${subject} was killed by ${signal}; check that \`${binary} get\` works`));
          return;
        }
        // docker-credential-helpers print their error to stdout; on failure stdout holds no secret.
        const message = firstLine(Buffer.concat(stderr).toString('utf8')) || (out.trimStart().startsWith('{') ? '' : firstLine(out));
        if (/credentials not found/i.test(message)) {
          finish(new CliError(`${subject} has no credentials for it; run \`docker login ${serverUrl}\``));
          return;
        }
        finish(new CliError(`${subject} exited with code ${code}${message ? ': ' + message : ''}`));
        return;
      }
      const credentials = parseHelperOutput(out);
      if (!credentials) {
        finish(new CliError(`${subject} printed output that is not {"ServerURL","Username","Secret"} JSON; check that \`${binary} get\` works`));
      } else if (!credentials.secret) {
        finish(new CliError(`${subject} returned an empty secret; run \`docker login ${serverUrl}\``));
      } else {
        finish(undefined, credentials);
      }
    });
  });
}

function parseHelperOutput(out: string): HelperCredentials | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(out);
  } catch {
    return undefined;
  }
  if (!isPlainObject(parsed)) return undefined;
  const { Username: username, Secret: secret } = parsed;
  if (typeof secret !== 'string' || (username !== undefined && typeof username !== 'string')) return undefined;
  return { username: username ?? '', secret };
}

function entryFromHelper(credentials: HelperCredentials, helperLabel: string, registry: string): AuthEntry {
  if (credentials.username === IDENTITY_TOKEN_USERNAME) {
    throw new CliError(
      `${helperLabel} (for registry ${registry}) holds an identity token, which the kubelet cannot use; log in with a username and password (or an access token as the password)`,
    );
  }
  if (!credentials.username) {
    throw new CliError(`${helperLabel} (for registry ${registry}) returned no username; run \`docker login ${registry}\``);
  }
  return {
    username: credentials.username,
    password: credentials.secret,
    auth: base64Auth(credentials.username, credentials.secret),
  };
}

// ------------------------------------------------------------------------------------------------
// Resolving what goes into a pull secret

export interface ResolveOptions {
  /** `--registry` selections; matched to config keys by normalised registry. Empty = all. */
  registries?: string[];
  /** Defaults to runCredentialHelper with `helperTimeoutMs`. */
  runHelper?: HelperRunner;
  helperTimeoutMs?: number;
}

/** Keys of auths plus credHelpers keys that do not name a registry already in auths. */
function candidateRegistries(config: LocalDockerConfig): string[] {
  const keys = Object.keys(config.auths);
  const seen = new Set(keys.map(normalizeRegistry));
  for (const key of Object.keys(config.credHelpers ?? {})) {
    const normalized = normalizeRegistry(key);
    if (seen.has(normalized)) continue;
    seen.add(normalized);
    keys.push(key);
  }
  return keys;
}

function selectRegistries(candidates: string[], selections: string[]): string[] {
  const selected: string[] = [];
  for (const selection of selections) {
    const wanted = normalizeRegistry(selection);
    let matches = candidates.filter((key) => normalizeRegistry(key) === wanted);
    if (matches.length === 0 && !wanted.includes('/')) {
      // A bare host also selects keys scoped to paths on that host (e.g. host/team-a).
      matches = candidates.filter((key) => registryHost(key) === wanted);
    }
    if (matches.length === 0) {
      const present = candidates.length > 0 ? `it has: ${candidates.join(', ')}` : 'it has no registries';
      throw new UsageError(`registry ${selection} is not in the docker config (${present}); run \`docker login ${selection}\` or pick one of those`);
    }
    for (const key of matches) if (!selected.includes(key)) selected.push(key);
  }
  return selected;
}

/** credHelpers[key], else the helper configured for the key's host (docker looks up by host). */
function helperFor(config: LocalDockerConfig, key: string): { name: string; source: string } | undefined {
  const helpers = config.credHelpers ?? {};
  if (Object.hasOwn(helpers, key)) return { name: helpers[key]!, source: 'credHelpers' };
  const host = registryHost(key);
  const byHost = Object.keys(helpers).find((candidate) => registryHost(candidate) === host);
  if (byHost !== undefined) return { name: helpers[byHost]!, source: 'credHelpers' };
  if (config.credsStore) return { name: config.credsStore, source: 'credsStore' };
  return undefined;
}

/**
 * The pull-secret content for the selected registries of a local docker/podman config: inline
 * credentials from `auths` first, else from the credential helper (credHelpers over credsStore).
 * Every selected registry must yield credentials — a partial or empty result is an error.
 */
export async function resolveCredentials(config: LocalDockerConfig, options: ResolveOptions = {}): Promise<DockerConfigJson> {
  const runHelper: HelperRunner =
    options.runHelper ?? ((helper, serverUrl) => runCredentialHelper(helper, serverUrl, { timeoutMs: options.helperTimeoutMs }));
  const candidates = candidateRegistries(config);
  const selections = options.registries ?? [];
  const selected = selections.length > 0 ? selectRegistries(candidates, selections) : candidates;
  if (selected.length === 0) {
    throw new UsageError('the docker config lists no registries; run `docker login REGISTRY` first');
  }

  const auths: Record<string, AuthEntry> = {};
  for (const key of selected) {
    const entry = Object.hasOwn(config.auths, key) ? config.auths[key]! : {};
    if (entry.auth && !decodeAuthField(entry.auth)) {
      throw new UsageError(`the docker config's auth for registry ${key} is not base64 of "username:password"; run \`docker login ${key}\` again`);
    }
    const inline = usableCredentials(entry);
    if (inline) {
      setOwn(auths, key, inline);
      continue;
    }
    const helper = helperFor(config, key);
    if (!helper) {
      if (entry.identitytoken || entry.registrytoken) {
        throw new UsageError(
          `the docker config holds only an identity or registry token for registry ${key}, which the kubelet cannot use; log in with a username and password (or an access token as the password): \`docker login ${key}\``,
        );
      }
      throw new UsageError(`the docker config has no credentials for registry ${key} (no username/password, no credsStore or credHelpers); run \`docker login ${key}\``);
    }
    const credentials = await runHelper(helper.name, key);
    setOwn(auths, key, entryFromHelper(credentials, `credential helper docker-credential-${helper.name}`, key));
  }
  // HttpHeaders are deliberately not copied: in a local config they describe the local client
  // (e.g. User-Agent), not something every node in the cluster should send.
  return { auths };
}
