// `kubectl pullsecret list`: every pull secret, who references it, and what is wrong with it.
import type { Argv } from 'yargs';
import type { V1Pod } from '@kubernetes/client-node';
import { connect, type Connection } from '../lib/connect';
import { listPods, listPullSecrets, listServiceAccounts, type Scope } from '../lib/cluster';
import { CliError } from '../lib/errors';
import { buildListing, formatListing } from '../lib/list';
import { formatObject } from '../lib/print';
import { connectOptionsFrom, scopeFrom, withAllNamespaces, withOutput, type ConnectionArgs } from './flags';

export const command = 'list';
export const aliases = ['ls'];
export const describe = 'List pull secrets, the ServiceAccounts that reference them, and their problems';

export const builder = (yargs: Argv) =>
  withOutput(withAllNamespaces(yargs), ['wide', 'json', 'yaml', 'name']).example([
    ['$0 list', 'Pull secrets in the current namespace'],
    ['$0 list -A -o wide', 'Every namespace, with usernames and pod counts'],
  ]);

interface ListArgs extends ConnectionArgs {
  'all-namespaces'?: boolean;
  output?: string;
}

/** Pods are only needed for references; without the right to list them, say so and go on. */
async function podsIfAllowed(connection: Connection, scope: Scope): Promise<{ pods?: V1Pod[]; warning?: string }> {
  try {
    return { pods: await listPods(connection, scope) };
  } catch (error) {
    if (error instanceof CliError && error.message.startsWith('forbidden')) {
      return { warning: `pod references not checked: ${error.message}` };
    }
    throw error;
  }
}

export async function handler(args: ListArgs): Promise<void> {
  const connection = connect(connectOptionsFrom(args));
  const scope = scopeFrom(args, connection.namespace);
  const [secrets, serviceAccounts, { pods, warning }] = await Promise.all([
    listPullSecrets(connection, scope),
    listServiceAccounts(connection, scope),
    podsIfAllowed(connection, scope),
  ]);
  if (warning) process.stderr.write(`warning: ${warning}\n`);
  const entries = buildListing({ secrets, serviceAccounts, pods });
  const output = args.output;
  if (output === 'json' || output === 'yaml') {
    process.stdout.write(formatObject({ kind: 'PullSecretList', items: entries }, output));
    return;
  }
  if (output === 'name') {
    for (const entry of entries) if (entry.type) process.stdout.write(`secret/${entry.name}\n`);
    return;
  }
  if (entries.length === 0) {
    process.stderr.write(
      'namespace' in scope ? `No pull secrets found in ${scope.namespace} namespace.\n` : 'No pull secrets found.\n',
    );
    return;
  }
  process.stdout.write(formatListing(entries, { wide: output === 'wide', allNamespaces: !('namespace' in scope) }));
}
