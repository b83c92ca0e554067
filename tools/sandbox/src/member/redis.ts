import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { errorMessage, type Log } from './log.js';

/** A member's connection: to a standalone Redis, or to a Redis Cluster (REDIS_CLUSTER_NODES). */
export type MemberRedis = Redis | Cluster;

export const isClusterConnection = (redis: MemberRedis): redis is Cluster => redis.isCluster === true;

/** `host:port` items of REDIS_CLUSTER_NODES (comma-separated); empty for a standalone Redis. */
export function parseClusterNodes(value: string | undefined): { host: string; port: number }[] {
  const items = (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  return items.map((item) => {
    const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(item);
    if (!match) throw new Error(`REDIS_CLUSTER_NODES: "${item}" is not host:port`);
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]) };
  });
}

/**
 * Redis connections of a member. Commands fail fast instead of queueing
 * forever, so a Redis outage shows up as an unready member and a denied
 * exchange (fail closed), not as a hung request. With cluster nodes the
 * connection is a cluster client (every command on the slot's master; the
 * URL gives only the credentials).
 */
export function connectRedis(url: string, role: string, log: Log, options: { blocking?: boolean; clusterNodes?: string } = {}): MemberRedis {
  const common: RedisOptions = {
    protocol: 2,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // A blocking read legitimately outlives any command timeout.
    ...(options.blocking ? {} : { commandTimeout: 2000 }),
  };
  const retry = (attempt: number) => Math.min(attempt * 100, 1000);
  const nodes = parseClusterNodes(options.clusterNodes);
  let redis: MemberRedis;
  if (nodes.length > 0) {
    const { username, password } = new URL(url);
    redis = new Cluster(nodes, {
      scaleReads: 'master',
      lazyConnect: true,
      clusterRetryStrategy: retry,
      redisOptions: {
        ...common,
        ...(username ? { username: decodeURIComponent(username) } : {}),
        ...(password ? { password: decodeURIComponent(password) } : {}),
      },
    });
  } else {
    redis = new Redis(url, { ...common, lazyConnect: true, retryStrategy: retry });
  }
  let lastLogged = 0;
  redis.on('error', (err: unknown) => {
    // Reconnect attempts repeat the same error; one line every few seconds is enough.
    if (Date.now() - lastLogged < 5000) return;
    lastLogged = Date.now();
    log('warn', 'redis connection error', { connection: role, error: errorMessage(err) });
  });
  return redis;
}

/** Closes a connection without waiting on a server that may be gone. */
export async function closeRedis(redis: MemberRedis): Promise<void> {
  if (redis.status === 'wait' || redis.status === 'end') {
    redis.disconnect();
    return;
  }
  const timer = setTimeout(() => redis.disconnect(), 300);
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a MULTI and throws if any command in it failed: ioredis reports
 * per-command errors in the result instead of rejecting, and a silently
 * failed XACK or DLQ write would break at-least-once handling.
 */
export async function execAll(multi: ReturnType<Redis['multi']>): Promise<[error: Error | null, result: unknown][]> {
  const results = await multi.exec();
  if (results === null) throw new Error('transaction aborted');
  for (const [err] of results) if (err) throw err;
  return results;
}

/** A command as ioredis names it (lower case, so a MULTI batch finds its method), with its arguments. */
export type RedisCommand = [name: Lowercase<string>, ...args: (string | number)[]];

/**
 * Writes that belong together, the last one usually the XACK that may only
 * follow the others: one MULTI on a standalone Redis (all or nothing). A
 * transaction cannot span two cluster slots, so on a cluster they run one
 * after the other in the given order, each only after the previous succeeded:
 * a failure leaves the entry unacknowledged, hence pending and retried.
 * Returns each command's reply.
 */
export async function execInOrder(redis: MemberRedis, commands: readonly RedisCommand[]): Promise<unknown[]> {
  if (!isClusterConnection(redis)) return (await execAll(redis.multi(commands.map((c) => [...c])))).map(([, result]) => result);
  const results: unknown[] = [];
  for (const [name, ...args] of commands) results.push(await redis.call(name, ...args));
  return results;
}
