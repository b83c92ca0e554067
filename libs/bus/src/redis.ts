import { readFileSync } from 'node:fs';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/** A connection to a standalone Redis or to a Redis Cluster: what every component that is handed a connection takes. */
export type RedisClient = Redis | Cluster;

export interface RedisClientConfig {
  /** The standalone Redis; with `clusterNodes`, only its credentials and TLS are used. */
  url: string;
  /**
   * Seed nodes of a Redis Cluster (`REDIS_CLUSTER_NODES`): `host:port` items,
   * as a list or one comma-separated string. Empty or absent: standalone.
   */
  clusterNodes?: string | readonly string[];
}

const backoff = (attempt: number): number => Math.min(50 * 2 ** attempt, 2000);

/**
 * A standalone connection. RESP2 replies keep ioredis 6's stream replies in
 * their classic array shapes. Components that must also run on a Redis
 * Cluster get their connection from `createRedisClient`, which calls this one
 * when no cluster is configured.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    protocol: 2,
    maxRetriesPerRequest: null,
    // Commands issued in the same tick share one write: the consumer's
    // verify-handle-publish-ack path issues many small ones (see bench/).
    enableAutoPipelining: true,
    retryStrategy: backoff,
    ...options,
  });
}

/** `host:port` items of REDIS_CLUSTER_NODES; throws on an item that is not one. */
export function parseClusterNodes(value: string | readonly string[] | undefined): { host: string; port: number }[] {
  const items = (typeof value === 'string' ? value.split(',') : [...(value ?? [])]).map((s) => s.trim()).filter((s) => s !== '');
  return items.map((item) => {
    const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(item);
    const port = match ? Number(match[2]) : NaN;
    if (!match || port < 1 || port > 65_535) throw new Error(`REDIS_CLUSTER_NODES: "${item}" is not host:port`);
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });
}

/**
 * The one place that decides between a standalone connection and a cluster
 * client: a `Cluster` when cluster nodes are configured, else `createRedis`.
 * The cluster client speaks RESP2 to every node, sends every command (reads
 * too) to the slot's master, and takes the credentials and TLS of `url`.
 * `options` are the same as for `createRedis`; the ones a cluster keeps at
 * its top level (retry strategy, offline queue, lazy connect, auto-pipelining)
 * are moved there.
 */
export function createRedisClient(config: RedisClientConfig, options: RedisOptions = {}): RedisClient {
  const nodes = parseClusterNodes(config.clusterNodes);
  if (nodes.length === 0) return createRedis(config.url, options);
  const url = new URL(config.url);
  if (url.pathname.length > 1 && url.pathname !== '/0') throw new Error('a Redis Cluster has database 0 only; REDIS_URL must not select another one');
  const { retryStrategy, enableOfflineQueue, lazyConnect, enableAutoPipelining, ...nodeOptions } = options;
  const clusterOptions: ClusterOptions = {
    scaleReads: 'master',
    enableAutoPipelining: enableAutoPipelining ?? false,
    clusterRetryStrategy: retryStrategy === undefined ? backoff : retryStrategy,
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    redisOptions: {
      protocol: 2,
      maxRetriesPerRequest: null,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
      ...nodeOptions,
    },
  };
  return new Cluster(nodes, clusterOptions);
}

export const isCluster = (redis: RedisClient): redis is Cluster => redis.isCluster === true;

/** A connection of its own for blocking reads, so a BLOCK never stalls other commands. */
export function duplicateForBlocking(redis: Redis): Redis;
export function duplicateForBlocking(redis: RedisClient): RedisClient;
export function duplicateForBlocking(redis: RedisClient): RedisClient {
  if (isCluster(redis)) return redis.duplicate([], { redisOptions: { connectionName: 'blocking-reader' } });
  return redis.duplicate({ connectionName: 'blocking-reader' });
}

/**
 * The master nodes of a cluster client, once it knows the slot map; commands
 * that act on one node's keyspace (SCAN) run on each of them.
 */
export async function clusterMasters(cluster: Cluster): Promise<Redis[]> {
  // A command waits in the offline queue until the client is ready, i.e. has the slot map.
  if (cluster.status !== 'ready') await cluster.ping();
  return cluster.nodes('master');
}

/**
 * The nodes whose keyspaces together hold every key: the connection itself
 * when standalone, every master of a cluster.
 */
export async function keyspaceNodes(redis: RedisClient): Promise<Redis[]> {
  return isCluster(redis) ? clusterMasters(redis) : [redis];
}

/** Every key matching `pattern` (SCAN on every node of the keyspace); `type` restricts the key type. */
export async function scanKeys(redis: RedisClient, pattern: string, opts: { count?: number; type?: string } = {}): Promise<string[]> {
  const found = new Set<string>();
  for (const node of await keyspaceNodes(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = opts.type
        ? await node.scan(cursor, 'MATCH', pattern, 'COUNT', opts.count ?? 500, 'TYPE', opts.type)
        : await node.scan(cursor, 'MATCH', pattern, 'COUNT', opts.count ?? 500);
      for (const key of keys) found.add(key);
      cursor = next;
    } while (cursor !== '0');
  }
  return [...found];
}

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the hash of Redis Cluster's key slots.
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

/** The cluster slot of a key (0..16383), honouring a `{hash tag}` as Redis does. */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key);
  const open = bytes.indexOf(0x7b); // {
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ b) & 0xff]!;
  return crc % 16384;
}

/**
 * Splits keys into the groups one multi-key command may name together: one
 * group of everything on a standalone Redis, one group per slot on a cluster
 * (each in first-seen order).
 */
export function groupKeysForCommand(redis: RedisClient, keys: readonly string[]): string[][] {
  if (!isCluster(redis)) return [[...keys]];
  const bySlot = new Map<number, string[]>();
  for (const key of keys) {
    const slot = keySlot(key);
    const group = bySlot.get(slot);
    if (group) group.push(key);
    else bySlot.set(slot, [key]);
  }
  return [...bySlot.values()];
}

export type { Redis, Cluster };

/**
 * Keeps a standalone connection's credentials in step with a URL file (a
 * rotated Redis password): the file is re-read before every reconnect, so a
 * connection that drops after the old password was retired comes back with
 * the new one. Connections opened earlier stay authenticated meanwhile.
 */
export function followCredentialFile(redis: RedisClient, file: string, onError?: (err: Error) => void): void {
  if (isCluster(redis)) return;
  redis.on('reconnecting', () => {
    try {
      const url = new URL(readFileSync(file, 'utf8').trim());
      redis.options.username = url.username ? decodeURIComponent(url.username) : undefined;
      redis.options.password = url.password ? decodeURIComponent(url.password) : undefined;
    } catch (err) {
      onError?.(new Error(`cannot re-read the Redis URL file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`));
    }
  });
}
