// Writing a verb's outcomes: the rendering is lib/print's; this only sends it to the streams.
import { CliError } from '../lib/errors';
import { failureSummary, renderOutcomes, type PrintableOutcome, type RenderOptions } from '../lib/print';

export function reportOutcomes(outcomes: (PrintableOutcome & { after?: object })[], options: RenderOptions): void {
  const { stdout, stderr } = renderOutcomes(outcomes, options);
  process.stdout.write(stdout);
  process.stderr.write(stderr);
}

/** Exit 1 when any object failed, with failureSummary's line (the failures are on stderr above it). */
export function failIfAnyFailed(outcomes: PrintableOutcome[]): void {
  const summary = failureSummary(outcomes);
  if (summary !== undefined) throw new CliError(summary);
}
