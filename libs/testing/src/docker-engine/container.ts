import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { ZERO_TIME, formatRfc3339Nano, nowNs } from './timestamps.js';

/** What a test asks the double to run as one "container". */
export interface ContainerSpec {
  /** Container name, without Docker's leading slash. */
  name: string;
  /** The process: executable and arguments, run without a shell. */
  argv: readonly string[];
  /** The container's environment; PATH is inherited unless given. */
  env?: Record<string, string>;
  labels?: Record<string, string>;
  /** Config.Image; only reported, nothing is pulled. */
  image?: string;
  cwd?: string;
  /** Seconds a stop waits after SIGTERM before SIGKILL when the request gives no `t` (Docker's default is 10). */
  stopTimeoutS?: number;
  /** Docker's restart policies, applied when the process exits by itself. */
  restartPolicy?: 'no' | 'always' | 'unless-stopped' | 'on-failure';
}

export type ContainerStatus = 'created' | 'running' | 'restarting' | 'exited';

/** Bytes of combined stdout and stderr kept per container, for debugging a failed test. */
const OUTPUT_TAIL_BYTES = 64 * 1024;
/** Docker's restart manager waits 100 ms before the first policy restart and doubles each time. */
const FIRST_POLICY_BACKOFF_MS = 100;
const MAX_POLICY_BACKOFF_MS = 60_000;

/** Refusals Docker answers with a status code other than 500. */
export class EngineError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One supervised child process with Docker's container state machine:
 * created → running → exited, restarts that reset RestartCount, stops that
 * escalate from SIGTERM to SIGKILL, and restart policies for processes that
 * exit by themselves. Operations on one container run one at a time, as the
 * daemon's container lock makes them.
 */
export class SupervisedContainer {
  readonly id = randomBytes(32).toString('hex');
  readonly createdNs = nowNs();
  status: ContainerStatus = 'created';
  pid = 0;
  exitCode = 0;
  error = '';
  startedAt = ZERO_TIME;
  finishedAt = ZERO_TIME;
  restartCount = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private manuallyStopped = false;
  private policyTimer: NodeJS.Timeout | undefined;
  private policyBackoffMs = FIRST_POLICY_BACKOFF_MS;
  private lock: Promise<unknown> = Promise.resolve();
  private tail = '';
  private removed = false;

  constructor(readonly spec: ContainerSpec) {
    if (!/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(spec.name)) throw new Error(`invalid container name "${spec.name}": Docker allows [a-zA-Z0-9][a-zA-Z0-9_.-]`);
    if (spec.argv.length === 0 || !spec.argv[0]) throw new Error(`container ${spec.name}: argv needs an executable`);
  }

