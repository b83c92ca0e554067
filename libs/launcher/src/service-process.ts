import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export const SERVICE_NAMES = ['planner', 'secret-writer', 'roller', 'verifier', 'recorder'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** A service's compiled entry point under the project (or image) root. */
export const serviceEntry = (root: string, name: ServiceName): string => join(root, 'services', name, 'dist', 'main.js');

/**
 * One running service process. Its HTTP port is chosen here so the launcher
 * can wait for /health and a test can read /metrics.
 */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  private exitPromise: Promise<number | null> | undefined;
  port = 0;

  constructor(
    readonly name: ServiceName,
    readonly instance: string,
    /** The compiled program to run (see serviceEntry). */
    private readonly entry: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logDir: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    if (this.running) return;
    if (!existsSync(this.entry)) throw new Error(`${this.entry} does not exist: build the services first (npm run build)`);
    this.port = this.port || (await freePort());
    const log = createWriteStream(join(this.logDir, `${this.instance}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [this.entry], {
      env: { ...process.env, ...this.env, HTTP_PORT: String(this.port), INSTANCE_ID: this.instance },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    this.child = child;
    this.exitPromise = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await this.waitHealthy(timeoutMs);
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) {
        const code = await this.exitPromise;
        throw new Error(`${this.instance} exited with ${code} during start; see ${join(this.logDir, `${this.instance}.log`)}`);
      }
      try {
        const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.instance} did not answer /health within ${timeoutMs} ms; see ${join(this.logDir, `${this.instance}.log`)}`);
  }

  /** SIGTERM and wait (graceful: in-flight work finishes); SIGKILL after the grace period. */
  async stop(graceMs = 15_000): Promise<number | null> {
    if (!this.running) return this.child?.exitCode ?? null;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    const code = await this.exitPromise!;
    clearTimeout(timer);
    return code;
  }

  /** Kills without warning, as a crash would. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exitPromise;
  }
}
