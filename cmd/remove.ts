// `kubectl pullsecret remove NAME`: the exact undo of add — detach and delete what we manage.
import type { Argv } from 'yargs';
import { applyChanges } from '../lib/apply';
import { connect } from '../lib/connect';
import { oneLine } from '../lib/errors';
import { validateSecretName } from '../lib/names';
import { dryRunNote } from '../lib/print';
import { planRemoval } from '../lib/remove';
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

export async function handler(args: RemoveArgs): Promise<void> {
  const name = validateSecretName(args.name);
  const dryRun = args['dry-run'] ?? 'none';
  const connection = connect(connectOptionsFrom(args));
  const scope = scopeFrom(args, connection.namespace);
  const changes = await planRemoval(connection, scope, { name, keepSecret: Boolean(args['keep-secret']), force: Boolean(args.force) });
  const outcomes = await applyChanges(connection, changes, { dryRun });
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
