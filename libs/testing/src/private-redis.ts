import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '@caracal-rotation/launcher';

export interface PrivateRedis {
  port: number;
  url: string;
  dir: string;
  logFile: string;
  readonly running: boolean;
  /** Starts redis-server (again) with the same port and directory; the AOF is reloaded. */
  start(): Promise<void>;
  /** SHUTDOWN (the AOF is fsynced), then waits for the process to exit. */
  shutdown(): Promise<void>;
  /** Shuts the server down and removes its directory. */
  destroy(): Promise<void>;
}

async function pings(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * A redis-server of our own on a free port, with `appendonly yes` and
 * `appendfsync always` in a temp directory, so a test can restart it (or stop
 * it) without touching the shared Redis. Only the process this helper spawned
 * is ever signalled. With a password, `requirepass` as Caracal's Redis runs.
 */
export async function startPrivateRedis(label = 'redis', opts: { password?: string } = {}): Promise<PrivateRedis> {
  const dir = await mkdtemp(join(tmpdir(), `caracal-${label}-`));
  const logFile = join(dir, 'redis.log');
  const port = await freePort();
  const url = opts.password ? `redis://:${opts.password}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const isRunning = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const start = async () => {
    if (isRunning()) return;
    const log = await open(logFile, 'a');
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, '--save', '', '--maxmemory-policy', 'noeviction', ...(opts.password ? ['--requirepass', opts.password] : [])],
      { cwd: dir, stdio: ['ignore', log.fd, log.fd] },
    );
    await log.close();
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const deadline = Date.now() + 20_000;
    while (!(await pings(url))) {
      if (!isRunning()) throw new Error(`private redis exited during start; see ${logFile}`);
      if (Date.now() > deadline) throw new Error(`private redis did not answer within 20 s; see ${logFile}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // Loading the AOF: wait until the server serves commands, not just PING.
    const client = new Redis(url, { maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    try {
      for (;;) {
        const info = await client.info('persistence');
        if (/loading:0/.test(info)) break;
        if (Date.now() > deadline) throw new Error('private redis is still loading its AOF after 20 s');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      client.disconnect();
    }
  };

  const shutdown = async () => {
    if (!isRunning()) return;
    const proc = child!;
    const client = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    // The server closes the connection instead of answering SHUTDOWN. A test that rotated
    // the password cannot send it: SIGTERM shuts redis down the same way.
    await client.call('SHUTDOWN').catch(() => undefined);
    client.disconnect();
    const term = setTimeout(() => proc.kill('SIGTERM'), 1_000);
    const kill = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(term);
    clearTimeout(kill);
  };

  await start();
  return {
    port,
    url,
    dir,
    logFile,
    get running() {
      return isRunning();
    },
    start,
    shutdown,
    async destroy() {
      await shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