  get name(): string {
    return this.spec.name.replace(/^\//, '');
  }

  get running(): boolean {
    return this.status === 'running';
  }

  /** The last 64 KiB the process wrote to stdout and stderr, across restarts. */
  output(): string {
    return this.tail;
  }

  start(): Promise<'started' | 'already'> {
    return this.locked(async () => {
      if (this.status === 'running' || this.status === 'restarting') return 'already';
      this.manuallyStopped = false;
      this.restartCount = 0;
      this.policyBackoffMs = FIRST_POLICY_BACKOFF_MS;
      await this.spawnProcess();
      return 'started';
    });
  }

  stop(timeoutS?: number, signal?: NodeJS.Signals): Promise<'stopped' | 'already'> {
    return this.locked(async () => {
      this.manuallyStopped = true;
      this.cancelPolicyRestart();
      if (this.status !== 'running') return 'already';
      await this.terminate(timeoutS ?? this.spec.stopTimeoutS ?? 10, signal ?? 'SIGTERM');
      return 'stopped';
    });
  }

  /** Docker's restart: stop if running (SIGTERM, SIGKILL after `t`), then start; a manual restart resets RestartCount. */
  restart(timeoutS?: number, signal?: NodeJS.Signals): Promise<void> {
    return this.locked(async () => {
      this.cancelPolicyRestart();
      if (this.status === 'running') {
        this.manuallyStopped = true;
        await this.terminate(timeoutS ?? this.spec.stopTimeoutS ?? 10, signal ?? 'SIGTERM');
      }
      this.manuallyStopped = false;
      this.restartCount = 0;
      this.policyBackoffMs = FIRST_POLICY_BACKOFF_MS;
      await this.spawnProcess();
    });
  }

  /** Sends a signal; unlike stop, the restart policy still applies when the process dies of it. */
  kill(signal: NodeJS.Signals): Promise<void> {
    return this.locked(async () => {
      if (this.status !== 'running' || !this.child) throw new EngineError(409, `Cannot kill container: ${this.name}: Container ${this.id} is not running`);
      this.child.kill(signal);
    });
  }

  /** SIGKILL now, synchronously: for a test process that is exiting. */
  killNow(): void {
    this.manuallyStopped = true;
    this.child?.kill('SIGKILL');
  }

  /** Kills the process at once and forgets the container (the engine is closing). */
  async remove(): Promise<void> {
    this.removed = true;
    this.cancelPolicyRestart();
    this.manuallyStopped = true;
    if (this.child && this.status === 'running') {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  private locked<T>(op: () => Promise<T>): Promise<T> {
    const next = this.lock.then(op, op);
    this.lock = next.catch(() => undefined);
    return next;
  }

  private cancelPolicyRestart(): void {
    if (this.policyTimer) clearTimeout(this.policyTimer);
    this.policyTimer = undefined;
    if (this.status === 'restarting') this.status = 'exited';
  }

  private async terminate(timeoutS: number, signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    // t < 0 waits for the process however long it takes, as Docker's -1 does.
    const escalate = timeoutS >= 0 ? setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000) : undefined;
    await this.exited;
    if (escalate) clearTimeout(escalate);
  }

  private spawnProcess(): Promise<void> {
    const [file, ...args] = this.spec.argv;
    const child = spawn(file!, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...this.spec.env },
      cwd: this.spec.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.tail = (this.tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    return new Promise<void>((resolve, reject) => {
      child.once('error', (err: NodeJS.ErrnoException) => {
        // Docker's answer to an executable it cannot run: 127 not found, 126 not executable.
        this.exitCode = err.code === 'EACCES' ? 126 : 127;
        this.error = `exec: "${file}": ${err.code === 'EACCES' ? 'permission denied' : 'executable file not found in $PATH'}`;
        this.status = this.startedAt === ZERO_TIME ? 'created' : 'exited';
        this.finishedAt = formatRfc3339Nano(nowNs());
        reject(new EngineError(400, `failed to create task for container: OCI runtime create failed: unable to start container process: ${this.error}: unknown`));
      });
      child.once('spawn', () => {
        this.child = child;
        this.pid = child.pid ?? 0;
        this.status = 'running';
        this.error = '';
        this.exitCode = 0;
        this.startedAt = formatRfc3339Nano(nowNs());
        this.finishedAt = ZERO_TIME;
        this.exited = new Promise<void>((done) => child.once('exit', (code, sig) => (this.onExit(child, code, sig), done())));
        resolve();
      });
    });
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.pid = 0;
    // A process killed by a signal exits, to Docker, with 128 + the signal number (137 for SIGKILL).
    this.exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
    this.finishedAt = formatRfc3339Nano(nowNs());
    this.status = 'exited';
    if (this.removed || this.manuallyStopped) return;
    const policy = this.spec.restartPolicy ?? 'no';
    if (policy === 'no' || (policy === 'on-failure' && this.exitCode === 0)) return;
    this.status = 'restarting';
    this.policyTimer = setTimeout(() => {
      this.policyTimer = undefined;
      void this.locked(async () => {
        if (this.status !== 'restarting') return;
        this.restartCount += 1;
        this.policyBackoffMs = Math.min(this.policyBackoffMs * 2, MAX_POLICY_BACKOFF_MS);
        await this.spawnProcess().catch(() => undefined);
      });
    }, this.policyBackoffMs);
  }
}
