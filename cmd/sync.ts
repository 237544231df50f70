// `kubectl pullsecret sync`: copy sources into every selected namespace and attach them there,
// once, or for as long as it runs (--watch).
import type { Argv } from 'yargs';
import { applyChanges, type Outcome } from '../lib/apply';
import { connect } from '../lib/connect';
import { CliError, UsageError, oneLine } from '../lib/errors';
import { CONTROLLER_NAME, CONTROLLER_NAMESPACE, printManifests } from '../lib/manifests';
import { validateNamespaceName, validateSecretName } from '../lib/names';
import { dryRunNote } from '../lib/print';
import { findStuckPods, listPendingPods, planSync, readSyncState, restartStuckPods, type SyncRequest } from '../lib/sync';
import { WEBHOOK_CONFIGURATION_NAME, removeWebhookConfiguration, webhookExcludedNamespaces, type WebhookOptions } from '../lib/webhook';
import { managerFlags, managerOptionsFrom, type ManagerArgs } from './controller-flags';
import { connectOptionsFrom, withDryRun, withOutput, type ConnectionArgs, type DryRunArgs } from './flags';
import { failIfAnyFailed, reportOutcomes } from './output';

export const command = 'sync [name]';
export const describe = 'Copy pull secrets made by add into every selected namespace and attach them there';

export const builder = (yargs: Argv) =>
  withOutput(withDryRun(yargs), ['json', 'yaml', 'name'])
    .positional('name', { type: 'string', describe: 'The source to sync (a pull secret made by add, in -n NAMESPACE)' })
    .options({
      all: { type: 'boolean', describe: 'Sync every source' },
      namespaces: { type: 'string', describe: 'Only these namespaces (comma-separated)' },
      selector: { alias: 'l', type: 'string', describe: 'Only namespaces with these labels (e.g. team=a,env!=prod)' },
      exclude: { type: 'string', array: true, describe: 'Leave out namespaces matching this glob (repeatable)' },
      'service-accounts': {
        type: 'string',
        default: 'all',
        describe: 'Attach to: all, default, comma-separated names and globs, or none (never write a ServiceAccount; pods get the secret from --webhook)',
      },
      prune: { type: 'boolean', describe: 'Remove stale copies (namespace no longer selected, or source gone) and their references' },
      force: { type: 'boolean', describe: 'Overwrite same-named secrets that kubectl-pullsecret does not manage' },
      // 64, as many as the keep-alive agent's sockets: side by side with 32 on fresh control planes
      // of 1000 namespaces, etcd batched more writes per commit and used less CPU in every pair.
      concurrency: { type: 'number', default: 64, describe: 'Writes in flight at once' },
      watch: { alias: 'w', type: 'boolean', describe: 'Keep syncing as namespaces, ServiceAccounts and sources change' },
      'restart-pending': { type: 'boolean', describe: 'Delete controller-owned pods stuck in ImagePullBackOff that the synced secret now covers' },
      'print-manifests': { type: 'boolean', describe: 'With --watch: print the manifests that run this sync in the cluster (ServiceAccount, least-privilege RBAC, Deployment) and exit' },
      image: { type: 'string', describe: 'With --print-manifests: the plugin image for the Deployment' },
      webhook: { type: 'boolean', describe: 'With --watch: also add the secrets to pods as they are created (a mutating admission webhook), closing the race with new namespaces' },
      'webhook-listen': { type: 'string', default: '0.0.0.0:8443', describe: 'With --webhook: address to serve HTTPS on' },
      'webhook-url': { type: 'string', describe: 'With --webhook: the URL the API server calls (default: the Service in front of the Deployment)' },
      'webhook-namespace': { type: 'string', default: CONTROLLER_NAMESPACE, describe: 'With --webhook: namespace of the Service and of the certificate Secret' },
      replicas: { type: 'number', describe: 'With --print-manifests: pods of the Deployment (default 2; one leader writes, every one serves the webhook)' },
      ...managerFlags,
    })
    .example([
      ['$0 sync --all', 'Every source to every namespace, once'],
      ['$0 sync regcred -n ci --exclude "kube-*" --watch', 'One source, kept true as namespaces come and go'],
      ['$0 sync --all --watch --print-manifests --image registry.example/kubectl-pullsecret:0.1.0 | kubectl apply -f -', 'Run it in the cluster'],
    ]);

