import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { z } from 'zod';

const ROOT = join(import.meta.dirname, '..', '..');
/** The installed executable, as `npx caracal-rotate` runs it. */
const BIN = join(ROOT, 'node_modules', '.bin', 'caracal-rotate');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `caracal-rotate …` as a user would: its own process, from the
 * repository root, with only the environment given (plus PATH and HOME).
 */
export function caracalRotate(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** stdout as the one JSON document --json promises, checked against the command's schema. */
export function parseJsonOutput<S extends z.ZodType>(schema: S, run: CliRun): z.infer<S> {
  let doc: unknown;
  try {
    doc = JSON.parse(run.stdout);
  } catch (err) {
    throw new Error(`stdout is not one JSON document (${(err as Error).message}):\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
  return schema.parse(doc);
}

/** stderr as the one JSON error line --json promises. */
export function parseJsonError<S extends z.ZodType>(schema: S, run: CliRun): z.infer<S> {
  const lines = run.stderr.trim().split('\n');
  if (lines.length !== 1) throw new Error(`stderr is not one line:\n${run.stderr}`);
  return schema.parse(JSON.parse(lines[0]!));
}

/** A run's exit code and output, for assertion messages. */
export const described = (r: CliRun): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

export const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
