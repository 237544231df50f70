// The controller's log lines. `text` keeps what `sync --watch` has always printed (a timestamp
// and a sentence, for people reading `kubectl logs`); `json` gives log pipelines one object per
// line with the same sentence and the details as separate fields, so they need no parsing.
import { UsageError } from '../errors';

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogLevel = 'info' | 'error';
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface LoggerOptions {
  format?: LogFormat;
  /** Where each finished line goes (without its newline); stdout by default, as today. */
  write?: (line: string) => void;
  now?: () => Date;
}

/** Checks a --log-format value. */
export function parseLogFormat(value: string): LogFormat {
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new UsageError(`invalid --log-format "${value}": use text or json`);
}

/** RFC 3339 in UTC to the second, as the controller has printed so far. */
export const rfc3339 = (date: Date) => date.toISOString().replace(/\.\d+Z$/, 'Z');

/** One log line in the given format; pure, for tests. */
export function formatLogLine(format: LogFormat, time: Date, level: LogLevel, msg: string, fields: LogFields = {}): string {
  // A line is one record: a message that spans lines would split it in `kubectl logs` and in
  // any pipeline that reads lines.
  const message = msg.replace(/\s*\n\s*/g, ' ');
  if (format === 'json') {
    // Our own keys first and not overridable, so a field named "msg" cannot forge the message.
    const record: Record<string, unknown> = { ts: time.toISOString(), level, msg: message };
    for (const [key, value] of Object.entries(fields)) if (value !== undefined && !(key in record)) record[key] = value;
    return JSON.stringify(record);
  }
  const details = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' && /[\s"=]/.test(value) ? JSON.stringify(value) : String(value)}`);
  // Errors said "error: ..." in the text log before there were levels; kept, people grep for it.
  const text = level === 'error' && !message.startsWith('error') ? `error: ${message}` : message;
  return [rfc3339(time), text, ...details].join(' ');
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? 'text';
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel) => (msg: string, fields?: LogFields) => write(formatLogLine(format, now(), level, msg, fields));
  return { info: emit('info'), error: emit('error') };
}
