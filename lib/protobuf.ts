// The API server's protobuf encoding, read for the few kinds the plugin streams in bulk (see
// watchList in cluster.ts): namespaces, secrets and ServiceAccounts, and the Status of an error.
//
// Why: at 10,000 namespaces a no-op sync reads about 57 MB of JSON, and the API server's JSON
// encoding of it, on the cores it shares with everything else, takes longer than all our own
// work. The same lists in protobuf are a third of the bytes and take the server a third of the
// time (ServiceAccounts: 20.1 MB in 0.80 s as JSON, 6.0 MB in 0.31 s as protobuf).
//
// Each object is decoded into exactly what the API's JSON gives for it, field names, omitted
// empty fields and RFC 3339 timestamps included, so nothing downstream knows which encoding was
// read; managedFields alone are not decoded (nothing reads them: see withoutManagedFields).
// tests/integration/protobuf.test.ts checks this against the JSON the same API server returns
// for the same objects. Field numbers are those of the Kubernetes API's generated.proto files.

/** The prefix of an object encoded by the API server: "k8s" and a zero byte, then a runtime.Unknown. */
const ENVELOPE_MAGIC = [0x6b, 0x38, 0x73, 0x00];

/** The content type asked for: protobuf, framed for a watch. */
export const PROTOBUF_WATCH = 'application/vnd.kubernetes.protobuf;stream=watch';
export const PROTOBUF = 'application/vnd.kubernetes.protobuf';

export class ProtobufError extends Error {
  constructor(message: string) {
    super(`cannot decode the API server's protobuf: ${message}`);
    this.name = 'ProtobufError';
  }
}

// The decoder reads one buffer at a time with a module-level cursor, and each message is a loop
// over its tags up to its end offset: no reader object, closure or buffer view per field. The
// first version, written with those, spent more time collecting their garbage than JSON.parse
// spends on the same objects (60,000 ServiceAccounts: 0.35 s of its 0.85 s of CPU).
let buffer: Buffer = Buffer.alloc(0);
let pos = 0;

const truncated = () => new ProtobufError('a field runs past its message');

/** A varint as a number: exact up to 2^53, which every count, size and time here is. */
function varint(): number {
  let byte = buffer[pos++];
  if (byte < 0x80) return byte;
  let value = byte & 0x7f;
  let scale = 0x80;
  do {
    byte = buffer[pos++];
    if (byte === undefined) throw truncated();
    value += (byte & 0x7f) * scale;
    scale *= 0x80;
  } while (byte >= 0x80);
  return value;
}

/** A signed int32 or int64 field's varint: negative values are ten bytes of two's complement. */
function signed(): number {
  const value = varint();
  return value >= 2 ** 63 ? value - 2 ** 64 : value;
}

/** The end of the length-delimited field whose length comes next, within `end`. */
function delimited(end: number): number {
  const length = varint(); // before reading pos: varint() moves it
  const stop = pos + length;
  if (stop > end) throw truncated();
  return stop;
}

/** Buffer's own UTF-8 decoder, without toString's argument checks (a third of its time here). */
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice(this: Buffer, start: number, end: number): string }).utf8Slice;

function string(end: number): string {
  const stop = delimited(end);
  const value = stop === pos ? '' : utf8Slice.call(buffer, pos, stop);
  pos = stop;
  return value;
}

/**
 * A string that is often the same as the last one read by this cache: the namespace of the
 * objects of a list (which come namespace by namespace), the envelope's kind. Reused, it is
 * neither decoded nor kept in memory once per object.
 */
class RepeatedString {
  private bytes = Buffer.alloc(0);
  private value = '';

  read(end: number): string {
    const stop = delimited(end);
    const length = stop - pos;
    if (length !== this.bytes.length || this.bytes.compare(buffer, pos, stop) !== 0) {
      this.bytes = Buffer.from(buffer.subarray(pos, stop));
      this.value = utf8Slice.call(buffer, pos, stop);
    }
    pos = stop;
    return this.value;
  }
}

const namespaces = new RepeatedString();
const apiVersions = new RepeatedString();
const kinds = new RepeatedString();

function base64(end: number): string {
  const stop = delimited(end);
  const value = stop === pos ? '' : buffer.toString('base64', pos, stop);
  pos = stop;
  return value;
}

function bool(): boolean {
  return varint() !== 0;
}

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

