// `kubectl pullsecret list`: every pull secret, who references it, and what is wrong with it.
import type { Argv } from 'yargs';
import type { V1Pod } from '@kubernetes/client-node';
import { connect, type Connection } from '../lib/connect';
import { listPods, listPullSecrets, listServiceAccounts, type Scope } from '../lib/cluster';
import { CliError } from '../lib/errors';
import { buildListing, formatListing, type ListEntry } from '../lib/list';
import { formatObject } from '../lib/print';
import { failedChecks, formatCheck, verifySecrets } from '../lib/verify';
import { connectOptionsFrom, scopeFrom, withAllNamespaces, withOutput, type ConnectionArgs } from './flags';
import { verifyOptionsFrom, withVerify, type VerifyArgs } from './verify-flags';

export const command = 'list';
export const aliases = ['ls'];
export const describe = 'List pull secrets, the ServiceAccounts that reference them, and their problems';

export const builder = (yargs: Argv) =>
  withVerify(withOutput(withAllNamespaces(yargs), ['wide', 'json', 'yaml', 'name']), 'show whether the login works').example([
    ['$0 list', 'Pull secrets in the current namespace'],
    ['$0 list -A -o wide', 'Every namespace, with usernames and pod counts'],
    ['$0 list --verify', 'Also log in to each registry: ok, unauthorized, unreachable or tls-error'],
  ]);

interface ListArgs extends ConnectionArgs, VerifyArgs {
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
  const verifyOptions = verifyOptionsFrom(args);
  const connection = connect(connectOptionsFrom(args));
  const scope = scopeFrom(args, connection.namespace);
  const [secrets, serviceAccounts, { pods, warning }] = await Promise.all([
    listPullSecrets(connection, scope),
    listServiceAccounts(connection, scope),
    podsIfAllowed(connection, scope),
  ]);
  if (warning) process.stderr.write(`warning: ${warning}\n`);
  const entries = buildListing({ secrets, serviceAccounts, pods });
  if (verifyOptions) {
    const checks = await verifySecrets(secrets, verifyOptions);
    for (const entry of entries) if (entry.type) entry.verify = checks.get(`${entry.namespace}/${entry.name}`) ?? [];
  }
  printListing(entries, scope, args.output, Boolean(verifyOptions));
  failIfLoginsFailed(entries);
}

function printListing(entries: ListEntry[], scope: Scope, output: string | undefined, verify: boolean): void {
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
  process.stdout.write(formatListing(entries, { wide: output === 'wide', allNamespaces: !('namespace' in scope), verify }));
}

/** Exit 1 when a login failed, naming the first failure (the table or -o json shows them all). */
function failIfLoginsFailed(entries: ListEntry[]): void {
  const checks = entries.flatMap((entry) => (entry.verify ?? []).map((check) => ({ entry, check })));
  const failed = checks.filter(({ check }) => failedChecks([check]).length > 0);
  if (failed.length === 0) return;
  const { entry, check } = failed[0]!;
  const attempted = checks.filter(({ check: c }) => c.result !== 'skipped').length;
  const more = failed.length > 1 ? `; ${failed.length - 1} more failed` : '';
  throw new CliError(`${failed.length} of ${attempted} registry logins failed: ${entry.namespace}/${entry.name} ${formatCheck(check)}${more}`);
}
