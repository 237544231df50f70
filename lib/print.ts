// Everything the plugin prints goes through here: kubectl-style tables and -o json|yaml|name.
// Objects that may hold credentials are redacted by their owners before they get here, except
// where the user explicitly asked for a manifest.
import { dumpYaml } from '@kubernetes/client-node';

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
