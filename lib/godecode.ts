// Decoding as Go's standard library does it, for reading pull secrets exactly as the kubelet
// reads them: unicode/utf8 (DecodeRune), encoding/base64 (StdEncoding, RawStdEncoding) and the
// parts of encoding/json that decide what a document means (grammar, string unquoting, field-name
// folding). JavaScript's decoders are more lenient in some places and stricter in others
// (TextDecoder's replacement rule, Buffer's base64, JSON.parse's surrogates), and every such
// difference can make doctor call a secret good that the kubelet rejects, or the other way round.

// ------------------------------------------------------------------------------------------------
// unicode/utf8

const REPLACEMENT_CHARACTER = 0xfffd;

/**
 * One rune at `at` as utf8.DecodeRune decodes it: the code point and its length in bytes, or
 * undefined for an invalid sequence (which Go reads as U+FFFD of length 1).
 */
export function decodeRune(bytes: Uint8Array, at: number): { codePoint: number; length: number } | undefined {
  const lead = bytes[at]!;
  if (lead < 0x80) return { codePoint: lead, length: 1 };
  let length: number;
  let low = 0x80;
  let high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0; // no overlong forms
    if (lead === 0xed) high = 0x9f; // no surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    if (lead === 0xf4) high = 0x8f; // nothing above U+10FFFF
  } else return undefined;
  if (at + length > bytes.length) return undefined;
  const second = bytes[at + 1]!;
  if (second < low || second > high) return undefined;
  let codePoint = lead & (0xff >> (length + 1));
  codePoint = (codePoint << 6) | (second & 0x3f);
  for (let i = 2; i < length; i++) {
    const next = bytes[at + i]!;
    if (next < 0x80 || next > 0xbf) return undefined;
    codePoint = (codePoint << 6) | (next & 0x3f);
  }
  return { codePoint, length };
}

/**
 * Bytes as a Go string converted rune by rune: every byte that does not start a valid UTF-8
 * sequence becomes one U+FFFD (TextDecoder replaces a maximal invalid run with one U+FFFD instead).
 */
export function decodeUtf8LikeGo(bytes: Uint8Array): string {
  let text = '';
  for (let at = 0; at < bytes.length; ) {
    const rune = decodeRune(bytes, at);
    text += String.fromCodePoint(rune ? rune.codePoint : REPLACEMENT_CHARACTER);
    at += rune ? rune.length : 1;
  }
  return text;
}

/**
 * A string as json.Marshal writes it, from the string's bytes (Go strings may hold invalid UTF-8,
 * which Marshal writes as the escape \ufffd, unlike a valid U+FFFD, which it writes as is).
 */
export function goJsonStringFromBytes(bytes: Uint8Array): string {
  let out = '"';
  for (let at = 0; at < bytes.length; ) {
    const rune = decodeRune(bytes, at);
    if (!rune) {
      out += '\\ufffd';
      at += 1;
      continue;
    }
    at += rune.length;
    const code = rune.codePoint;
    const short = SHORT_ESCAPES[code];
    if (short !== undefined) out += short;
    else if (code < 0x20 || code === 0x3c || code === 0x3e || code === 0x26 || code === 0x2028 || code === 0x2029) {
      out += '\\u' + code.toString(16).padStart(4, '0');
    } else out += String.fromCodePoint(code);
  }
  return out + '"';
}

const SHORT_ESCAPES: Record<number, string> = {
  0x22: '\\"', 0x5c: '\\\\', 0x08: '\\b', 0x0c: '\\f', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t',
};

// ------------------------------------------------------------------------------------------------
// encoding/base64

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUES = new Map(Array.from(BASE64_ALPHABET, (char, value) => [char.charCodeAt(0), value]));
const PAD = 0x3d; // '='
const isNewline = (byte: number | undefined) => byte === 0x0a || byte === 0x0d;

export type Base64Result = { ok: true; bytes: Buffer } | { ok: false; error: string };

/**
 * `base64.StdEncoding.DecodeString` (`padded`) or `base64.RawStdEncoding.DecodeString`, with Go's
 * rules and error: CR and LF are skipped anywhere, any other byte outside the alphabet fails,
 * unused trailing bits are ignored; the error is Go's "illegal base64 data at input byte N".
 */
