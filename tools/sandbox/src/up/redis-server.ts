import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';

/**
 * A private redis-server as Caracal's image runs it (infra/redis/redis.conf
 * plus what infra/redis/entrypoint.sh appends: `requirepass` from
 * redisPassword, `maxmemory`), bound to 127.0.0.1 on the sandbox's port and
 * without persistence (the sandbox's data lives as long as the sandbox).
 */
export interface PrivateRedis {
  port: number;
  stop(): Promise<void>;
}

const STREAM_GROUPS: readonly [string, string][] = [
  ['caracal.audit.events', 'audit-ingestor'],
  ['caracal.audit.events', 'siem-export'],
  ['caracal.audit.events.dlq', 'audit-dlq-observer'],
  ['caracal.policy.invalidate', 'opa-engine'],
  ['caracal.sessions.revoke', 'sts-revocation'],
  ['caracal.keys.invalidate', 'sts-keys'],
  ['caracal.agents.lifecycle', 'coordinator-relay'],
  ['caracal.invocations.lifecycle', 'invocations-observer'],
  ['caracal.delegations.invalidate', 'delegations-observer'],
];

export async function startPrivateRedis(opts: { dir: string; port: number; password: string; bin?: string }): Promise<PrivateRedis> {
  await fs.mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const conf = path.join(opts.dir, 'redis.conf');
  // The file holds the password: 0600, as the entrypoint's umask 0077 makes it.
  await fs.writeFile(
    conf,
    [
      'bind 127.0.0.1',
      `port ${opts.port}`,
      'protected-mode yes',
      'appendonly no',
      'save ""',
      'maxmemory-policy noeviction',
      'tcp-keepalive 60',
      'timeout 0',
      `dir ${opts.dir}`,
      `requirepass ${opts.password}`,
      'maxmemory 512mb',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const child: ChildProcess = spawn(opts.bin ?? 'redis-server', [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (c: Buffer) => (tail = (tail + c.toString('utf8')).slice(-8192));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  child.once('error', (err) => keep(Buffer.from(`spawn failed: ${err.message}\n`)));
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exit;
    clearTimeout(timer);
  };
  const url = `redis://:${encodeURIComponent(opts.password)}@127.0.0.1:${opts.port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) throw new Error(`redis-server exited: ${tail.slice(-2000)}`);
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') {
        await provisionStreams(probe);
        probe.disconnect();
        return { port: opts.port, stop };
      }
    } catch {
      // not up yet
    }
    probe.disconnect();
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not become ready: ${tail.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** infra/redis/provision-streams.sh: every stream and consumer group, idempotently. */
async function provisionStreams(redis: Redis): Promise<void> {
  for (const [stream, group] of STREAM_GROUPS) {
    try {
      await redis.xgroup('CREATE', stream, group, '$', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw new Error(`XGROUP CREATE ${stream} ${group} failed: ${(err as Error).message}`);
    }
  }
  await redis.xadd('caracal.providers.ratelimit', 'MAXLEN', '~', '1', '*', 'init', '1');
}
