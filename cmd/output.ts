// Writing a verb's outcomes: the rendering is lib/print's; this only sends it to the streams.
import { CliError } from '../lib/errors';
import { formatOutcome, renderOutcomes, type PrintableOutcome, type RenderOptions } from '../lib/print';

export function reportOutcomes(outcomes: (PrintableOutcome & { after?: object })[], options: RenderOptions): void {
  const { stdout, stderr } = renderOutcomes(outcomes, options);
  process.stdout.write(stdout);
  process.stderr.write(stderr);
}

/** Exit 1, with one line, when any object failed (the others were applied and reported above). */
export function failIfAnyFailed(outcomes: PrintableOutcome[]): void {
  const failed = outcomes.filter((o) => o.result === 'failed').length;
  if (failed === 0) return;
  // A single change that failed is named with its reason, so the error line alone says what to do.
  if (failed === outcomes.length) throw new CliError(failed === 1 ? formatOutcome(outcomes[0]!) : `all ${failed} changes failed`);
  throw new CliError(`${failed} of ${outcomes.length} changes failed; the others were applied`);
}
