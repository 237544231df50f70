// `kubectl pullsecret add NAME`: create or update a pull secret and attach it to ServiceAccounts.
import { homedir } from 'node:os';
import type { Argv } from 'yargs';
import { planAddition, podsMissingSecret } from '../lib/add';
import { applyChanges } from '../lib/apply';
import { connect, parseRequestTimeout } from '../lib/connect';
import {
  DEFAULT_SERVER,
  loadCredentials,
  promptPassword,
  readPasswordFromStdin,
  type CredentialSource,
} from '../lib/credentials';
import { defaultDockerConfigPath } from '../lib/dockerconfig';
import { UsageError } from '../lib/errors';
import { parseNamespacedName, validateNamespaceName, validateSecretName, validateServiceAccountName } from '../lib/names';
import type { ServiceAccountSelection } from '../lib/plan';
import { formatCheck, requireWorkingLogins } from '../lib/verify';
import { connectOptionsFrom, withDryRun, withOutput, type ConnectionArgs, type DryRunArgs } from './flags';
import { failIfAnyFailed, reportOutcomes } from './output';
import { verifyOptionsFrom, withVerify, type VerifyArgs } from './verify-flags';

export const command = 'add <name>';
export const describe = 'Create or update a pull secret and attach it to ServiceAccounts';

export const builder = (yargs: Argv) =>
  withVerify(withOutput(withDryRun(yargs), ['json', 'yaml', 'name']), 'refuse to write credentials that do not work')
    .positional('name', { type: 'string', demandOption: true, describe: 'Name of the pull secret' })
    .options({
      namespaces: { type: 'string', describe: 'Comma-separated namespaces to add it to (instead of -n)' },
      server: { type: 'string', describe: `Registry server (default ${DEFAULT_SERVER}); globs and paths as the kubelet matches them` },
      username: { type: 'string', describe: 'Registry user name' },
      'password-stdin': { type: 'boolean', describe: 'Read the password from stdin (else a no-echo prompt on a terminal)' },
      password: { type: 'string', hidden: true },
      email: { type: 'string', describe: 'Registry e-mail (optional)' },
      'from-docker-config': {
        type: 'string',
        describe: 'Copy credentials from a docker config.json or podman auth.json (default $DOCKER_CONFIG/config.json, else ~/.docker/config.json); credential helpers are resolved',
      },
      registry: { type: 'string', array: true, describe: 'With --from-docker-config: only this registry (repeatable)' },
      'credential-helper-timeout': {
        type: 'string',
        default: '10s',
        describe: 'With --from-docker-config: how long a docker-credential-<helper> may take',
      },
      'from-secret': { type: 'string', describe: 'Copy an existing pull secret, NAMESPACE/NAME' },
      'service-account': { type: 'string', array: true, describe: 'Attach to this ServiceAccount (repeatable; default: default)' },
      'all-service-accounts': { type: 'boolean', describe: 'Attach to every ServiceAccount in the namespace' },
      attach: { type: 'boolean', default: true, describe: 'Attach to ServiceAccounts (--no-attach only writes the secret)' },
      replace: { type: 'boolean', describe: 'Replace the whole content of our existing secret instead of merging registries into it' },
      force: { type: 'boolean', describe: 'Take over a secret of that name that kubectl-pullsecret does not manage' },
    })
    .example([
      ['$0 add regcred -n test --server registry.example --username ci --password-stdin < password.txt', 'From a login'],
      ['$0 add regcred -n test --from-docker-config --registry registry.example', 'From your local docker login'],
      ['$0 add regcred --namespaces a,b --from-secret ci/regcred --all-service-accounts', 'Copy a secret into two namespaces'],
    ]);

interface AddArgs extends ConnectionArgs, DryRunArgs, VerifyArgs {
  name: string;
  namespaces?: string;
  server?: string;
  username?: string;
  'password-stdin'?: boolean;
  password?: string;
  email?: string;
  'from-docker-config'?: string;
  registry?: string[];
  'credential-helper-timeout': string;
  'from-secret'?: string;
  'service-account'?: string[];
  'all-service-accounts'?: boolean;
  attach: boolean;
  replace?: boolean;
  force?: boolean;
  output?: string;
}

/** --credential-helper-timeout: a duration above zero (a helper must never hang the run). */
function parseHelperTimeout(value: string): number {
  let ms: number | undefined;
  try {
    ms = parseRequestTimeout(value);
  } catch {
    ms = undefined;
  }
  if (ms === undefined) throw new UsageError(`invalid --credential-helper-timeout "${value}": use a duration above zero such as 5s or 1m`);
  return ms;
}

