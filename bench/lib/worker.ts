import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { HopWorkerConfig } from '../workers/hop-worker.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
const WORKER = join(REPO_ROOT, 'bench', 'workers', 'hop-worker.ts');

export interface HopResult {
  processed: number;
  elapsedMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  eventLoopUtilization: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

export interface RunningWorker {
  pid: number | undefined;
  ready: Promise<void>;
  done: Promise<HopResult>;
  kill(): void;
}

/** Starts bench/workers/hop-worker.ts in its own process. */
export function startHopWorker(config: HopWorkerConfig, timeoutMs: number, env: NodeJS.ProcessEnv = {}): RunningWorker {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(config)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let onReady!: () => void;
  let onDone!: (r: HopResult) => void;
  let onError!: (e: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    child.once('exit', (code) => reject(new Error(`hop worker (${config.mode}) exited ${code} before it was ready: ${stderr}`)));
  });
  const done = new Promise<HopResult>((resolve, reject) => {
    onDone = resolve;
    onError = reject;
  });
  ready.catch(() => undefined);
  const timer = setTimeout(() => {
    onError(new Error(`hop worker (${config.mode}) did not finish within ${timeoutMs} ms`));
    child.kill('SIGKILL');
  }, timeoutMs);
  child.once('exit', (code) => {
    clearTimeout(timer);
    onError(new Error(`hop worker (${config.mode}) exited ${code}: ${stderr}`));
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (msg.ready) onReady();
    if (msg.error) onError(new Error(`hop worker (${config.mode}): ${String(msg.error)}`));
    if (msg.done) {
      clearTimeout(timer);
      onDone(msg as unknown as HopResult);
    }
  });
  return { pid: child.pid, ready, done, kill: () => child.kill('SIGTERM') };
}
