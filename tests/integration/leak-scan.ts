// The "secrets never leak" check of the integration tests. The harness remembers every password
// the tests hand to the plugin (stdin of --password-stdin runs, docker configs, credential
// helpers) and records everything every plugin run printed; at the end of each test file it scans
// the records for the passwords in any form: as given, JSON-escaped, base64 of the password or of
// `user:password`, and inside any base64 text of the output (a whole `.dockerconfigjson`, say).
// The one allowed place is what the user asked for as a manifest: the `data` of a Secret in the
// stdout of `add|sync|remove -o yaml|json`. Pure (no cluster), so tests/unit checks it too.
import { loadAllYaml } from '@kubernetes/client-node';

/** Passwords shorter than this are not scanned for: they would match ordinary output. */
export const MIN_SCANNED_LENGTH = 6;

export interface PluginOutput {
  stdout: string;
  stderr: string;
}

export interface RecordedRun {
  /** The arguments (for `sh -c LINE`, the shell's arguments). */
  argv: string[];
  /** The output so far (a process still running is read at scan time). */
  read: () => PluginOutput;
}

export interface Leak {
  /** The command line, every remembered password in it redacted. */
  command: string;
  stream: 'stdout' | 'stderr';
  /** How the password appeared, e.g. `base64(user:password)` or `inside base64 text`. */
  form: string;
  /** 1-based line of the output. */
  line: number;
  /** That line, every form of every remembered password redacted. */
  excerpt: string;
}

interface Remembered {
  password: string;
  usernames: Set<string>;
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const VERBS_WITH_MANIFESTS = new Set(['add', 'sync', 'remove', 'rm']);
const VERBS = new Set([...VERBS_WITH_MANIFESTS, 'list', 'ls', 'doctor', 'version']);
const BASE64_RUN = /[A-Za-z0-9+/]{8,}={0,2}/g;

/** The words of a command line (an `sh -c` line is split on blanks, which is enough here). */
function words(argv: string[]): string[] {
  return argv.flatMap((arg) => arg.split(/\s+/)).filter((word) => word !== '');
}

/** The verb of a plugin command line: the first word that names one. */
export function verbOf(argv: string[]): string | undefined {
  return words(argv).find((word) => VERBS.has(word));
}

/** The -o/--output value of a command line, if any. */
export function outputFormatOf(argv: string[]): string | undefined {
  const list = words(argv);
  for (let i = 0; i < list.length; i++) {
    const word = list[i]!;
    if (word === '-o' || word === '--output') return list[i + 1];
    const joined = /^(?:--output=|-o=?)(.+)$/.exec(word);
    if (joined) return joined[1];
  }
  return undefined;
}

/** Whether stdout may hold Secret data because the user asked for a manifest. */
export function printsManifests(argv: string[]): boolean {
  const format = outputFormatOf(argv);
  return (format === 'yaml' || format === 'json') && VERBS_WITH_MANIFESTS.has(verbOf(argv) ?? '');
}

/** Drops `data`/`stringData` of every Secret, wherever it is nested (List items). */
function withoutSecretData(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecretData);
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(record)) {
    if (record.kind === 'Secret' && (key === 'data' || key === 'stringData')) continue;
    copy[key] = withoutSecretData(member);
  }
  return copy;
}

/**
 * The part of a manifest stdout that is scanned: everything but the Secrets' data. Output that
 * does not parse as JSON or YAML is scanned whole (the plugin prints one complete document).
 */
export function scannableManifest(stdout: string): string {
  if (stdout.trim() === '') return '';
  try {
    return JSON.stringify(withoutSecretData(JSON.parse(stdout)));
  } catch {
    // not JSON: YAML, below
  }
  try {
    return JSON.stringify(withoutSecretData(loadAllYaml(stdout)));
  } catch {
    return stdout;
  }
}

export class LeakScanner {
  private readonly secrets = new Map<string, Remembered>();
  private readonly runs = new Set<RecordedRun>();

