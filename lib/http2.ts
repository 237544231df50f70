// HTTP/2 to the API server, as kubectl and client-go speak it: the requests of a process share
// one TLS connection, however many are in flight. Over HTTP/1.1 each request in flight needs a
// connection of its own, and each connection a TLS handshake: `list` makes four requests at
// once (four handshakes where kubectl makes one), a sync 64.
//
// Only for what lib/connect sends itself with the kubeconfig's static credentials (see there);
// long-running watches stay on HTTP/1.1 connections of their own. A server that does not offer
// h2 in the TLS handshake (ALPN) gets HTTP/1.1 from then on.
import type { ClientHttp2Session, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import http2 from 'node:http2';
import { isIP } from 'node:net';
import tls from 'node:tls';
import type https from 'node:https';

/** A response read whole. */
export interface Http2Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Session {
  session: ClientHttp2Session;
  /** Requests in flight: while there are some, the session keeps the process alive. */
  active: number;
}

/** Per TLS identity of a connection (see key): its session, or null when the server does not speak h2. */
const sessions = new Map<string, Promise<Session | null>>();

/** Servers with the same address and TLS options share a session; tokens and other headers may differ. */
function key(url: URL, options: https.RequestOptions): string {
  const material = [options.ca, options.cert, options.key].map((value) => (Buffer.isBuffer(value) ? value.toString('base64') : String(value ?? '')));
  return [url.origin, options.servername ?? '', String(options.rejectUnauthorized ?? true), ...material].join('\n');
}

/**
 * The session to use for a request to `url`, opening it if needed; null when the server chose
 * HTTP/1.1. Connecting fails as an HTTPS request would (the same error codes: refused, TLS
 * verification), and the next request tries again.
 */
export async function sessionFor(url: URL, options: https.RequestOptions, signal?: AbortSignal): Promise<Session | null> {
  const id = key(url, options);
  for (;;) {
    let pending = sessions.get(id);
    if (!pending) {
      const opened = open(url, options, () => {
        if (sessions.get(id) === opened) sessions.delete(id);
      });
      sessions.set(id, (pending = opened));
      opened.catch(() => sessions.delete(id));
    }
    const entry = await (signal ? untilAborted(pending, signal) : pending);
    if (entry === null || !(entry.session.closed || entry.session.destroyed)) return entry;
    // Closed a moment ago, before its 'close' event forgot it.
    if (sessions.get(id) === pending) sessions.delete(id);
  }
}

/** A request's own deadline bounds its wait for the connection, not the connection itself. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

const HANDSHAKE_TIMEOUT_MS = 10_000;

function open(url: URL, options: https.RequestOptions, forget: () => void): Promise<Session | null> {
  return new Promise((resolve, reject) => {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const socket = tls.connect({
      host,
      port: Number(url.port || 443),
      // SNI may not name an IP address; the certificate is checked against the host all the same.
      servername: options.servername ?? (isIP(host) ? undefined : host),
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      rejectUnauthorized: options.rejectUnauthorized,
      ALPNProtocols: ['h2', 'http/1.1'],
    });
    socket.once('error', reject);
    // As client-go's transport bounds its TLS handshake: a server that accepts the connection and
    // then says nothing must not hold every later request of the process.
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => socket.destroy(Object.assign(new Error('TLS handshake timeout'), { code: 'ETIMEDOUT' })));
    socket.once('secureConnect', () => {
      socket.removeListener('error', reject);
      socket.setTimeout(0);
      if (socket.alpnProtocol !== 'h2') {
        socket.destroy();
        return resolve(null);
      }
      // A connection that died silently is found by TCP keep-alive, as the watches' are.
      socket.setKeepAlive(true, 30_000);
      const session = http2.connect(url.origin, { createConnection: () => socket });
      session.unref();
      // Gone (the server went away, the connection failed): the next request opens another.
      session.on('close', forget);
      session.on('goaway', forget);
      session.on('error', forget);
      resolve({ session, active: 0 });
    });
  });
}

/**
 * One request on the session, its answer read whole. Fails like an HTTP/1.1 request: with the
 * signal's reason when it aborts, and as a reset connection (ECONNRESET, which callers retry) when
 * the session fails under it.
 */
export function requestOnSession(
  entry: Session,
  method: string,
  url: URL,
  headers: OutgoingHttpHeaders,
  payload: Buffer | undefined,
  signal?: AbortSignal,
): Promise<Http2Response> {
  return new Promise((resolve, reject) => {
    const { session } = entry;
    if (entry.active++ === 0) session.ref();
    let settled = false;
    const settle = (error: unknown, response?: Http2Response) => {
      if (settled) return;
      settled = true;
      if (--entry.active === 0 && !session.destroyed) session.unref();
      if (response) resolve(response);
      else reject(error);
    };
    const onAbort = () => {
      // A request that timed out takes its connection with it, as over HTTP/1.1: the next one
      // does not wait on a connection that may be dead (a network partition answers nothing).
      settle(signal!.reason);
      session.destroy();
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let stream: http2.ClientHttp2Stream;
    try {
      // endStream said outright: Node ends a DELETE's stream at once otherwise, and a DELETE of
      // the API carries its options as a body.
      stream = session.request({ ':method': method, ':path': `${url.pathname}${url.search}`, ...headers }, { endStream: payload === undefined });
    } catch (error) {
      signal?.removeEventListener('abort', onAbort);
      return settle(connectionReset(error));
    }
    let status = 0;
    let responseHeaders: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (received) => {
      responseHeaders = received;
      status = Number(received[':status']);
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      signal?.removeEventListener('abort', onAbort);
      // No response at all: the session went away under the request.
      if (status === 0) settle(connectionReset(new Error('no response')));
      else settle(undefined, { status, headers: responseHeaders, body: Buffer.concat(chunks) });
    });
    stream.on('error', (error) => {
      signal?.removeEventListener('abort', onAbort);
      settle(signal?.aborted ? signal.reason : connectionReset(error));
    });
    stream.on('close', () => {
      signal?.removeEventListener('abort', onAbort);
      // Closed without an end: reset by the server, or the session went away.
      settle(signal?.aborted ? signal.reason : connectionReset(new Error(`stream closed with code ${stream.rstCode}`)));
    });
    stream.end(payload);
  });
}

const connectionReset = (cause: unknown) =>
  Object.assign(new Error(`the connection was reset (${cause instanceof Error ? cause.message : String(cause)})`), { code: 'ECONNRESET', cause });