/** Exactly one credential source; the password is read here, never taken from argv. */
async function credentialSource(args: AddArgs): Promise<CredentialSource> {
  if (args.password !== undefined) {
    throw new UsageError('--password is not accepted (it would leak into shell history and process lists): use --password-stdin or the prompt');
  }
  const login = args.username !== undefined || args.server !== undefined || args['password-stdin'] || args.email !== undefined;
  const chosen = [login && 'a login (--username)', args['from-docker-config'] !== undefined && '--from-docker-config', args['from-secret'] !== undefined && '--from-secret']
    .filter((s): s is string => Boolean(s));
  if (chosen.length === 0) {
    throw new UsageError('no credentials given: use --username with --password-stdin, --from-docker-config, or --from-secret NAMESPACE/NAME');
  }
  if (chosen.length > 1) throw new UsageError(`choose one credential source, not ${chosen.join(' and ')}`);
  if (args.registry?.length && args['from-docker-config'] === undefined) {
    throw new UsageError('--registry selects entries of --from-docker-config; use --server with a login');
  }
  if (args['from-docker-config'] !== undefined) {
    const path = args['from-docker-config'] || defaultDockerConfigPath(process.env, homedir());
    const helperTimeoutMs = parseHelperTimeout(args['credential-helper-timeout']);
    return { kind: 'docker-config', path, registries: args.registry ?? [], helperTimeoutMs };
  }
  if (args['from-secret'] !== undefined) return { kind: 'secret', ...parseNamespacedName(args['from-secret'], '--from-secret') };
  if (!args.username) throw new UsageError('--username is required with a login (the password comes from --password-stdin or the prompt)');
  const password = args['password-stdin'] ? await readPasswordFromStdin() : await promptPassword(`Password for ${args.username}: `);
  return {
    kind: 'login',
    server: args.server ?? DEFAULT_SERVER,
    username: args.username,
    password,
    ...(args.email ? { email: args.email } : {}),
  };
}

function serviceAccountSelection(args: AddArgs): ServiceAccountSelection {
  const names = args['service-account'] ?? [];
  const ways = [names.length > 0 && '--service-account', args['all-service-accounts'] && '--all-service-accounts', !args.attach && '--no-attach']
    .filter(Boolean);
  if (ways.length > 1) throw new UsageError(`${ways.join(' and ')} cannot be used together`);
  if (!args.attach) return { none: true };
  if (args['all-service-accounts']) return { all: true };
  return { names: names.length ? names.map(validateServiceAccountName) : ['default'] };
}

export async function handler(args: AddArgs): Promise<void> {
  const name = validateSecretName(args.name);
  if (args.namespaces !== undefined && args.namespace !== undefined) {
    throw new UsageError('-n/--namespace and --namespaces cannot be used together');
  }
  const serviceAccounts = serviceAccountSelection(args);
  const verifyOptions = verifyOptionsFrom(args);
  const dryRun = args['dry-run'] ?? 'none';
  const connection = connect(connectOptionsFrom(args));
  const namespaces = args.namespaces !== undefined
    ? [...new Set(args.namespaces.split(',').map((n) => n.trim()).filter(Boolean))].map(validateNamespaceName)
    : [connection.namespace];
  if (namespaces.length === 0) throw new UsageError('--namespaces needs at least one namespace');
  const source = await credentialSource(args);
  const credentials = await loadCredentials(source, connection);
  if (verifyOptions) {
    for (const check of await requireWorkingLogins(credentials.config, verifyOptions)) process.stderr.write(`verified: ${formatCheck(check)}\n`);
  }

  const changes = await planAddition(
    connection,
    namespaces,
    { name, content: credentials.content, replace: Boolean(args.replace), force: Boolean(args.force), serviceAccounts },
    credentials.config,
  );
  const outcomes = await applyChanges(connection, changes, { dryRun });
  reportOutcomes(outcomes, { dryRun, output: args.output });

  if (dryRun === 'none') {
    const stale = await podsMissingSecret(connection, outcomes, name);
    if (stale.length > 0) {
      const names = stale.map((pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`);
      process.stderr.write(
        `warning: ${stale.length} existing pod(s) do not have ${name} (a pod gets its ServiceAccount's pull secrets only when created); re-create them if they fail to pull: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', ...' : ''}\n`,
      );
    }
  }
  failIfAnyFailed(outcomes);
}
