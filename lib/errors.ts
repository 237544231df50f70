// Errors that reach the user. Every failure the plugin reports is one of these, so the entry
// point can print one line and exit with a code scripts can trust; anything else is a bug and
// only shows its stack trace with -v.

/** Exit codes, documented in README.md. */
export const ExitCode = {
  ok: 0,
  /** The run failed, or some objects failed (the others were still applied and reported). */
  failed: 1,
  /** The command line or an input file is wrong; nothing was changed. */
  usage: 2,
} as const;

/** An error with a one-line message meant for the user. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.failed,
    /** The error this one explains, for code that needs its kind (e.g. a network error code). */
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'CliError';
  }
}

/** Bad flags, arguments or input files: exit 2, nothing was changed. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.usage);
    this.name = 'UsageError';
  }
}

/** The message of any thrown value, on one line. */
export function oneLine(value: unknown): string {
  const text = value instanceof Error ? value.message : String(value);
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