  /** A password given to the plugin, and the user names it goes with (for base64 `user:password`). */
  remember(password: string, usernames: Iterable<string> = []): void {
    if (password === '') return;
    const entry = this.secrets.get(password) ?? { password, usernames: new Set<string>() };
    for (const username of usernames) if (username !== '') entry.usernames.add(username);
    this.secrets.set(password, entry);
  }

  /** Records a plugin run; the returned function forgets it again. */
  record(run: RecordedRun): () => void {
    this.runs.add(run);
    return () => void this.runs.delete(run);
  }

  get runCount(): number {
    return this.runs.size;
  }

  /** The remembered passwords long enough to be scanned for. */
  scannedPasswords(): string[] {
    return [...this.secrets.keys()].filter((password) => password.length >= MIN_SCANNED_LENGTH);
  }

  /** Every form of a password that must not appear, with its name. */
  private forms(entry: Remembered): [string, string][] {
    const { password } = entry;
    const forms: [string, string][] = [['password', password], ['base64(password)', b64(password)]];
    const escaped = JSON.stringify(password).slice(1, -1);
    if (escaped !== password) forms.push(['JSON-escaped password', escaped]);
    const trimmed = password.trim();
    if (trimmed !== password && trimmed.length >= MIN_SCANNED_LENGTH) forms.push(['password (trimmed)', trimmed]);
    for (const username of entry.usernames) forms.push([`base64(${username}:password)`, b64(`${username}:${password}`)]);
    return forms;
  }

  /** Every form of every remembered password (scanned or not) replaced by `***`. */
  redact(text: string): string {
    let result = text;
    const all = [...this.secrets.values()].flatMap((entry) => this.forms(entry).map(([, form]) => form));
    // Longest first, so a password inside a longer form does not break the longer one's redaction.
    for (const form of all.sort((a, b) => b.length - a.length)) {
      if (form.length >= 3) result = result.split(form).join('***');
    }
    return result;
  }

  /** Finds every remembered password in the recorded output. */
  scan(): Leak[] {
    const entries = [...this.secrets.values()].filter((entry) => entry.password.length >= MIN_SCANNED_LENGTH);
    if (entries.length === 0) return [];
    const leaks: Leak[] = [];
    for (const run of this.runs) {
      const output = run.read();
      const streams: ['stdout' | 'stderr', string][] = [
        ['stdout', printsManifests(run.argv) ? scannableManifest(output.stdout) : output.stdout],
        ['stderr', output.stderr],
      ];
      for (const [stream, text] of streams) {
        const lines = text.split('\n');
        lines.forEach((lineText, index) => {
          for (const form of this.findIn(lineText, entries)) {
            leaks.push({
              command: this.redact(run.argv.join(' ')),
              stream,
              form,
              line: index + 1,
              excerpt: this.redact(lineText).slice(0, 300),
            });
          }
        });
      }
    }
    return leaks;
  }

  /** The forms of the passwords in one line of output, including inside base64 runs (two levels deep). */
  private findIn(text: string, entries: Remembered[], depth = 0): string[] {
    const found: string[] = [];
    for (const entry of entries) {
      for (const [name, form] of this.forms(entry)) if (text.includes(form)) found.push(name);
    }
    if (depth < 2) {
      for (const match of text.matchAll(BASE64_RUN)) {
        const decoded = Buffer.from(match[0], 'base64').toString('utf8');
        if (this.findIn(decoded, entries, depth + 1).length > 0) found.push('inside base64 text');
      }
    }
    return [...new Set(found)];
  }

  /** A report of leaks for a failing test: one line each. */
  format(leaks: Leak[]): string {
    return [
      `${leaks.length} password leak(s) in plugin output (passwords redacted as ***):`,
      ...leaks.map((leak) => `  ${leak.form} on ${leak.stream} line ${leak.line} of \`${leak.command}\`: ${leak.excerpt}`),
    ].join('\n');
  }
}
