// The HTTP endpoints that operators of controller-runtime controllers expect, with the same flags
// and the same meaning: /metrics on --metrics-bind-address (default :8080), /healthz and /readyz
// on --health-probe-bind-address (default :8081), "0" turning either off. The probe output
// mirrors controller-runtime's pkg/healthz, so dashboards, probes and habits carry over.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { CliError, UsageError, oneLine } from '../errors';

export const DEFAULT_METRICS_BIND_ADDRESS = ':8080';
export const DEFAULT_HEALTH_PROBE_BIND_ADDRESS = ':8081';

export interface BindAddress {
  /** undefined: every interface (Go's ":8080"). */
  host?: string;
  /** 0: a free port, chosen by the system. */
  port: number;
}

/**
 * A bind address as Go's net.Listen("tcp", ...) takes it: `host:port`, `:port` (every
 * interface), `[ipv6]:port`. "0" turns the server off (controller-runtime's convention), and so
 * does an empty value for the probes (as in controller-runtime; its metrics server would use the
 * default, which `defaultAddress` gives). Service names for the port (":http") are not taken.
 */
export function parseBindAddress(value: string, flag: string, defaultAddress?: string): BindAddress | undefined {
  if (value === '0') return undefined;
  if (value === '') return defaultAddress === undefined ? undefined : parseBindAddress(defaultAddress, flag);
  const match = /^(?:\[([^\]\s]*)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65_535) {
    throw new UsageError(`invalid --${flag} "${value}": use host:port, :port for every interface, or 0 to turn it off`);
  }
  const host = match[1] ?? match[2];
  return host ? { host, port } : { port };
}

/** What a check says: true when ready; false, or a reason, when not. */
export type Check = () => boolean | string;

export interface ProbeQuery {
  verbose?: boolean;
  /** Checks to leave out of this request (controller-runtime's ?exclude=). */
  exclude?: string[];
}

export interface ProbeAnswer {
  status: number;
  body: string;
}

function runCheck(check: Check): true | string {
  try {
    const result = check();
    return result === true ? true : result === false || result === '' ? 'not ready' : oneLine(result);
  } catch (error) {
    return oneLine(error) || 'check threw';
  }
}

/**
 * The answer of /healthz or /readyz for a set of checks, in controller-runtime's words: "ok" when
 * all pass (the list with ?verbose), else 500 with one `[+]name ok` / `[-]name failed: why` line
 * per check in name order. No check at all means the process answers, like its default "ping".
 */
export function probeAnswer(endpoint: string, checks: ReadonlyMap<string, Check>, query: ProbeQuery = {}): ProbeAnswer {
  const excluded = new Set(query.exclude ?? []);
  const names = [...checks.keys()].sort();
  const lines: string[] = [];
  let failed = false;
  for (const name of names) {
    if (excluded.has(name)) {
      lines.push(`[+]${name} excluded: ok`);
      continue;
    }
    const result = runCheck(checks.get(name)!);
    if (result === true) lines.push(`[+]${name} ok`);
    else {
      failed = true;
      lines.push(`[-]${name} failed: ${result}`);
    }
  }
  if (names.length === 0) lines.push('[+]ping ok');
  if (failed) return { status: 500, body: `${lines.join('\n')}\n${endpoint} check failed\n` };
  if (!query.verbose) return { status: 200, body: 'ok' };
  return { status: 200, body: `${lines.join('\n')}\n${endpoint} check passed\n` };
}

/** The answer of /readyz/<name>: one check alone (404 if there is no such check). */
export function singleCheckAnswer(checks: ReadonlyMap<string, Check>, name: string): ProbeAnswer {
  const check = checks.get(name);
  if (!check) return { status: 404, body: `no check named "${name}"\n` };
  const result = runCheck(check);
  return result === true ? { status: 200, body: 'ok' } : { status: 500, body: `internal server error: ${result}\n` };
}