function skip(tag: number, end: number): void {
  switch (tag & 7) {
    case VARINT: varint(); break;
    case FIXED64: pos += 8; break;
    case LENGTH_DELIMITED: pos = delimited(end); break;
    case FIXED32: pos += 4; break;
    default: throw new ProtobufError(`unsupported wire type ${tag & 7}`);
  }
  if (pos > end) throw truncated();
}

// Tags: field number << 3 | wire type. Length-delimited fields 1 to 17:
const F1 = 0x0a, F2 = 0x12, F3 = 0x1a, F4 = 0x22, F5 = 0x2a, F6 = 0x32, F7 = 0x3a, F8 = 0x42, F9 = 0x4a;
const F11 = 0x5a, F12 = 0x62, F13 = 0x6a, F14 = 0x72;
// Varint fields:
const V4 = 0x20, V5 = 0x28, V6 = 0x30, V7 = 0x38, V10 = 0x50;

type Json = Record<string, unknown>;

/** Strings are on the wire even when empty; the API's JSON omits the empty ones. */
function setString(object: Json, key: string, end: number): void {
  const value = string(end);
  if (value !== '') object[key] = value;
}

/** One entry (key 1, value 2) of a map<string, string> or, with `bytes`, map<string, bytes> (base64 in JSON). */
function mapEntry(map: Record<string, string>, end: number, bytes: boolean): Record<string, string> {
  const stop = delimited(end);
  let key = '';
  let value = '';
  while (pos < stop) {
    const tag = varint();
    if (tag === F1) key = string(stop);
    else if (tag === F2) value = bytes ? base64(stop) : string(stop);
    else skip(tag, stop);
  }
  map[key] = value;
  return map;
}

/** The last timestamp formatted: objects made together share their second. */
let lastSeconds = Number.NaN;
let lastTimestamp = '';

/**
 * A metav1.Time (seconds 1, nanos 2) as its JSON: RFC 3339 to the second, in UTC. The zero time
 * is an empty message on the wire and null in the JSON.
 */
function time(end: number): string | null {
  const stop = delimited(end);
  if (stop === pos) return null;
  let seconds = 0;
  while (pos < stop) {
    const tag = varint();
    if (tag === 0x08) seconds = signed();
    else skip(tag, stop);
  }
  if (seconds !== lastSeconds) {
    lastSeconds = seconds;
    lastTimestamp = `${new Date(seconds * 1000).toISOString().slice(0, 19)}Z`;
  }
  return lastTimestamp;
}

function ownerReference(end: number): Json {
  const stop = delimited(end);
  const reference: Json = {};
  while (pos < stop) {
    const tag = varint();
    switch (tag) {
      case F5: reference.apiVersion = string(stop); break;
      case F1: reference.kind = string(stop); break;
      case F3: reference.name = string(stop); break;
      case F4: reference.uid = string(stop); break;
      case V6: reference.controller = bool(); break;
      case V7: reference.blockOwnerDeletion = bool(); break;
      default: skip(tag, stop);
    }
  }
  return reference;
}

function objectMeta(end: number): Json {
  const stop = delimited(end);
  const meta: Json = {};
  let labels: Record<string, string> | undefined;
  let annotations: Record<string, string> | undefined;
  let ownerReferences: Json[] | undefined;
  let finalizers: string[] | undefined;
  while (pos < stop) {
    const tag = varint();
    switch (tag) {
      case F1: setString(meta, 'name', stop); break;
      case F2: setString(meta, 'generateName', stop); break;
      case F3: {
        const namespace = namespaces.read(stop);
        if (namespace !== '') meta.namespace = namespace;
        break;
      }
      case F4: setString(meta, 'selfLink', stop); break;
      case F5: setString(meta, 'uid', stop); break;
      case F6: setString(meta, 'resourceVersion', stop); break;
      case V7: {
        const generation = signed();
        if (generation !== 0) meta.generation = generation;
        break;
      }
      case F8: meta.creationTimestamp = time(stop); break;
      case F9: meta.deletionTimestamp = time(stop); break;
      case V10: meta.deletionGracePeriodSeconds = signed(); break;
      case F11: labels = mapEntry(labels ?? {}, stop, false); break;
      case F12: annotations = mapEntry(annotations ?? {}, stop, false); break;
      case F13: (ownerReferences ??= []).push(ownerReference(stop)); break;
      case F14: (finalizers ??= []).push(string(stop)); break;
      // 17, managedFields: not decoded (see the top of this file).
      default: skip(tag, stop);
    }
  }
  if (labels) meta.labels = labels;
  if (annotations) meta.annotations = annotations;
  if (ownerReferences) meta.ownerReferences = ownerReferences;
  if (finalizers) meta.finalizers = finalizers;
  return meta;
}

