import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, type Redis } from '@caracal-rotation/bus';
import { connectOperator, startStack, type Operator, type ServiceName, type ServiceProcess, type Stack, type StackOptions } from '@caracal-rotation/cli';
import { deleteKeys, dropSchema, tempSecretsDir, testSchemaUrl, uniqueName } from '@caracal-rotation/testing';
import pg from 'pg';

export interface ReliabilityStackOptions {
  /** Short name: prefixes streams, namespace, schema and temp directories. */
  name: string;
  /** Redis for services, fleet and test clients; the shared test Redis by default. */
  redisUrl?: string;
  /** Postgres of the projection; a fresh schema on the shared test server by default. */
  databaseUrl?: string;
  replicas?: number;
  sandboxWindowMs?: number;
  /** Extra environment, merged over the suite's defaults. */
  env?: StackOptions['env'];
  logLevel?: string;
}

export interface ReliabilityStack {
  stack: Stack;
  operator: Operator;
  /** A test client on the stack's Redis. */
  redis: Redis;
  /** A small pool on the stack's database (its errors are swallowed: a test may stop the server). */
  pool: pg.Pool;
  secretsDir: string;
  namespace: string;
  prefix: string;
  runDir: string;
  redisUrl: string;
  databaseUrl: string;
  /** The database schema when on the shared server (dropped on stop). */
  schema: string | undefined;
  services: ServiceProcess[];
  instances(name: ServiceName): ServiceProcess[];
  /**
   * Stops everything and removes what the stack created. With `keepLogsIn`,
   * the run directory (service and fleet logs) is copied there first.
   */
  stop(opts?: { keepLogsIn?: string }): Promise<void>;
}

/** Reclaim entries of killed consumers within seconds, but only after the slowest legitimate handler. */
export const RELIABILITY_ENV: NonNullable<StackOptions['env']> = {
  '*': { CLAIM_IDLE_MS: '3000', CONSUMER_BLOCK_MS: '200', RETIREMENT_TICK_MS: '200' },
  // A roll of five sandbox holders takes ~3 s, a verification a few more.
  roller: { CLAIM_IDLE_MS: '8000' },
  verifier: { CLAIM_IDLE_MS: '8000' },
  // Scheduled rotations would add requests the scenarios did not make.
  recorder: { POLICY_TICK_MS: '0' },
};

function mergeEnv(extra: StackOptions['env'] = {}): NonNullable<StackOptions['env']> {
  const out: NonNullable<StackOptions['env']> = {};
  for (const key of new Set([...Object.keys(RELIABILITY_ENV), ...Object.keys(extra)]) as Set<ServiceName | '*'>) {
    out[key] = { ...RELIABILITY_ENV[key], ...extra[key] };
  }
  return out;
}

/**
 * The whole system for one reliability scenario: its own secrets directory,
 * stream prefix, Caracal namespace and database (schema), the sandbox fleet
 * and every service as real processes, two replicas each by default.
 */
export async function startReliabilityStack(opts: ReliabilityStackOptions): Promise<ReliabilityStack> {
  const prefix = `${uniqueName(`rel-${opts.name}`)}.caracal.rotation`;
  const namespace = `${uniqueName(`rel-${opts.name}`)}:`;
  const secretsDir = await tempSecretsDir();
  const runDir = await mkdtemp(join(tmpdir(), `caracal-rel-${opts.name}-`));
  let schema: string | undefined;
  let databaseUrl = opts.databaseUrl;
  if (!databaseUrl) {
    const created = await testSchemaUrl(`rel_${opts.name.replace(/-/g, '_')}`);
    databaseUrl = created.url;
    schema = created.schema;
  }
  const redisUrl = opts.redisUrl ?? process.env.REDIS_URL!;
  const cleanupFiles = async () => {
    await rm(secretsDir, { recursive: true, force: true });
    await rm(runDir, { recursive: true, force: true });
    if (schema) await dropSchema(schema);
  };

  let stack: Stack;
  try {
    stack = await startStack({
      redisUrl,
      databaseUrl,
      secretsDir,
      runDir,
      streamPrefix: prefix,
      sandbox: { namespace, basePort: 'ephemeral' },
      sandboxWindowMs: opts.sandboxWindowMs ?? 500,
      replicas: opts.replicas ?? 2,
      logLevel: opts.logLevel ?? 'info',
      env: mergeEnv(opts.env),
    });
  } catch (err) {
    await cleanupFiles().catch(() => undefined);
    throw err;
  }
  const operator = await connectOperator({ redisUrl, databaseUrl, secretsDir, catalogPath: stack.catalogPath, streamPrefix: prefix });
  operator.redis.on('error', () => undefined);
  const redis = createRedis(redisUrl, { connectionName: 'reliability-test' });
  redis.on('error', () => undefined);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 3, connectionTimeoutMillis: 5000 });
  pool.on('error', () => undefined);

  return {
    stack,
    operator,
    redis,
    pool,
    secretsDir,
    namespace,
    prefix,
    runDir,
    redisUrl,
    databaseUrl,
    schema,
    services: stack.services,
    instances: (name) => stack.instances(name),
    async stop(stopOpts = {}) {
      await operator.close().catch(() => undefined);
      await stack.stop();
      await pool.end().catch(() => undefined);
      if (stopOpts.keepLogsIn) {
        await mkdir(stopOpts.keepLogsIn, { recursive: true });
        await cp(join(runDir, 'logs'), stopOpts.keepLogsIn, { recursive: true }).catch(() => undefined);
      }
      if (redis.status === 'ready') {
        for (const p of [prefix, `{${prefix}}`, `seen:${prefix}`, namespace]) await deleteKeys(redis, p).catch(() => undefined);
      }
      redis.disconnect();
      await cleanupFiles();
    },
  };
}
