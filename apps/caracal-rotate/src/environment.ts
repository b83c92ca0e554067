import net from 'node:net';
import { createRedisClient, type RedisClient } from '@caracal-rotation/bus';
import { resolveSecretsDir } from '@caracal-rotation/secrets';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/caracal_rotation';

/** Documented exit codes (see `caracal-rotate --help`). */
export const EXIT = { ok: 0, failed: 1, usage: 2, timeout: 3, unavailable: 69 } as const;

export interface CliEnvironment {
  redisUrl: string;
  /** Seed nodes (`host:port`) of a Redis Cluster, from REDIS_CLUSTER_NODES; empty or absent for a standalone Redis. */
  redisClusterNodes?: string[];
  databaseUrl: string;
  secretsDir: string;
  catalogPath: string | undefined;
  streamPrefix: string | undefined;
  /** Namespace of Caracal's own stream names (empty in production), as the planner's CARACAL_NAMESPACE. */
  caracalNamespace?: string;
  /** How secretsDir was chosen, so an error can say where the CLI looked. */
  secretsDirSource?: string;
}

function secretsDirSource(env: NodeJS.ProcessEnv): string {
  if (env.CARACAL_SECRETS_DIR) return 'CARACAL_SECRETS_DIR';
  if (env.CARACAL_HOME) return '$CARACAL_HOME/secrets';
  return env.XDG_DATA_HOME ? '$XDG_DATA_HOME/caracal/secrets (neither CARACAL_SECRETS_DIR nor CARACAL_HOME is set)' : 'the default (neither CARACAL_SECRETS_DIR nor CARACAL_HOME is set)';
}

/** The variables of DESIGN §8, with the machine-local defaults. */
export function cliEnvironment(env: NodeJS.ProcessEnv = process.env): CliEnvironment {
  return {
    redisUrl: env.REDIS_URL || DEFAULT_REDIS_URL,
    redisClusterNodes: (env.REDIS_CLUSTER_NODES ?? '')
      .split(',')
      .map((node) => node.trim())
      .filter((node) => node !== ''),
    databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL,
    secretsDir: resolveSecretsDir(env),
    catalogPath: env.CARACAL_CATALOG || undefined,
    streamPrefix: env.STREAM_PREFIX || undefined,
    caracalNamespace: env.CARACAL_NAMESPACE || '',
    secretsDirSource: secretsDirSource(env),
  };
}

function answers(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || '127.0.0.1', port: Number(port || defaultPort) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Fails with a message that says what to start when Redis or Postgres does not answer. */
export async function requireServers(env: CliEnvironment, needs: { redis?: boolean; postgres?: boolean } = { redis: true, postgres: true }): Promise<void> {
  const problems: string[] = [];
  const clusterNode = env.redisClusterNodes?.[0];
  if (needs.redis && clusterNode && !(await answers(`redis://${clusterNode}`, 6379))) {
    problems.push(`The Redis Cluster node ${clusterNode} does not answer. Start the cluster or correct REDIS_CLUSTER_NODES.`);
  } else if (needs.redis && !clusterNode && !(await answers(env.redisUrl, 6379))) {
    problems.push(`Redis does not answer at ${new URL(env.redisUrl).host}. Start it (redis-server --daemonize yes --port 6379) or set REDIS_URL.`);
  }
  if (needs.postgres && !(await answers(env.databaseUrl, 5432))) {
    problems.push(`PostgreSQL does not answer at ${new URL(env.databaseUrl).host}. Start it (pg_ctlcluster 15 main start) or set DATABASE_URL.`);
  }
  if (problems.length) throw new UsageError(problems.join('\n'), EXIT.unavailable);
}

/** The CLI's connection to the Redis of the streams: standalone, or the cluster REDIS_CLUSTER_NODES names. */
export function connectRedis(env: Pick<CliEnvironment, 'redisUrl' | 'redisClusterNodes'>, connectionName: string): RedisClient {
  return createRedisClient({ url: env.redisUrl, clusterNodes: env.redisClusterNodes }, { maxRetriesPerRequest: 2, connectionName });
}

/** An error meant for the operator: printed without a stack, with its exit code. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