function secret(object: Json, end: number): void {
  let data: Record<string, string> | undefined;
  let stringData: Record<string, string> | undefined;
  while (pos < end) {
    const tag = varint();
    switch (tag) {
      case F1: object.metadata = objectMeta(end); break;
      case F2: data = mapEntry(data ?? {}, end, true); break;
      case F3: setString(object, 'type', end); break;
      case F4: stringData = mapEntry(stringData ?? {}, end, false); break;
      case V5: object.immutable = bool(); break;
      default: skip(tag, end);
    }
  }
  if (data) object.data = data;
  if (stringData) object.stringData = stringData;
}

function objectReference(end: number): Json {
  const stop = delimited(end);
  const reference: Json = {};
  while (pos < stop) {
    const tag = varint();
    switch (tag) {
      case F1: setString(reference, 'kind', stop); break;
      case F2: setString(reference, 'namespace', stop); break;
      case F3: setString(reference, 'name', stop); break;
      case F4: setString(reference, 'uid', stop); break;
      case F5: setString(reference, 'apiVersion', stop); break;
      case F6: setString(reference, 'resourceVersion', stop); break;
      case F7: setString(reference, 'fieldPath', stop); break;
      default: skip(tag, stop);
    }
  }
  return reference;
}

function localObjectReference(end: number): Json {
  const stop = delimited(end);
  const reference: Json = {};
  while (pos < stop) {
    const tag = varint();
    if (tag === F1) setString(reference, 'name', stop);
    else skip(tag, stop);
  }
  return reference;
}

function serviceAccount(object: Json, end: number): void {
  let secrets: Json[] | undefined;
  let imagePullSecrets: Json[] | undefined;
  while (pos < end) {
    const tag = varint();
    switch (tag) {
      case F1: object.metadata = objectMeta(end); break;
      case F2: (secrets ??= []).push(objectReference(end)); break;
      case F3: (imagePullSecrets ??= []).push(localObjectReference(end)); break;
      case V4: object.automountServiceAccountToken = bool(); break;
      default: skip(tag, end);
    }
  }
  if (secrets) object.secrets = secrets;
  if (imagePullSecrets) object.imagePullSecrets = imagePullSecrets;
}

function namespaceCondition(end: number): Json {
  const stop = delimited(end);
  const condition: Json = {};
  while (pos < stop) {
    const tag = varint();
    switch (tag) {
      case F1: condition.type = string(stop); break;
      case F2: condition.status = string(stop); break;
      case F4: condition.lastTransitionTime = time(stop); break;
      case F5: setString(condition, 'reason', stop); break;
      case F6: setString(condition, 'message', stop); break;
      default: skip(tag, stop);
    }
  }
  return condition;
}

function namespace(object: Json, end: number): void {
  // The API's JSON always has both, however empty (they are structs, not pointers).
  const spec: { finalizers?: string[] } = {};
  const status: Json = {};
  let conditions: Json[] | undefined;
  while (pos < end) {
    const tag = varint();
    if (tag === F1) object.metadata = objectMeta(end);
    else if (tag === F2) {
      const stop = delimited(end);
      while (pos < stop) {
        const specTag = varint();
        if (specTag === F1) (spec.finalizers ??= []).push(string(stop));
        else skip(specTag, stop);
      }
    } else if (tag === F3) {
      const stop = delimited(end);
      while (pos < stop) {
        const statusTag = varint();
        if (statusTag === F1) setString(status, 'phase', stop);
        else if (statusTag === F2) (conditions ??= []).push(namespaceCondition(stop));
        else skip(statusTag, stop);
      }
    } else skip(tag, end);
  }
  if (conditions) status.conditions = conditions;
  object.spec = spec;
  object.status = status;
}

function statusCause(end: number): Json {
  const stop = delimited(end);
  const cause: Json = {};
  while (pos < stop) {
    const tag = varint();
    if (tag === F1) setString(cause, 'reason', stop);
    else if (tag === F2) setString(cause, 'message', stop);
    else if (tag === F3) setString(cause, 'field', stop);
    else skip(tag, stop);
  }
  return cause;
}

