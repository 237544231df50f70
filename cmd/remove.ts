// `kubectl pullsecret remove NAME`: the exact undo of add — detach and delete what we manage.
import type { Argv } from 'yargs';
import { connect, type Connection } from '../lib/connect';
import { oneLine } from '../lib/errors';
import { validateSecretName } from '../lib/names';
import { dryRunNote } from '../lib/print';
import { applyRemoval, planRemoval, runningControllers } from '../lib/remove';
import { WEBHOOK_CONFIGURATION_NAME, removeWebhookConfiguration } from '../lib/webhook';
import { connectOptionsFrom, scopeFrom, withAllNamespaces, withDryRun, withOutput, type ConnectionArgs, type DryRunArgs } from './flags';
import { failIfAnyFailed, reportOutcomes } from './output';

export const command = 'remove <name>';
export const aliases = ['rm'];
export const describe = 'Detach a pull secret from every ServiceAccount and delete it if kubectl-pullsecret manages it';

export const builder = (yargs: Argv) =>
  withOutput(withDryRun(withAllNamespaces(yargs)), ['json', 'yaml', 'name'])
    .positional('name', { type: 'string', demandOption: true, describe: 'Name of the pull secret' })
    .options({
      'keep-secret': { type: 'boolean', describe: 'Only detach; keep the secret' },
      force: { type: 'boolean', describe: 'Also delete a secret of that name that kubectl-pullsecret does not manage' },
    })
    .example([
      ['$0 remove regcred -n test', 'Undo add in one namespace'],
      ['$0 remove regcred -A', 'Undo everything done for regcred in the cluster'],
    ]);

interface RemoveArgs extends ConnectionArgs, DryRunArgs {
  name: string;
  'all-namespaces'?: boolean;
  'keep-secret'?: boolean;
  force?: boolean;
  output?: string;
}

/** A running `sync --watch` controller of this name would copy it again unless its source goes. Resolves to whether one runs. */
async function warnAboutControllers(connection: Connection, name: string, deletesSource: boolean): Promise<boolean> {
  let controllers: Awaited<ReturnType<typeof runningControllers>>;
  try {
    controllers = await runningControllers(connection);
  } catch (error) {
    process.stderr.write(`warning: running sync controllers not checked: ${oneLine(error)}\n`);
    return false;
  }
  controllers = controllers.filter(({ serves }) => serves === 'all' || serves.endsWith(`/${name}`));
  for (const { lease, holder, serves } of controllers) {
    const which = `a sync controller (lease ${lease}, held by ${holder}) syncs ${serves === 'all' ? 'every source' : serves}`;
    process.stderr.write(
      deletesSource
        ? `warning: ${which}; once the source is deleted, what it copies or attaches meanwhile is undone\n`
        : `warning: ${which}; it will copy and attach ${name} here again while its source exists: remove the source too (remove ${name} -A)\n`,
    );
  }
  return controllers.length > 0;
}

export async function handler(args: RemoveArgs): Promise<void> {
  const name = validateSecretName(args.name);
  const dryRun = args['dry-run'] ?? 'none';
  const connection = connect(connectOptionsFrom(args));
  const scope = scopeFrom(args, connection.namespace);
  const request = { name, keepSecret: Boolean(args['keep-secret']), force: Boolean(args.force) };
  const removal = await planRemoval(connection, scope, request);
  const controllerRuns = await warnAboutControllers(connection, name, removal.sourceDeletes.size > 0);
  const { outcomes, stillRemade } = await applyRemoval(connection, scope, request, removal, { dryRun, expectController: controllerRuns });
  if (stillRemade) {
    process.stderr.write(`warning: ${name} was made again after every check: something keeps syncing it; stop it and run remove again\n`);
  }
  reportOutcomes(outcomes, { dryRun, output: args.output });
  // The complete undo includes the admission webhook a `sync NAME --watch --webhook` registered.
  if ('allNamespaces' in scope) {
    try {
      if (await removeWebhookConfiguration(connection, (serves) => serves.endsWith(`/${name}`), dryRun)) {
        process.stdout.write(`mutatingwebhookconfiguration/${WEBHOOK_CONFIGURATION_NAME} deleted${dryRunNote(dryRun)}\n`);
      }
    } catch (error) {
      process.stderr.write(`warning: admission webhook not checked: ${oneLine(error)}\n`);
    }
  }
  failIfAnyFailed(outcomes);
}