export function decodeBase64LikeGo(text: string, padded: boolean): Base64Result {
  const source = Buffer.from(text, 'utf8');
  const output: number[] = [];
  const corrupt = (offset: number): Base64Result => ({ ok: false, error: `illegal base64 data at input byte ${offset}` });
  let at = 0;
  // One quantum (up to 4 characters) at a time, as decodeQuantum does.
  while (at < source.length) {
    const values: number[] = [];
    let length = 4;
    let trailingGarbageAt: number | undefined;
    for (let j = 0; j < 4; j++) {
      if (at === source.length) {
        if (j === 0) return { ok: true, bytes: Buffer.from(output) };
        if (j === 1 || padded) return corrupt(at - j);
        length = j;
        break;
      }
      const byte = source[at++]!;
      const value = BASE64_VALUES.get(byte);
      if (value !== undefined) {
        values[j] = value;
        continue;
      }
      if (isNewline(byte)) {
        j--;
        continue;
      }
      if (!padded || byte !== PAD) return corrupt(at - 1);
      // Padding: the end of the data.
      if (j < 2) return corrupt(at - 1);
      if (j === 2) {
        // "==" is expected; the first "=" is read.
        while (at < source.length && isNewline(source[at])) at++;
        if (at === source.length) return corrupt(source.length);
        if (source[at] !== PAD) return corrupt(at - 1);
        at++;
      }
      while (at < source.length && isNewline(source[at])) at++;
      if (at < source.length) trailingGarbageAt = at;
      length = j;
      break;
    }
    const [a = 0, b = 0, c = 0, d = 0] = values;
    const bits = (a << 18) | (b << 12) | (c << 6) | d;
    const decoded = [(bits >> 16) & 0xff, (bits >> 8) & 0xff, bits & 0xff];
    output.push(...decoded.slice(0, length - 1));
    if (trailingGarbageAt !== undefined) return corrupt(trailingGarbageAt);
    if (length < 4) break;
  }
  return { ok: true, bytes: Buffer.from(output) };
}

// ------------------------------------------------------------------------------------------------
// encoding/json

/** A JSON value with every object member kept, in document order, duplicates included. */
export type GoJsonValue =
  | { type: 'null' }
  | { type: 'bool'; value: boolean }
  | { type: 'number'; text: string }
  | { type: 'string'; value: string }
  | { type: 'array'; items: GoJsonValue[] }
  | { type: 'object'; members: Array<[string, GoJsonValue]> };

/** Where Go's decoder finds a document invalid; the offset is in bytes. */
export class GoJsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const MAX_NESTING_DEPTH = 10_000; // encoding/json's scanner limit

/**
 * Parses a JSON document as Go's json.Unmarshal reads it: the same grammar (no BOM, whitespace
 * only space, tab, CR, LF, nesting at most 10000 deep), strings unquoted like Go (each invalid
 * UTF-8 byte and each unpaired surrogate escape becomes U+FFFD), and objects kept as member lists
 * so that the caller can apply Go's rules for repeated and case-folded names.
 */
