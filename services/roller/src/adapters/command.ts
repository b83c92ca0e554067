import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';

/**
 * Runs one argv without a shell, bounded in time and output, for the exec
 * restart adapter: its restart command and its proof command.
 */
export interface CommandResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Set when the program could not be started at all (ENOENT, EACCES). */
  spawnError?: string;
}

/** Output kept per stream; a proof is a line or two, a restart's stderr a few lines. */
const MAX_OUTPUT_CHARS = 64 * 1024;

export function runCommand(argv: readonly string[], timeoutMs: number): Promise<CommandResult> {
  const [file, ...args] = argv;
  return new Promise((resolve) => {
    const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout = (stdout + chunk.toString('utf8')).slice(0, MAX_OUTPUT_CHARS)));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-MAX_OUTPUT_CHARS)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, Math.max(1, timeoutMs));
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ exitCode: null, signal: null, stdout, stderr, timedOut: false, spawnError: err.code ?? err.message });
    });
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({ exitCode, signal, stdout, stderr, timedOut });
    });
  });
}

/**
 * Command output made fit for an error message or a proof: trimmed, cut to
 * `max` characters, and any long hex run (Caracal's secrets are lowercase hex)
 * replaced by a fingerprint, so that a command that echoes a key never puts
 * it in an event or a log.
 */
export function presentable(text: string, max = 300): string {
  const redacted = text.trim().replace(/[0-9a-fA-F]{32,}/g, (hex) => `[hex sha256:${createHash('sha256').update(hex).digest('hex').slice(0, 12)}]`);
  return redacted.length > max ? `${redacted.slice(0, max)}…` : redacted;
}

/** What went wrong with a finished command, or undefined when it exited 0. */
export function commandFailure(result: CommandResult, timeoutMs: number): string | undefined {
  if (result.spawnError) return `cannot be run (${result.spawnError})`;
  if (result.timedOut) return `timed out after ${timeoutMs} ms and was killed`;
  if (result.exitCode === 0) return undefined;
  const how = result.signal ? `was killed by ${result.signal}` : `exited with ${result.exitCode}`;
  const stderr = presentable(result.stderr);
  return stderr ? `${how}: ${stderr}` : how;
}
