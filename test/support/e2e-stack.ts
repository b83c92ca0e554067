import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedisClient, type RedisClient } from '@caracal-rotation/bus';
import { cliEnvironment, connectOperator, followRotation, type Operator } from '@caracal-rotation/caracal-rotate';
import { sandboxCatalog, type Material, type RequestedData } from '@caracal-rotation/contracts';
import type { LaunchedSandbox } from '@caracal-rotation/sandbox';
import { startStack, type Stack, type StackOptions } from '@caracal-rotation/stack';
import { deleteKeys, dropSchema, testSchemaUrl, uniqueName } from '@caracal-rotation/testing';
import pg from 'pg';

/** Options of the end-to-end stack beyond those of startStack. */
export interface E2EOptions {
  /**
   * Safety windows (ms) of single materials, overriding the sandbox catalog's
   * short ones: a rotation stays in its rollback window (and holds its class
   * lock) for as long as a test needs.
   */
  windows?: Partial<Record<Material, number>>;
}

export interface E2E {
  stack: Stack;
  sandbox: LaunchedSandbox;
  /** Signs with the stack's operator key (registered in its operators.json with every right). */
  operator: Operator;
  /** The orchestrator's bus. */
  redis: RedisClient;
  /** Caracal's Redis (the sandbox's, with its password). */
  caracalRedis: RedisClient;
  pool: pg.Pool;
  runDir: string;
  databaseUrl: string;
  prefix: string;
  /** The environment caracal-rotate needs to reach this stack. */
  cliEnv: NodeJS.ProcessEnv;
  /** Requests a rotation and waits until it ends; returns its id and how it ended (lifecycle state). */
  rotate(data: Omit<RequestedData, 'reason'> & Partial<RequestedData>, timeoutMs?: number): Promise<{ id: string; outcome: string | undefined }>;
  stop(): Promise<void>;
}

/**
 * A whole system for one test file: a sandbox replica of Caracal (its own
 * Redis and Postgres), the five services as real processes on the tests'
 * Redis (a stream prefix of the file's own) and Postgres (a schema of the
 * file's own), and an operator to drive them.
 */
export async function startE2E(name: string, { windows, ...options }: Partial<StackOptions> & E2EOptions = {}): Promise<E2E> {
  const prefix = `${uniqueName(`e2e-${name}`)}.caracal.rotation`;
  const runDir = await mkdtemp(join(tmpdir(), `caracal-e2e-${name}-`));
  const windowMs = options.sandboxWindowMs ?? 500;
  if (windows && !options.catalogPath) {
    const catalog = sandboxCatalog(windowMs);
    for (const entry of catalog.materials) entry.safety_window_ms = windows[entry.material] ?? entry.safety_window_ms;
    options.catalogPath = join(runDir, 'catalog.e2e.json');
    await writeFile(options.catalogPath, JSON.stringify(catalog, null, 2));
  }
  const { url: databaseUrl, schema } = await testSchemaUrl(`e2e_${name}`);
  const redisUrl = options.redisUrl ?? process.env.REDIS_URL!;
  const redisClusterNodes = options.redisClusterNodes ?? [];
  const stack = await startStack({
    redisUrl,
    databaseUrl,
    runDir,
    streamPrefix: prefix,
    sandbox: { zones: 3 },
    sandboxWindowMs: windowMs,
    operator: 'e2e@test',
    logLevel: 'info',
    ...options,
    env: {
      '*': { CLAIM_IDLE_MS: '20000', CONSUMER_BLOCK_MS: '200', RETIREMENT_TICK_MS: '200' },
      // The tests read the rotation streams back as evidence: the recorder must not trim
      // them under a test (services/recorder/src/trim-streams.test.ts covers trimming).
      recorder: { TRIM_TICK_MS: '0' },
      ...options.env,
    },
  });
  const cliEnv: NodeJS.ProcessEnv = { ...stack.operatorEnv, CARACAL_SECRETS_DIR: stack.secretsDir, ...(redisClusterNodes.length ? { REDIS_CLUSTER_NODES: redisClusterNodes.join(',') } : {}) };
  const operator = await connectOperator(cliEnvironment(cliEnv));
  const redis = createRedisClient({ url: redisUrl, clusterNodes: redisClusterNodes });
  const caracalRedis = createRedisClient({ url: (await readFile(stack.sandbox!.redis_url_file, 'utf8')).trim() });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 3 });

  return {
    stack,
    sandbox: stack.sandbox!,
    operator,
    redis,
    caracalRedis,
    pool,
    runDir,
    databaseUrl,
    prefix,
    cliEnv,
    async rotate(data, timeoutMs = 120_000) {
      const id = await operator.request({ reason: 'end-to-end test', ...data } as RequestedData);
      const result = await followRotation(redis, operator.streams, id, () => undefined, { timeoutMs });
      return { id, outcome: result.terminal.get(id) };
    },
    async stop() {
      await operator.close();
      // Before the sandbox stops its Redis, or the client logs every refused reconnection.
      caracalRedis.disconnect();
      await stack.stop();
      await pool.end();
      // The streams, the planner's state and plans, and the consumers' de-duplication marks.
      for (const keys of [prefix, `{${prefix}}`, `seen:${prefix}`]) await deleteKeys(redis, keys);
      redis.disconnect();
      await dropSchema(schema);
      await rm(runDir, { recursive: true, force: true });
    },
  };
}