interface SyncArgs extends ConnectionArgs, DryRunArgs, ManagerArgs {
  name?: string;
  all?: boolean;
  namespaces?: string;
  selector?: string;
  exclude?: string[];
  'service-accounts': string;
  prune?: boolean;
  force?: boolean;
  concurrency: number;
  watch?: boolean;
  'restart-pending'?: boolean;
  'print-manifests'?: boolean;
  image?: string;
  webhook?: boolean;
  'webhook-listen': string;
  'webhook-url'?: string;
  'webhook-namespace': string;
  replicas?: number;
  output?: string;
}

function webhookOptions(args: SyncArgs, request: SyncRequest): WebhookOptions {
  const listen = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(args['webhook-listen']);
  if (!listen) throw new UsageError(`invalid --webhook-listen "${args['webhook-listen']}": expected HOST:PORT, e.g. 0.0.0.0:8443`);
  if (args['webhook-url'] !== undefined && !/^https:\/\/[^/]+/.test(args['webhook-url'])) {
    throw new UsageError(`invalid --webhook-url "${args['webhook-url']}": the API server only calls https:// webhooks`);
  }
  const namespace = validateNamespaceName(args['webhook-namespace']);
  return {
    listenHost: listen[1]!.replace(/^\[|\]$/g, '') || '0.0.0.0',
    listenPort: Number(listen[2]),
    ...(args['webhook-url'] ? { url: args['webhook-url'] } : {}),
    service: { namespace, name: CONTROLLER_NAME, port: 443 },
    namespace,
    excludedNamespaces: webhookExcludedNamespaces(request, namespace),
  };
}

function syncRequest(args: SyncArgs, namespace: string): SyncRequest {
  if (args.all && args.name) throw new UsageError('give a source NAME or --all, not both');
  if (!args.all && !args.name) throw new UsageError('nothing to sync: give a source NAME (with -n NAMESPACE) or --all');
  if (args.all && args.namespace !== undefined) {
    throw new UsageError('-n names the namespace of the source NAME; use --namespaces to choose where --all copies to');
  }
  const namespaces = args.namespaces?.split(',').map((n) => n.trim()).filter(Boolean).map(validateNamespaceName);
  if (namespaces && namespaces.length === 0) throw new UsageError('--namespaces needs at least one namespace');
  const accounts = args['service-accounts'].trim();
  if (accounts === '') throw new UsageError('--service-accounts needs a value: all, default, or names and globs');
  return {
    source: args.all ? 'all' : { namespace, name: validateSecretName(args.name!) },
    namespaces: {
      ...(namespaces ? { names: namespaces } : {}),
      ...(args.selector ? { labelSelector: args.selector } : {}),
      exclude: args.exclude ?? [],
    },
    serviceAccounts: accounts === 'all' || accounts === 'none' ? accounts : accounts.split(',').map((n) => n.trim()).filter(Boolean),
    prune: Boolean(args.prune),
    force: Boolean(args.force),
  };
}

/** A progress line on a terminal for large runs, instead of thousands of outcome lines. */
function progress(total: number): ((outcome: Outcome) => void) | undefined {
  if (!process.stderr.isTTY || total < 100) return undefined;
  let done = 0;
  return () => {
    done++;
    if (done % 25 === 0 || done === total) process.stderr.write(`\r${done}/${total} changes applied${done === total ? '\n' : ''}`);
  };
}