export function parseJsonLikeGo(bytes: Uint8Array): GoJsonValue {
  let at = 0;
  const fail = (what: string, offset = at): never => {
    throw new GoJsonSyntaxError(offset >= bytes.length ? 'unexpected end of JSON input' : what, offset);
  };
  const skipWhitespace = () => {
    while (at < bytes.length) {
      const byte = bytes[at]!;
      if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) break;
      at++;
    }
  };
  const expectLiteral = (word: string) => {
    for (let i = 0; i < word.length; i++) {
      if (bytes[at] !== word.charCodeAt(i)) fail(`invalid character in literal ${word}`);
      at++;
    }
  };
  const readHex4 = (from: number): number | undefined => {
    if (from + 4 > bytes.length) return undefined;
    const hex = String.fromCharCode(...bytes.subarray(from, from + 4));
    return /^[0-9a-fA-F]{4}$/.test(hex) ? parseInt(hex, 16) : undefined;
  };
  const readString = (): string => {
    at++; // the opening quote
    let text = '';
    let runStart = at;
    const flushRun = () => {
      text += decodeUtf8LikeGo(bytes.subarray(runStart, at));
    };
    for (;;) {
      if (at >= bytes.length) fail('unexpected end of JSON input');
      const byte = bytes[at]!;
      if (byte === 0x22) {
        flushRun();
        at++;
        return text;
      }
      if (byte < 0x20) fail('invalid character in string literal');
      if (byte !== 0x5c) {
        at++;
        continue;
      }
      flushRun();
      const escape = bytes[at + 1];
      const simple = escape === undefined ? undefined : SIMPLE_UNESCAPES[escape];
      if (simple !== undefined) {
        text += simple;
        at += 2;
      } else if (escape === 0x75) {
        const unit = readHex4(at + 2);
        if (unit === undefined) fail('invalid character in \\u hexadecimal character escape', Math.min(at + 2, bytes.length));
        at += 6;
        let codePoint = unit!;
        if (codePoint >= 0xd800 && codePoint <= 0xdfff) {
          // A surrogate is kept only as the first half of a valid pair written as two escapes.
          const next = bytes[at] === 0x5c && bytes[at + 1] === 0x75 ? readHex4(at + 2) : undefined;
          if (codePoint <= 0xdbff && next !== undefined && next >= 0xdc00 && next <= 0xdfff) {
            codePoint = 0x10000 + ((codePoint - 0xd800) << 10) + (next - 0xdc00);
            at += 6;
          } else {
            codePoint = REPLACEMENT_CHARACTER;
          }
        }
        text += String.fromCodePoint(codePoint);
      } else {
        fail('invalid character in string escape code', at + 1);
      }
      runStart = at;
    }
  };
  const readNumber = (): string => {
    const start = at;
    const digits = () => {
      const from = at;
      while (at < bytes.length && bytes[at]! >= 0x30 && bytes[at]! <= 0x39) at++;
      return at - from;
    };
    if (bytes[at] === 0x2d) at++;
    if (bytes[at] === 0x30) at++;
    else if (digits() === 0) fail('invalid character in numeric literal');
    if (bytes[at] === 0x2e) {
      at++;
      if (digits() === 0) fail('invalid character after decimal point in numeric literal');
    }
    if (bytes[at] === 0x65 || bytes[at] === 0x45) {
      at++;
      if (bytes[at] === 0x2b || bytes[at] === 0x2d) at++;
      if (digits() === 0) fail('invalid character in exponent of numeric literal');
    }
    return Buffer.from(bytes.subarray(start, at)).toString('latin1');
  };
  const readValue = (depth: number): GoJsonValue => {
    skipWhitespace();
    const byte = bytes[at];
    if (byte === 0x7b || byte === 0x5b) {
      if (depth >= MAX_NESTING_DEPTH) fail('exceeded max depth');
      return byte === 0x7b ? readObject(depth + 1) : readArray(depth + 1);
    }
    if (byte === 0x22) return { type: 'string', value: readString() };
    if (byte === 0x74) return expectLiteral('true'), { type: 'bool', value: true };
    if (byte === 0x66) return expectLiteral('false'), { type: 'bool', value: false };
    if (byte === 0x6e) return expectLiteral('null'), { type: 'null' };
    if (byte === 0x2d || (byte !== undefined && byte >= 0x30 && byte <= 0x39)) return { type: 'number', text: readNumber() };
    return fail('invalid character looking for beginning of value');
  };
  const readObject = (depth: number): GoJsonValue => {
    at++;
    const members: Array<[string, GoJsonValue]> = [];
    skipWhitespace();
    if (bytes[at] === 0x7d) {
      at++;
      return { type: 'object', members };
    }
    for (;;) {
      skipWhitespace();
      if (bytes[at] !== 0x22) fail('invalid character looking for beginning of object key string');
      const name = readString();
      skipWhitespace();
      if (bytes[at] !== 0x3a) fail('invalid character after object key');
      at++;
      members.push([name, readValue(depth)]);
      skipWhitespace();
      if (bytes[at] === 0x2c) {
        at++;
        continue;
      }
      if (bytes[at] === 0x7d) {
        at++;
        return { type: 'object', members };
      }
      fail('invalid character after object key:value pair');
    }
  };
  const readArray = (depth: number): GoJsonValue => {
    at++;
    const items: GoJsonValue[] = [];
    skipWhitespace();
    if (bytes[at] === 0x5d) {
      at++;
      return { type: 'array', items };
    }
    for (;;) {
      items.push(readValue(depth));
      skipWhitespace();
      if (bytes[at] === 0x2c) {
        at++;
        continue;
      }
      if (bytes[at] === 0x5d) {
        at++;
        return { type: 'array', items };
      }
      fail('invalid character after array element');
    }
  };

  const value = readValue(0);
  skipWhitespace();
  if (at < bytes.length) fail('invalid character after top-level value');
  return value;
}

const SIMPLE_UNESCAPES: Record<number, string> = {
  0x22: '"', 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t',
};

/**
 * A JSON object member name as encoding/json folds it to find a struct field: ASCII letters upper
 * case, every other rune the smallest of its case-fold set. Only two non-ASCII runes fold into
 * ASCII: the long s "ſ" (to "S") and the Kelvin sign (to "K"); so "uſername" fills `username`.
 * Other non-ASCII runes are kept as they are, which is enough to compare with ASCII field names.
 */
export function goFoldName(name: string): string {
  let folded = '';
  for (const char of name) {
    const code = char.codePointAt(0)!;
    if (code >= 0x61 && code <= 0x7a) folded += String.fromCharCode(code - 0x20);
    else if (code === 0x17f) folded += 'S';
    else if (code === 0x212a) folded += 'K';
    else folded += char;
  }
  return folded;
}
