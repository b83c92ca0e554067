import { join } from 'node:path';
import net from 'node:net';
import { createRedisClient, type RedisClient } from '@caracal-rotation/bus';
import { ConfigError, databaseUrl, hostPortList, loadConfig, redisUrl } from '@caracal-rotation/config';
import type { HoldersConfig } from '@caracal-rotation/contracts';
import { loadHoldersConfig } from '@caracal-rotation/runtime';
import { resolveRotationDir, resolveSecretsDir } from '@caracal-rotation/secrets';
import { z } from 'zod';

export { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from '@caracal-rotation/config';

/** Documented exit codes (see `caracal-rotate --help`). */
export const EXIT = { ok: 0, failed: 1, usage: 2, timeout: 3, unavailable: 69 } as const;

/** A usage or configuration problem, said in our words, with its exit code (2 by default). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * The variables the CLI reads, each also as NAME_FILE (a file holding the
 * value), as the services read theirs.
 */
export const cliConfigSchema = z.object({
  REDIS_URL: redisUrl().describe('The bus: the Redis of the rotation streams (database index honoured).'),
  REDIS_CLUSTER_NODES: hostPortList().describe('host:port,… of a Redis Cluster to use instead (REDIS_URL then gives credentials only).'),
  DATABASE_URL: databaseUrl().describe('The projection (status, list, watch, rollback windows), created by the recorder if missing.'),
  CARACAL_SECRETS_DIR: z.string().optional().describe("Caracal's secrets directory (plan, init); default $CARACAL_HOME/secrets, else $XDG_DATA_HOME/caracal/secrets, else ~/.local/share/caracal/secrets."),
  CARACAL_ROTATION_DIR: z.string().optional().describe("The orchestrator's own directory (init writes it); default $CARACAL_HOME/rotation."),
  CARACAL_HOME: z.string().optional().describe("Caracal's home: the default parent of both directories."),
  CARACAL_OPERATOR_KEY_FILE: z.string().optional().describe("Your operator key, that signs requests and intents; default `operatorKey` in the orchestrator's directory."),
  CARACAL_CATALOG: z.string().optional().describe('The catalog override file the services read (JSON); default the built-in catalog.'),
  CARACAL_HOLDERS: z.string().optional().describe('The holders file the services read (plan, init --zone-reader).'),
  STREAM_PREFIX: z.string().default('caracal.rotation').describe('Prefix of the rotation streams.'),
});

export interface CliEnvironment {
  redisUrl: string;
  /** Seed nodes (`host:port`) of a Redis Cluster, from REDIS_CLUSTER_NODES; empty for a standalone Redis. */
  redisClusterNodes: string[];
  databaseUrl: string;
  secretsDir: string;
  rotationDir: string;
  operatorKeyFile: string;
  catalogPath: string | undefined;
  holdersPath: string | undefined;
  streamPrefix: string;
  /** The holders file, parsed; undefined without CARACAL_HOLDERS. */
  holders(): Promise<HoldersConfig | undefined>;
}

/** The CLI's configuration; a bad variable is a usage error (exit 2) that names it, never its value. */
export function cliEnvironment(env: NodeJS.ProcessEnv = process.env): CliEnvironment {
  let config: z.infer<typeof cliConfigSchema>;
  try {
    config = loadConfig(cliConfigSchema, env);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message, EXIT.usage);
    throw err;
  }
  const dirs = { ...env, CARACAL_SECRETS_DIR: config.CARACAL_SECRETS_DIR, CARACAL_ROTATION_DIR: config.CARACAL_ROTATION_DIR, CARACAL_HOME: config.CARACAL_HOME };
  const rotationDir = resolveRotationDir(dirs);
  let holders: Promise<HoldersConfig | undefined> | undefined;
  return {
    redisUrl: config.REDIS_URL,
    redisClusterNodes: config.REDIS_CLUSTER_NODES ?? [],
    databaseUrl: config.DATABASE_URL,
    secretsDir: resolveSecretsDir(dirs),
    rotationDir,
    operatorKeyFile: config.CARACAL_OPERATOR_KEY_FILE ?? join(rotationDir, 'operatorKey'),
    catalogPath: config.CARACAL_CATALOG,
    holdersPath: config.CARACAL_HOLDERS,
    streamPrefix: config.STREAM_PREFIX,
    holders() {
      const path = config.CARACAL_HOLDERS;
      holders ??= path
        ? loadHoldersConfig(path).catch((err: Error) => {
            throw new UsageError(`CARACAL_HOLDERS: ${err.message}`, EXIT.usage);
          })
        : Promise.resolve(undefined);
      return holders;
    },
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
  const clusterNode = env.redisClusterNodes[0];
  if (needs.redis && clusterNode && !(await answers(`redis://${clusterNode}`, 6379))) {
    problems.push(`The Redis Cluster node ${clusterNode} does not answer. Start the cluster or correct REDIS_CLUSTER_NODES.`);
  } else if (needs.redis && !clusterNode && !(await answers(env.redisUrl, 6379))) {
    problems.push(`Redis does not answer at ${new URL(env.redisUrl).host} (REDIS_URL). Start it (redis-server --daemonize yes --port 6379) or set REDIS_URL.`);
  }
  if (needs.postgres && !(await answers(env.databaseUrl, 5432))) {
    problems.push(`PostgreSQL does not answer at ${new URL(env.databaseUrl).host} (DATABASE_URL). Start it (pg_ctlcluster 15 main start) or set DATABASE_URL.`);
  }
  if (problems.length) throw new UsageError(problems.join('\n'), EXIT.unavailable);
}

/** The CLI's connection to the Redis of the streams: standalone, or the cluster REDIS_CLUSTER_NODES names. */
export function connectRedis(env: Pick<CliEnvironment, 'redisUrl' | 'redisClusterNodes'>, connectionName: string): RedisClient {
  return createRedisClient({ url: env.redisUrl, clusterNodes: env.redisClusterNodes }, { maxRetriesPerRequest: 2, connectionName });
}