function statusDetails(end: number): Json {
  const stop = delimited(end);
  const details: Json = {};
  let causes: Json[] | undefined;
  while (pos < stop) {
    const tag = varint();
    switch (tag) {
      case F1: setString(details, 'name', stop); break;
      case F2: setString(details, 'group', stop); break;
      case F3: setString(details, 'kind', stop); break;
      case F4: (causes ??= []).push(statusCause(stop)); break;
      case V5: {
        const seconds = signed();
        if (seconds !== 0) details.retryAfterSeconds = seconds;
        break;
      }
      case F6: setString(details, 'uid', stop); break;
      default: skip(tag, stop);
    }
  }
  if (causes) details.causes = causes;
  return details;
}

/** A metav1.Status, the object of an error (its list metadata is empty and left out). */
function status(object: Json, end: number): void {
  object.metadata = {};
  while (pos < end) {
    const tag = varint();
    switch (tag) {
      case F2: setString(object, 'status', end); break;
      case F3: setString(object, 'message', end); break;
      case F4: setString(object, 'reason', end); break;
      case F5: object.details = statusDetails(end); break;
      case V6: {
        const code = signed();
        if (code !== 0) object.code = code;
        break;
      }
      default: skip(tag, end);
    }
  }
}

/** Fills an object that has its apiVersion and kind from the message in [pos, end): the core (v1) kinds by name. */
const DECODERS: Record<string, (object: Json, end: number) => void> = {
  Namespace: namespace,
  Secret: secret,
  ServiceAccount: serviceAccount,
  Status: status,
};

/** The envelope's typeMeta (apiVersion 1, kind 2), as read last. */
let apiVersion = '';
let kind = '';

function typeMeta(end: number): void {
  const stop = delimited(end);
  while (pos < stop) {
    const tag = varint();
    if (tag === F1) apiVersion = apiVersions.read(stop);
    else if (tag === F2) kind = kinds.read(stop);
    else skip(tag, stop);
  }
}

/** The object of an envelope in [pos, end): "k8s\0", then a runtime.Unknown (typeMeta 1, raw 2). */
function envelope(end: number): Json {
  for (let i = 0; i < ENVELOPE_MAGIC.length; i++) {
    if (buffer[pos + i] !== ENVELOPE_MAGIC[i]) throw new ProtobufError('no "k8s" prefix');
  }
  pos += ENVELOPE_MAGIC.length;
  apiVersion = '';
  kind = '';
  let object: Json | undefined;
  while (pos < end) {
    const tag = varint();
    if (tag === F1) typeMeta(end);
    else if (tag === F2) {
      // typeMeta comes first on the wire, as the API server writes it.
      const decode = apiVersion === 'v1' && Object.hasOwn(DECODERS, kind) ? DECODERS[kind] : undefined;
      if (!decode) throw new ProtobufError(`no decoder for ${apiVersion || '?'}/${kind || '?'}`);
      const stop = delimited(end);
      object = { apiVersion, kind, metadata: {} };
      decode(object, stop);
      pos = stop;
    } else skip(tag, end);
  }
  if (!object) throw new ProtobufError(`no object in the ${kind || 'unnamed'} envelope`);
  return object;
}

/** Reads bytes[start, end) with the cursor; lets nothing of them stay referenced afterwards. */
function reading<T>(bytes: Buffer, start: number, end: number, read: (end: number) => T): T {
  buffer = bytes;
  pos = start;
  try {
    const value = read(end);
    if (pos !== end) throw truncated();
    return value;
  } finally {
    buffer = EMPTY;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * An object as the API server encodes it: the "k8s\0" prefix, then a runtime.Unknown whose
 * typeMeta names the kind and whose raw is the object. Returned with apiVersion and kind, as the
 * JSON has them.
 */
export function decodeObject(bytes: Buffer, start = 0, end = bytes.length): Json {
  return reading(bytes, start, end, envelope);
}

/** One event of a protobuf watch: a metav1.WatchEvent, type 1, object 2 (a RawExtension, raw 1). */
export function decodeWatchEvent(bytes: Buffer, start = 0, end = bytes.length): { type: string; object: Json } {
  return reading(bytes, start, end, watchEvent);
}

function watchEvent(end: number): { type: string; object: Json } {
  let type = '';
  let object: Json | undefined;
  while (pos < end) {
    const tag = varint();
    if (tag === F1) type = string(end);
    else if (tag === F2) {
      const stop = delimited(end);
      while (pos < stop) {
        const rawTag = varint();
        if (rawTag === F1) {
          const rawEnd = delimited(stop);
          object = envelope(rawEnd);
          pos = rawEnd;
        } else skip(rawTag, stop);
      }
    } else skip(tag, end);
  }
  if (!object) throw new ProtobufError(`a ${type || 'typeless'} watch event without an object`);
  return { type, object };
}