export async function handler(args: SyncArgs): Promise<void> {
  if (!Number.isInteger(args.concurrency) || args.concurrency < 1) throw new UsageError('--concurrency must be a whole number of at least 1');
  const dryRun = args['dry-run'] ?? 'none';
  const connection = connect(connectOptionsFrom(args));
  const request = syncRequest(args, connection.namespace);
  if (request.serviceAccounts === 'none' && !(args.watch && args.webhook)) {
    throw new UsageError('--service-accounts none never attaches the secret to a ServiceAccount, so only the admission webhook can give it to pods: use it with --watch --webhook');
  }
  if (args.replicas !== undefined && !args['print-manifests']) throw new UsageError('--replicas sets the Deployment of --print-manifests');
  if (args.replicas !== undefined && (!Number.isInteger(args.replicas) || args.replicas < 1)) throw new UsageError('--replicas must be a whole number of at least 1');
  const manager = managerOptionsFrom(args);
  if (args['print-manifests']) {
    if (!args.watch) throw new UsageError('--print-manifests describes the controller: use it with --watch');
    if (args['restart-pending']) throw new UsageError('--restart-pending is a one-shot action; it does not run in the cluster');
    process.stdout.write(
      printManifests({
        request,
        concurrency: args.concurrency,
        webhook: Boolean(args.webhook),
        ...(args.image ? { image: args.image } : {}),
        ...(args.replicas !== undefined ? { replicas: args.replicas } : {}),
      }),
    );
    return;
  }
  if (args.webhook && !args.watch) throw new UsageError('--webhook serves pods as they are created: use it with --watch');
  if (args.watch) {
    if (dryRun !== 'none') throw new UsageError('--watch cannot be combined with --dry-run');
    if (args['restart-pending']) throw new UsageError('--restart-pending is a one-shot action; run it without --watch');
    // The controller (client-node's Watch, the webhook server, metrics) is loaded only for --watch.
    const { runController } = await import('../lib/watch');
    await runController(connection, request, {
      concurrency: args.concurrency,
      manager,
      ...(args.webhook ? { webhook: webhookOptions(args, request) } : {}),
    });
    return;
  }
  if (manager.given.length > 0) throw new UsageError(`${manager.given.join(', ')} ${manager.given.length > 1 ? 'set' : 'sets'} up the controller: use with --watch`);

  // Ctrl-C stops starting new writes; what was done is still reported.
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Read beside the sync's own reads and writes (see listPendingPods), so that it adds no time.
  // Looking for stuck pods is a courtesy: its failure must not hide the outcome of the sync.
  const pendingPods = dryRun === 'none' ? listPendingPods(connection).then((pods) => ({ pods }), (error: unknown) => ({ error })) : undefined;
  try {
    const state = await readSyncState(connection, request);
    const changes = planSync(request, state);
    const onOutcome = args.output ? undefined : progress(changes.length);
    const outcomes = await applyChanges(connection, changes, { dryRun, concurrency: args.concurrency, signal: interrupt.signal, onOutcome });
    // On a terminal, a large run prints what needs attention, then the summary.
    reportOutcomes(outcomes, { dryRun, output: args.output, notableOnly: onOutcome !== undefined });
    if (request.prune && !interrupt.signal.aborted) {
      // A webhook left by an earlier `sync --watch --webhook` of this scope goes with the prune.
      const { source } = request;
      const serving = source === 'all' ? undefined : (serves: string) => serves === `${source.namespace}/${source.name}`;
      try {
        if (await removeWebhookConfiguration(connection, serving, dryRun)) {
          process.stdout.write(`mutatingwebhookconfiguration/${WEBHOOK_CONFIGURATION_NAME} deleted${dryRunNote(dryRun)}\n`);
        }
      } catch (error) {
        process.stderr.write(`warning: admission webhook not checked: ${oneLine(error)}\n`);
      }
    }
    if (pendingPods && !interrupt.signal.aborted) {
      const pods = await pendingPods;
      if ('error' in pods) process.stderr.write(`warning: pods stuck in ImagePullBackOff not checked: ${oneLine(pods.error)}\n`);
      const stuck = 'error' in pods ? [] : findStuckPods(request, state, pods.pods);
      if (args['restart-pending']) {
        const restarted = await restartStuckPods(connection, stuck);
        for (const line of restarted) process.stdout.write(`${line}\n`);
      } else {
        for (const { pod, image, secret } of stuck) {
          process.stderr.write(
            `warning: pod/${pod.metadata!.name} (namespace ${pod.metadata!.namespace}) cannot pull ${image}, which ${secret} now covers; it got its pull secrets at creation: re-create it (--restart-pending does for pods with a controller)\n`,
          );
        }
      }
    }
    if (interrupt.signal.aborted) throw new CliError('interrupted: the changes reported above as done stay applied', 130);
    failIfAnyFailed(outcomes);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
