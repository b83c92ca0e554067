import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { freePort } from '@caracal-rotation/launcher';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

/** A throwaway Redis Cluster of local `redis-server` processes. */
export interface LocalRedisCluster {
  /** `host:port` of every master: the value of REDIS_CLUSTER_NODES. */
  nodes: string[];
  /** A URL of the first node; with `nodes`, what a service's REDIS_URL is. */
  url: string;
  /** The directory of the nodes' cluster config files and logs. */
  dir: string;
  stop(): Promise<void>;
}


async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`redis cluster: ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function withNode<T>(port: number, use: (node: Redis) => Promise<T>): Promise<T> {
  const node = new Redis({ host: '127.0.0.1', port, protocol: 2, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  node.on('error', () => undefined);
  try {
    await node.connect();
    return await use(node);
  } finally {
    node.disconnect();
  }
}

function waitExit(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Starts `masters` redis-server processes in cluster mode on free local ports
 * (config files in a temp directory, no persistence), joins them with
 * `redis-cli --cluster create … --cluster-replicas 0`, and waits until every
 * node reports `cluster_state:ok`. `stop()` ends exactly these processes.
 */
export async function startRedisCluster(options: { masters?: number; timeoutMs?: number } = {}): Promise<LocalRedisCluster> {
  const masters = options.masters ?? 3;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const dir = await mkdtemp(join(tmpdir(), 'caracal-redis-cluster-'));
  const children: ChildProcess[] = [];
  const ports: number[] = [];

  const stop = async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((child) => waitExit(child, 5000)));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      let busPort = await freePort();
      while (busPort === port || ports.includes(busPort)) busPort = await freePort();
      ports.push(port);
      const child = spawn(
        'redis-server',
        [
          '--port', String(port),
          '--bind', '127.0.0.1',
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(dir, `nodes-${port}.conf`),
          '--cluster-port', String(busPort),
          '--cluster-node-timeout', '5000',
          '--save', '',
          '--appendonly', 'no',
          '--dir', dir,
          '--logfile', join(dir, `redis-${port}.log`),
          '--daemonize', 'no',
        ],
        { stdio: 'ignore' },
      );
      child.once('error', () => undefined);
      children.push(child);
    }
    for (const port of ports) {
      await until(`node ${port} did not answer PING`, () => withNode(port, async (n) => (await n.ping()) === 'PONG'), timeoutMs).catch(async (err: Error) => {
        const log = await readFile(join(dir, `redis-${port}.log`), 'utf8').catch(() => '');
        throw new Error(`${err.message}\n${log.slice(-2000)}`);
      });
    }
    const nodes = ports.map((port) => `127.0.0.1:${port}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeout: timeoutMs });
    for (const port of ports) {
      await until(
        `node ${port} did not report cluster_state:ok`,
        () =>
          withNode(port, async (n) => {
            const info = String(await n.cluster('INFO'));
            const slots = (await n.cluster('SLOTS')) as [number, number, ...unknown[]][];
            const covered = slots.reduce((sum, [from, to]) => sum + (to - from + 1), 0);
            return info.includes('cluster_state:ok') && covered === 16384 && slots.length >= masters;
          }),
        timeoutMs,
      );
    }
    return { nodes, url: `redis://${nodes[0]}`, dir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
