// Everything the plugin prints goes through here: kubectl-style tables and -o json|yaml|name.
// Objects that may hold credentials are redacted by their owners before they get here, except
// where the user explicitly asked for a manifest.
import { dump as dumpYaml } from 'js-yaml';

export type ObjectFormat = 'json' | 'yaml';

/** An object as kubectl prints it with -o json (4-space indent) or -o yaml. */
export function formatObject(value: unknown, format: ObjectFormat): string {
  if (format === 'json') return `${JSON.stringify(value, null, 4)}\n`;
  return dumpYaml(value);
}

/** A kubectl-style table: upper-case headers, columns padded and separated by three spaces. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** kubectl's AGE column: 5s, 3m, 2h, 4d, 2y (most significant unit only, like kubectl's short form). */
export function formatAge(created: Date | string | undefined, now: Date = new Date()): string {
  if (created === undefined) return '<unknown>';
  const seconds = Math.max(0, Math.floor((now.getTime() - new Date(created).getTime()) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return `${minutes}m${seconds % 60 ? `${seconds % 60}s` : ''}`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (days < 365 * 2) return `${days}d`;
  return `${Math.floor(days / 365)}y`;
}

/** What print needs of an outcome (lib/apply's Outcome satisfies it). */
export interface PrintableOutcome {
  namespace: string;
  object: string;
  result: string;
  detail?: string;
}

const dryRunSuffix = { none: '', client: ' (dry run)', server: ' (server dry run)' } as const;

/** What ends an output line in a dry run. */
export const dryRunNote = (dryRun: keyof typeof dryRunSuffix) => dryRunSuffix[dryRun];

/** One line per object: `serviceaccount/default attached regcred (namespace test)`. */
export function formatOutcome(outcome: PrintableOutcome, dryRun: keyof typeof dryRunSuffix = 'none'): string {
  const { object, result, detail, namespace } = outcome;
  const inline = result === 'attached' || result === 'detached';
  const text = detail ? (inline ? ` ${detail}` : `: ${detail}`) : '';
  const where = object.startsWith('namespace/') ? '' : ` (namespace ${namespace})`;
  return `${object} ${result}${text}${where}${dryRunSuffix[dryRun]}`;
}

/** `summary: 1 created, 2 attached, 1 failed`, in a fixed order of results. */
export function formatSummary(outcomes: PrintableOutcome[]): string {
  const order = ['created', 'updated', 'replaced', 'attached', 'detached', 'deleted', 'unchanged', 'skipped', 'failed'];
  const counts = new Map<string, number>();
  for (const outcome of outcomes) counts.set(outcome.result, (counts.get(outcome.result) ?? 0) + 1);
  const parts = order.filter((result) => counts.has(result)).map((result) => `${counts.get(result)} ${result}`);
  return `summary: ${parts.length ? parts.join(', ') : 'nothing to do'}`;
}

/** As kubectl prints objects by default (--show-managed-fields=false). */
function withoutManagedFields(object: { metadata?: object }): object {
  if (!object.metadata || !('managedFields' in object.metadata)) return object;
  const { managedFields: _managedFields, ...metadata } = object.metadata as Record<string, unknown>;
  return { ...object, metadata };
}

export interface RenderOptions {
  dryRun: keyof typeof dryRunSuffix;
  /** -o: json|yaml print the resulting objects, name prints kind/name; otherwise lines and a summary. */
  output?: string;
  /** Without -o: of the objects that did not fail, only those skipped (a large run on a terminal). */
  notableOnly?: boolean;
}

const APPLIED = new Set(['created', 'updated', 'replaced', 'attached', 'detached', 'deleted']);

/**
 * The error line of a run in which changes failed, saying exactly what happened to the others
 * (`1 of 2 changes failed; 1 skipped, nothing applied`); undefined when none failed. A single
 * change that failed is the line itself, so the error alone says what to do.
 */
export function failureSummary(outcomes: PrintableOutcome[]): string | undefined {
  const failed = outcomes.filter((o) => o.result === 'failed').length;
  if (failed === 0) return undefined;
  if (outcomes.length === 1) return formatOutcome(outcomes[0]!);
  if (failed === outcomes.length) return `all ${failed} changes failed`;
  const applied = outcomes.filter((o) => APPLIED.has(o.result)).length;
  const unchanged = outcomes.filter((o) => o.result === 'unchanged').length;
  const skipped = outcomes.filter((o) => o.result === 'skipped').length;
  const others = [
    applied > 0 ? `${applied} applied` : undefined,
    unchanged > 0 ? `${unchanged} unchanged` : undefined,
    skipped > 0 ? `${skipped} skipped` : undefined,
    applied === 0 ? 'nothing applied' : undefined,
  ].filter(Boolean);
  return `${failed} of ${outcomes.length} changes failed; ${others.join(', ')}`;
}

/**
 * What a verb that writes prints for its outcomes, and its exit code: 1 when any object failed
 * (the others were still applied, and are reported), else 0. As kubectl does, each object that
 * failed is an `error:` line on stderr and stdout holds the rest, so that `-o name|json|yaml`
 * stays parseable; failureSummary then ends stderr. With -o json|yaml the objects are printed in
 * full — the Secret with its data, as kubectl does when a manifest is asked for.
 */
export function renderOutcomes(
  outcomes: (PrintableOutcome & { after?: object })[],
  options: RenderOptions,
): { stdout: string; stderr: string; failed: number } {
  const failures = outcomes.filter((o) => o.result === 'failed');
  const failed = failures.length;
  // One change alone: failureSummary's error line is that failure.
  const stderr = outcomes.length === 1 ? '' : failures.map((o) => `error: ${formatOutcome(o, options.dryRun)}\n`).join('');
  if (options.output === 'json' || options.output === 'yaml') {
    const items = outcomes.flatMap((o) => (o.after ? [withoutManagedFields(o.after)] : []));
    return { stdout: formatObject({ apiVersion: 'v1', kind: 'List', items }, options.output), stderr, failed };
  }
  if (options.output === 'name') {
    // One line per object, as kubectl prints `-o name` across namespaces: the same kind/name in
    // two namespaces is two lines, one object with two outcomes is one.
    const objects = new Map(outcomes.filter((o) => o.after).map((o) => [`${o.namespace}/${o.object}`, o.object]));
    return { stdout: [...objects.values()].map((n) => `${n}\n`).join(''), stderr, failed };
  }
  const shown = (o: PrintableOutcome) => (options.notableOnly ? o.result === 'skipped' : o.result !== 'failed');
  const lines = outcomes.filter(shown).map((o) => formatOutcome(o, options.dryRun));
  return { stdout: `${[...lines, formatSummary(outcomes) + dryRunSuffix[options.dryRun]].join('\n')}\n`, stderr, failed };
}
