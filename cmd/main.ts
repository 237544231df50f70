// The kubectl-pullsecret entry point: a thin root that declares the verbs and the shared flags,
// hands off to cmd/<verb>.ts, and turns every failure into one `error: ...` line and an exit code.
import { writeSync } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { CliError, ExitCode, UsageError, oneLine } from '../lib/errors';
import { pluginVersion } from '../lib/version';
import { connectionOptions } from './flags';

/** What a verb module (cmd/<verb>.ts) exports: a yargs command module. */
export interface VerbModule {
  command: string;
  aliases?: readonly string[];
  describe: string | false;
  builder?: (yargs: Argv) => unknown;
  handler: (args: never) => unknown;
}

export interface Verb {
  /** The verb and its aliases (an alias missing here still works, it only loads every verb). */
  names: string[];
  load: () => Promise<VerbModule>;
}

/**
 * The verbs, one line each. A verb's module, and what it imports (the Kubernetes client above
 * all), is loaded only when that verb runs, so no command pays at startup for the others.
 */
const verbs: Verb[] = [
  { names: ['add'], load: () => import('./add') },
  { names: ['doctor'], load: () => import('./doctor') },
  { names: ['list', 'ls'], load: () => import('./list') },
  { names: ['remove', 'rm'], load: () => import('./remove') },
  { names: ['sync'], load: () => import('./sync') },
  { names: ['version'], load: () => import('./version') },
];

/** How the user invoked us: `kubectl pullsecret` as a plugin, else the file's own name. */
function displayName(argv0: string | undefined): string {
  const base = path.basename(argv0 ?? 'kubectl-pullsecret').replace(/\.(exe|js|cjs|ts)$/, '');
  return base.startsWith('kubectl-') ? `kubectl ${base.slice('kubectl-'.length).replace(/_/g, '-')}` : base;
}

function verbose(argv: string[]): boolean {
  return argv.some((arg) => /^(-v|--v|--verbosity)(=.*)?$/.test(arg));
}

/** The verb word, as yargs will see it: the first argument that is not a flag or a flag's value. */
function verbWord(argv: string[]): string | undefined {
  const typed = (name: string) => (name.length === 1 ? `-${name}` : `--${name}`);
  const takesValue = new Set(
    Object.entries(connectionOptions).flatMap(([name, spec]) =>
      spec.type === 'string' ? [name, ...('alias' in spec ? [spec.alias] : [])].map(typed) : [],
    ),
  );
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return argv[i + 1];
    if (!arg.startsWith('-')) return arg;
    if (takesValue.has(arg)) i++;
  }
  return undefined;
}

/** The modules to register: only the verb being run when it is named, else all (help, typos). */
async function verbModules(argv: string[]) {
  const word = verbWord(argv);
  const named = verbs.find((verb) => word !== undefined && verb.names.includes(word));
  const modules = await Promise.all((named ? [named] : verbs).map((verb) => verb.load()));
  // Each module types its own arguments; yargs hands every handler what its builder declared.
  return modules as unknown as CommandModule[];
}

/**
 * yargs renders the help of the command it is about to run, in case the handler asks for it later
 * (ours never do; bad flags fail before and render their own). Measuring every line's width cost
 * `list` about 35 ms at every start, so that step is skipped, where the yargs internals allow it.
 */
function skipHelpPrerender(parser: object): void {
  type Internals = { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } };
  const usage = (parser as Internals).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

// User arguments start at argv[2], under node and in the standalone executable alike.
export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  // Answered before anything else is loaded: scripts call these and expect them to be quick.
  if (argv[0] === '__complete') {
    await (await import('./complete')).complete(argv.slice(1), verbs);
    return ExitCode.ok;
  }
  const name = displayName(process.argv[1]);
  const { default: yargs } = await import('yargs');
  const parser = yargs(argv)
    .scriptName(name)
    .usage(`${name} manages the pull secrets that let pods pull from private registries.\n\nUsage: ${name} <command> [flags]`)
    .options(connectionOptions)
    .command(await verbModules(argv))
    .demandCommand(1, `a command is required (see '${name} --help')`)
    .recommendCommands()
    .strict()
    .version(false)
    // Ours, not yargs' built-in one (handled above, before yargs loads): listed in help, root only.
    .option('version', { type: 'boolean', global: false, describe: 'Print the plugin version and exit' })
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
  skipHelpPrerender(parser);
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

/**
 * Ends the process with `code` once stdout and stderr have taken everything written to them
 * (writes to pipes are asynchronous on some platforms). The command is done when main settles;
 * exiting then, rather than when the event loop runs dry, skips tearing down the heap: several
 * milliseconds of every run (`npm run bench -- startup`).
 */
function exitWhenFlushed(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const flushed = () => {
    if (--pending === 0) process.exit(code);
  };
  // The callback runs after every earlier write, or with an error if the stream is gone.
  process.stdout.write('', flushed);
  process.stderr.write('', flushed);
}

// A reader that stops early (`| head`) closes the pipe: end quietly, as kubectl does (it dies of
// SIGPIPE, which a shell reports as 141), instead of dying of an unhandled 'error' event.
const SIGPIPE_EXIT = 141;

function endQuietlyOnClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(SIGPIPE_EXIT);
      throw error;
    });
  }
}

/** `--version` at the root (after a verb, it is an unknown argument). */
const asksForVersion = (argv: string[]) => argv.includes('--version') && verbWord(argv) === undefined;

/**
 * Answers `--version` before anything else is loaded or made, scripts call it and expect it to be
 * quick: even process.stdout and process.stderr are left alone, streams that take several
 * milliseconds to set up (a pipe's is a net.Socket), more than the rest of the answer. The line
 * goes straight to the file descriptor.
 */
function printVersion(): void {
  try {
    writeSync(1, `${pluginVersion}\n`);
    process.exitCode = ExitCode.ok;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') process.exitCode = SIGPIPE_EXIT;
    // A non-blocking pipe that is full: the stream waits for room, as it does for any output.
    else if (code === 'EAGAIN') process.stdout.write(`${pluginVersion}\n`);
    else {
      process.stderr.write(`error: cannot write to stdout: ${oneLine(error)}\n`);
      process.exitCode = ExitCode.failed;
    }
  }
}

const argv = process.argv.slice(2);
if (asksForVersion(argv)) {
  printVersion();
} else {
  endQuietlyOnClosedPipes();
  main(argv).then(exitWhenFlushed, (error: unknown) => {
    process.stderr.write(`error: unexpected failure: ${oneLine(error)}\n`);
    exitWhenFlushed(ExitCode.failed);
  });
}
