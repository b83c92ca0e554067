import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedisClient, type RedisClient } from '@caracal-rotation/bus';
import { connectOperator, followRotation, type Operator } from '@caracal-rotation/caracal-rotate';
import { startStack, type Stack, type StackOptions } from '@caracal-rotation/stack';
import type { RequestedData } from '@caracal-rotation/contracts';
import { dropSchema, deleteKeys, tempSecretsDir, testSchemaUrl, uniqueName } from '@caracal-rotation/testing';
import pg from 'pg';

export interface E2E {
  stack: Stack;
  operator: Operator;
  redis: RedisClient;
  pool: pg.Pool;
  secretsDir: string;
  /** The projection's database (a URL whose connections use this file's schema). */
  databaseUrl: string;
  namespace: string;
  prefix: string;
  /** Requests a rotation and waits for its terminal event; returns the rotation id and that event. */
  rotate(data: Omit<RequestedData, 'reason' | 'actor'> & Partial<RequestedData>, timeoutMs?: number): Promise<{ id: string; outcome: string | undefined }>;
  stop(): Promise<void>;
}

/**
 * A whole system for one test file: its own secrets directory, stream prefix,
 * Caracal namespace and database schema, the sandbox fleet and the five
 * services as real processes on the real Redis and Postgres.
 */
export async function startE2E(name: string, options: Partial<StackOptions> = {}): Promise<E2E> {
  const prefix = `${uniqueName(`e2e-${name}`)}.caracal.rotation`;
  const namespace = `${uniqueName(`e2e-${name}`)}:`;
  const secretsDir = await tempSecretsDir();
  const runDir = await mkdtemp(join(tmpdir(), `caracal-e2e-${name}-`));
  const { url: databaseUrl, schema } = await testSchemaUrl(`e2e_${name}`);
  // A Redis Cluster when the options name one (REDIS_CLUSTER_NODES of every process), else the tests' Redis.
  const redisUrl = options.redisUrl ?? process.env.REDIS_URL!;
  const redisClusterNodes = options.redisClusterNodes ?? [];
  const stack = await startStack({
    redisUrl,
    databaseUrl,
    secretsDir,
    runDir,
    streamPrefix: prefix,
    sandbox: { namespace, basePort: 'ephemeral' },
    sandboxWindowMs: 500,
    logLevel: 'info',
    ...options,
    env: { '*': { CLAIM_IDLE_MS: '20000', CONSUMER_BLOCK_MS: '200', RETIREMENT_TICK_MS: '200' }, ...options.env },
  });
  const env = { redisUrl, redisClusterNodes: [...redisClusterNodes], databaseUrl, secretsDir, catalogPath: stack.catalogPath, streamPrefix: prefix };
  const operator = await connectOperator(env);
  const redis = createRedisClient({ url: redisUrl, clusterNodes: redisClusterNodes });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 3 });

  return {
    stack,
    operator,
    redis,
    pool,
    secretsDir,
    databaseUrl,
    namespace,
    prefix,
    async rotate(data, timeoutMs = 90_000) {
      const id = await operator.request({ reason: 'end-to-end test', actor: 'e2e@test', ...data } as RequestedData);
      const result = await followRotation(redis, operator.streams, id, () => undefined, { timeoutMs });
      return { id, outcome: result.terminal.get(id) };
    },
    async stop() {
      await operator.close();
      await stack.stop();
      await pool.end();
      await deleteKeys(redis, prefix);
      await deleteKeys(redis, `{${prefix}}`);
      await deleteKeys(redis, namespace);
      redis.disconnect();
      await dropSchema(schema);
      await rm(secretsDir, { recursive: true, force: true });
      await rm(runDir, { recursive: true, force: true });
    },
  };
}
