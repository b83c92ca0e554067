import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseReadyLine, type SandboxReady } from './ready.js';

/** The compiled sandbox programs live in this package's dist/ (`npm run build`). */
export function sandboxProgram(name: 'caracal-sandbox' | 'service' | 'reseal'): string {
  const root = path.dirname(createRequire(import.meta.url).resolve('@caracal-rotation/sandbox/package.json'));
  const file = path.join(root, 'dist', `${name}.js`);
  if (!existsSync(file)) throw new Error(`${file} does not exist: build the sandbox first (npx nx run @caracal-rotation/sandbox:build)`);
  return file;
}

export interface LaunchSandboxOptions {
  /** CARACAL_HOME of the replica. */
  home: string;
  /** Default `<home>/secrets`. */
  secretsDir?: string;
  /** Where the holders file, the Docker socket and the Redis files go. */
  runDir: string;
  /** Zones to seed through POST /v1/zones; default 3. */
  zones?: number;
  /** How long to wait for the ready line; default 180 s plus 100 ms a zone (seeding is a few requests per zone). */
  readyTimeoutMs?: number;
  /** Receives the program's progress and the services' log lines (stderr). */
  onLog?: (line: string) => void;
}

export interface LaunchedSandbox extends SandboxReady {
  /** The pid of the `caracal-sandbox up` process. */
  pid: number;
  /** SIGTERM, then waits until everything it started has stopped (SIGKILL after 60 s). Idempotent. */
  stop(): Promise<void>;
}

/** Starts `caracal-sandbox up --json` and resolves with its ready line once everything is up. */
export async function launchSandbox(opts: LaunchSandboxOptions): Promise<LaunchedSandbox> {
  const args = [sandboxProgram('caracal-sandbox'), 'up', '--home', opts.home, '--run-dir', opts.runDir, '--zones', String(opts.zones ?? 3), '--json'];
  if (opts.secretsDir) args.push('--secrets-dir', opts.secretsDir);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderrTail = '';
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderrTail = `${stderrTail}${line}\n`.slice(-8192);
    opts.onLog?.(line);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // A test run that ends without stop() must not leave a fleet behind: the sandbox cleans up on SIGTERM.
  const onExit = () => child.kill('SIGTERM');
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      process.off('exit', onExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    })());

  const ready = await new Promise<SandboxReady>((resolve, reject) => {
    const readyTimeoutMs = opts.readyTimeoutMs ?? 180_000 + (opts.zones ?? 3) * 100;
    const timer = setTimeout(() => reject(new Error(`caracal-sandbox was not ready within ${readyTimeoutMs} ms:\n${stderrTail}`)), readyTimeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = parseReadyLine(line);
      if (parsed) {
        clearTimeout(timer);
        resolve(parsed);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`caracal-sandbox exited (${code}) before it was ready:\n${stderrTail}`));
    });
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  return { ...ready, pid: child.pid!, stop };
}
