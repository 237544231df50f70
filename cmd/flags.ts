// The kubectl-standard flags, defined once. kubectl passes a plugin only its argv and
// environment (and refuses flags placed before the plugin name), so the plugin implements every
// connection flag itself, with kubectl's names and meanings.
import type { Argv, Options } from 'yargs';
import { UsageError } from '../lib/errors';
import type { ConnectOptions } from '../lib/connect';
import type { Scope } from '../lib/cluster';

export const connectionOptions = {
  kubeconfig: { type: 'string', describe: 'Path to the kubeconfig file to use (overrides KUBECONFIG)' },
  context: { type: 'string', describe: 'The name of the kubeconfig context to use' },
  cluster: { type: 'string', describe: 'The name of the kubeconfig cluster to use' },
  user: { type: 'string', describe: 'The name of the kubeconfig user to use' },
  namespace: { alias: 'n', type: 'string', describe: 'The namespace to work in (default: the context\'s, else "default")' },
  'request-timeout': {
    type: 'string',
    // Always takes the next argument, as kubectl does: "--request-timeout -1s" is a bad value, not two flags.
    nargs: 1,
    describe: 'How long to wait for each API request (e.g. 1s, 2m, 3h); 0 waits forever',
    default: '0',
    defaultDescription: '0',
  },
  'insecure-skip-tls-verify': { type: 'boolean', describe: 'Do not verify the API server certificate (insecure)' },
  v: { alias: 'verbosity', type: 'string', describe: 'Log level; -v prints stack traces of unexpected errors' },
} as const satisfies Record<string, Options>;

export interface ConnectionArgs {
  kubeconfig?: string;
  context?: string;
  cluster?: string;
  user?: string;
  namespace?: string;
  'request-timeout'?: string;
  'insecure-skip-tls-verify'?: boolean;
}

/** The connection flags as lib/connect takes them. */
export function connectOptionsFrom(args: ConnectionArgs): ConnectOptions {
  return {
    kubeconfig: args.kubeconfig,
    context: args.context,
    cluster: args.cluster,
    user: args.user,
    namespace: args.namespace,
    requestTimeout: args['request-timeout'],
    insecureSkipTlsVerify: args['insecure-skip-tls-verify'],
  };
}

/** Adds `-o/--output` with the given formats; an unknown one is a kubectl-style usage error. */
export function withOutput<T>(yargs: Argv<T>, formats: readonly string[]) {
  return yargs.option('output', {
    alias: 'o',
    type: 'string',
    describe: `Output format: ${formats.join('|')}`,
    coerce: (value: string) => {
      if (!formats.includes(value)) {
        throw new UsageError(
          `unable to match a printer suitable for the output format "${value}", allowed formats are: ${formats.join(',')}`,
        );
      }
      return value;
    },
  });
}

/** Adds `-A/--all-namespaces`, which conflicts with `-n`. */
export function withAllNamespaces<T>(yargs: Argv<T>) {
  return yargs.option('all-namespaces', {
    alias: 'A',
    type: 'boolean',
    describe: 'Work in every namespace',
  });
}

export interface DryRunArgs {
  'dry-run'?: 'none' | 'client' | 'server';
}

/** kubectl's --dry-run: none (default), client or server. */
export function withDryRun<T>(yargs: Argv<T>) {
  return yargs.option('dry-run', {
    type: 'string',
    describe: 'Only print what would change: client (nothing sent) or server (validated by the API server)',
    coerce: (value: string) => {
      // kubectl accepts a bare --dry-run as "client" for compatibility.
      const mode = value === '' || value === 'true' ? 'client' : value;
      if (!['none', 'client', 'server'].includes(mode)) {
        throw new UsageError(`invalid --dry-run value "${value}": must be "none", "server", or "client"`);
      }
      return mode as 'none' | 'client' | 'server';
    },
  });
}

/** One namespace (-n, else the context's) or all of them (-A); both at once is a usage error. */
export function scopeFrom(args: ConnectionArgs & { 'all-namespaces'?: boolean }, namespace: string): Scope {
  if (args['all-namespaces']) {
    if (args.namespace !== undefined) throw new UsageError('-A/--all-namespaces and -n/--namespace cannot be used together');
    return { allNamespaces: true };
  }
  return { namespace };
}
