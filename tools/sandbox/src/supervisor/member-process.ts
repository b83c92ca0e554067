import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { MemberName } from '../members.js';
import { waitForBoot, type BootInfo } from './health-probe.js';

const STOP_GRACE_MS = 3000;
const START_TIMEOUT_MS = 30_000;
const TAIL_LINES = 30;

export interface MemberProcessOptions {
  name: MemberName;
  url: string;
  memberBin: string;
  /** Where the member program runs from. */
  cwd: string;
  logDir?: string;
}

/**
 * One member's child process across restarts: spawn, wait for /health, stop
 * with SIGTERM then SIGKILL. Output goes to `<logDir>/<name>.log` when a log
 * directory is given; otherwise the last lines are kept to explain a failed start.
 */
export class MemberProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private tail: string[] = [];
  private log: WriteStream | undefined;
  boot: BootInfo | null = null;

  constructor(private readonly opts: MemberProcessOptions) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(env: NodeJS.ProcessEnv, notBootId?: string): Promise<BootInfo> {
    if (this.running && this.boot) return this.boot;
    const child = spawn(process.execPath, [this.opts.memberBin, this.opts.name], {
      cwd: this.opts.cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.tail = [];
    this.captureOutput(child);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const failedEarly = new Promise<never>((_, reject) => {
      child.once('exit', (code, signal) =>
        reject(new Error(`sandbox ${this.opts.name} exited during start (code ${code}, signal ${signal}):\n${this.tail.join('\n')}`)),
      );
      child.once('error', reject);
    });
    failedEarly.catch(() => undefined);
    try {
      this.boot = await waitForBoot(this.opts.url, { notBootId, timeoutMs: START_TIMEOUT_MS, abort: failedEarly });
    } catch (err) {
      await this.stop();
      throw err;
    }
    return this.boot;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && this.running) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
    this.boot = null;
  }

  /** Closes the log file; call once the member will not be started again. */
  async dispose(): Promise<void> {
    await this.stop();
    const log = this.log;
    this.log = undefined;
    if (log) await new Promise<void>((resolve) => log.end(() => resolve()));
  }

  private captureOutput(child: ChildProcess): void {
    if (this.opts.logDir) {
      if (!this.log) {
        this.log = createWriteStream(path.join(this.opts.logDir, `${this.opts.name}.log`), { flags: 'a' });
        // A log file that cannot be written must not take the supervisor down.
        this.log.on('error', () => undefined);
      }
      child.stdout?.pipe(this.log, { end: false });
      child.stderr?.pipe(this.log, { end: false });
    }
    const keep = (chunk: Buffer) => {
      this.tail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (this.tail.length > TAIL_LINES) this.tail.splice(0, this.tail.length - TAIL_LINES);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }
}
