// The kubectl-pullsecret entry point: a thin root that declares the verbs and the shared flags,
// hands off to cmd/<verb>.ts, and turns every failure into one `error: ...` line and an exit code.
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { CliError, ExitCode, UsageError, oneLine } from '../lib/errors';
import { connectionOptions } from './flags';
import * as add from './add';
import * as list from './list';
import * as remove from './remove';
import * as sync from './sync';
import * as version from './version';

/** How the user invoked us: `kubectl pullsecret` as a plugin, else the file's own name. */
function displayName(argv0: string | undefined): string {
  const base = path.basename(argv0 ?? 'kubectl-pullsecret').replace(/\.(exe|js|cjs|ts)$/, '');
  return base.startsWith('kubectl-') ? `kubectl ${base.slice('kubectl-'.length).replace(/_/g, '-')}` : base;
}

function verbose(argv: string[]): boolean {
  return argv.some((arg) => /^(-v|--v|--verbosity)(=.*)?$/.test(arg));
}

export async function main(argv: string[] = hideBin(process.argv)): Promise<number> {
  const name = displayName(process.argv[1]);
  const parser = yargs(argv)
    .scriptName(name)
    .usage(`${name} manages the pull secrets that let pods pull from private registries.\n\nUsage: ${name} <command> [flags]`)
    .options(connectionOptions)
    .command(add)
    .command(list)
    .command(remove)
    .command(sync)
    .command(version)
    .demandCommand(1, `a command is required (see '${name} --help')`)
    .recommendCommands()
    .strict()
    .version(false)
    .help('help')
    .alias('help', 'h')
    .wrap(Math.min(110, process.stdout.columns || 110))
    .exitProcess(false)
    .fail((message, error) => {
      if (error instanceof CliError) throw error;
      // yargs reports bad flags (and errors thrown by option coercion) as its own YError.
      if (error && error.name !== 'YError') throw error;
      throw new UsageError(`${(message ?? error?.message ?? '').replace(/\s*\n\s*/g, ' ')} (see '${name} --help')`);
    });
  try {
    await parser.parseAsync();
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`error: ${oneLine(error)}\n`);
      return error.exitCode;
    }
    process.stderr.write(`error: unexpected failure: ${oneLine(error)}\n`);
    if (verbose(argv) && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return ExitCode.failed;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`error: unexpected failure: ${oneLine(error)}\n`);
    process.exitCode = ExitCode.failed;
  },
);
