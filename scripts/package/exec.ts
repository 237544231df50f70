// Runs the external tools of the packaging step (npm, tar, strip, osslsigncode, postject, the
// base Node binary) and fails with their output when they fail, so a broken step says why.
import { spawn } from 'node:child_process';

export interface ExecResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface ExecOptions {
  cwd?: string;
  /** The whole environment of the tool (default: ours). */
  env?: NodeJS.ProcessEnv;
  /** Written to the tool's stdin (else stdin is empty). */
  input?: Buffer;
  timeoutMs?: number;
}

/** Runs a tool to its end and collects its exit code and output, whatever the code. */
export function spawnCollect(command: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 10 * 60_000);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => undefined); // a tool that exits early; its exit status says why
    child.stdin.end(options.input ?? Buffer.alloc(0));
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(`${command}: ${error.code === 'ENOENT' ? 'not found on PATH' : error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString('utf8') });
    });
  });
}

/** Runs a tool and fails with its output unless it exits 0. */
export async function exec(command: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const result = await spawnCollect(command, args, options);
  if (result.code !== 0) {
    // Some tools (postject) report errors on stdout.
    const output = `${result.stdout.length < 65536 ? result.stdout.toString('utf8') : ''}\n${result.stderr}`.trim().slice(-4000);
    throw new Error(`${command} ${args.join(' ')}: failed (exit ${result.code})\n${output}`);
  }
  return result;
}