export interface ControllerServersOptions {
  /** --metrics-bind-address; "0" turns the metrics server off, "" means the default :8080. */
  metricsBindAddress: string;
  /** --health-probe-bind-address; "0" or "" turns the probe server off. */
  healthProbeBindAddress: string;
  registry: Registry;
  /** Consulted on every /readyz; the caller may add and remove checks while serving. */
  readyChecks: Map<string, Check>;
  /** Consulted on every /healthz; none means "the process answers". */
  healthChecks?: Map<string, Check>;
}

export interface ControllerServers {
  metricsPort?: number;
  probePort?: number;
  close(): Promise<void>;
}

function send(response: http.ServerResponse, { status, body }: ProbeAnswer, contentType = 'text/plain; charset=utf-8'): void {
  response.writeHead(status, { 'Content-Type': contentType, 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(body) });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}

function metricsHandler(registry: Registry): http.RequestListener {
  return (request, response) => {
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    if (pathname !== '/metrics') return send(response, { status: 404, body: '404 page not found\n' });
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, { status: 405, body: 'method not allowed\n' });
    registry.metrics().then(
      (body) => send(response, { status: 200, body }, registry.contentType),
      (error) => send(response, { status: 500, body: `collecting metrics failed: ${oneLine(error)}\n` }),
    );
  };
}

function probeHandler(readyChecks: Map<string, Check>, healthChecks: Map<string, Check>): http.RequestListener {
  return (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const [, endpoint, name, ...rest] = url.pathname.split('/');
    const checks = endpoint === 'readyz' ? readyChecks : endpoint === 'healthz' ? healthChecks : undefined;
    if (!checks || rest.length > 0) return send(response, { status: 404, body: '404 page not found\n' });
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, { status: 405, body: 'method not allowed\n' });
    if (name) return send(response, singleCheckAnswer(checks, decodeURIComponent(name)));
    send(response, probeAnswer(endpoint!, checks, { verbose: url.searchParams.has('verbose'), exclude: url.searchParams.getAll('exclude') }));
  };
}

const listenProblems: Record<string, string> = {
  EADDRINUSE: 'the address is already in use (another process, or another replica on the host network)',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'no network interface of this host has that address',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve',
};

async function listen(server: http.Server, address: BindAddress, flag: string, shown: string, what: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const why = listenProblems[error.code ?? ''] ?? oneLine(error);
      reject(new CliError(`cannot serve ${what} on "${shown}" (--${flag}): ${why}; choose another address with --${flag}, or 0 to turn it off`, undefined, error));
    };
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    // Prometheus and the kubelet keep connections alive; without this close() waits for them.
    server.closeAllConnections();
  });
}

/**
 * Starts the metrics and probe servers (either may be off). Resolves once both listen, with the
 * ports they got (useful with port 0); rejects with one line if either cannot listen, leaving
 * nothing open.
 */
export async function startControllerServers(options: ControllerServersOptions): Promise<ControllerServers> {
  const metricsAddress = parseBindAddress(options.metricsBindAddress, 'metrics-bind-address', DEFAULT_METRICS_BIND_ADDRESS);
  const probeAddress = parseBindAddress(options.healthProbeBindAddress, 'health-probe-bind-address');
  const servers: http.Server[] = [];
  const close = async () => {
    await Promise.all(servers.map(closeServer));
  };
  const result: ControllerServers = { close };
  try {
    if (metricsAddress) {
      const server = http.createServer(metricsHandler(options.registry));
      servers.push(server);
      result.metricsPort = await listen(server, metricsAddress, 'metrics-bind-address', options.metricsBindAddress || DEFAULT_METRICS_BIND_ADDRESS, 'metrics');
    }
    if (probeAddress) {
      const server = http.createServer(probeHandler(options.readyChecks, options.healthChecks ?? new Map()));
      servers.push(server);
      result.probePort = await listen(server, probeAddress, 'health-probe-bind-address', options.healthProbeBindAddress, 'health probes');
    }
  } catch (error) {
    await close();
    throw error;
  }
  return result;
}
