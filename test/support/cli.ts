import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { z } from 'zod';
import type { E2E } from './e2e-stack.js';

const ROOT = join(import.meta.dirname, '..', '..');
/** The installed executable, as `npx caracal-rotate` runs it. */
const BIN = join(ROOT, 'node_modules', '.bin', 'caracal-rotate');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment an operator would set to reach this stack (DESIGN §8). */
export function cliEnvFor(e2e: E2E, catalogPath: string | undefined): NodeJS.ProcessEnv {
  return {
    REDIS_URL: process.env.REDIS_URL,
    DATABASE_URL: e2e.databaseUrl,
    CARACAL_SECRETS_DIR: e2e.secretsDir,
    STREAM_PREFIX: e2e.prefix,
    CARACAL_NAMESPACE: e2e.namespace,
    ...(catalogPath ? { CARACAL_CATALOG: catalogPath } : {}),
  };
}

/** Runs `caracal-rotate …` as a user would: its own process, from the repository root. */
export function caracalRotate(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<CliRun> {
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

export const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
