import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, type Redis } from '@caracal-rotation/bus';
import { connectOperator, type Operator } from '@caracal-rotation/caracal-rotate';
import type { ServiceName, ServiceProcess } from '@caracal-rotation/launcher';
import { startStack, type Stack, type StackOptions } from '@caracal-rotation/stack';
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
  /** Zones and sealed secrets to create in the fresh sandbox (see StackOptions.seed). */
  seed?: StackOptions['seed'];
  /** Password targets (a sandbox Postgres, a Redis ACL user), see StackOptions.stores. */
  stores?: StackOptions['stores'];
  /**
   * The fleet's KEK holders (API, STS) keep sealed secrets in Postgres and are
   * unready without it. 'projection' (default) shares the projection's
   * database; 'own-schema' gives them a schema on the shared test server, so a
   * scenario can stop the projection's server without taking the fleet down.
   */
  fleetDatabase?: 'projection' | 'own-schema';
  logLevel?: string;
  /**
   * How long the roller waits for a restarted holder to come ready (the
   * sandbox holders file says 15 s). Two stacks on two cores can exceed that
   * when many processes start at once, which would fail a rotation for want
   * of CPU; 45 s by default here.
   */
  holderReadyTimeoutMs?: number;
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

/**
 * Rewrites the holders file with a longer readiness timeout and restarts the
 * rollers, the only readers of that timeout (they read the file at start).
 */
async function raiseHolderReadyTimeout(stack: Stack, timeoutMs: number): Promise<void> {
  if (!stack.holdersPath) return;
  const holders = JSON.parse(await readFile(stack.holdersPath, 'utf8')) as { holders: Record<string, { ready_timeout_ms?: number }> };
  for (const h of Object.values(holders.holders)) h.ready_timeout_ms = Math.max(h.ready_timeout_ms ?? 0, timeoutMs);
  await writeFile(stack.holdersPath, JSON.stringify(holders, null, 2));
  const readers = stack.services.filter((s) => s.name === 'roller');
  await Promise.all(readers.map(async (s) => {
    await s.stop();
    await s.start(60_000);
  }));
}

const START_LOCK = join(tmpdir(), 'caracal-reliability-stack-start.lock');

/** A lock across processes (mkdir is atomic); a lock older than five minutes is taken as abandoned. */
async function withStartLock<T>(fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await mkdir(START_LOCK);
      break;
    } catch {
      const age = await stat(START_LOCK).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > 5 * 60_000) await rm(START_LOCK, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(START_LOCK, { recursive: true, force: true });
  }
}

/** Reclaim entries of killed consumers within seconds, but only after the slowest legitimate handler. */
export const RELIABILITY_ENV: NonNullable<StackOptions['env']> = {
  '*': { CLAIM_IDLE_MS: '3000', CONSUMER_BLOCK_MS: '200', RETIREMENT_TICK_MS: '200' },
  // A roll of five sandbox holders takes ~3 s, a verification a few more.
  roller: { CLAIM_IDLE_MS: '8000' },
  // Two stacks share two cores here: give each check room before it counts as failed.
  verifier: { CLAIM_IDLE_MS: '8000', CHECK_TIMEOUT_MS: '30000' },
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
  let fleetSchema: string | undefined;
  let fleetDatabaseUrl: string | undefined;
  if (opts.fleetDatabase === 'own-schema') {
    const created = await testSchemaUrl(`rel_fleet_${opts.name.replace(/-/g, '_')}`);
    fleetDatabaseUrl = created.url;
    fleetSchema = created.schema;
  }
  const redisUrl = opts.redisUrl ?? process.env.REDIS_URL!;
  const cleanupFiles = async () => {
    await rm(secretsDir, { recursive: true, force: true });
    await rm(runDir, { recursive: true, force: true });
    if (schema) await dropSchema(schema);
    if (fleetSchema) await dropSchema(fleetSchema);
  };

  let stack: Stack;
  try {
    // One stack starts at a time across this run's test files: starting twenty processes is the heaviest moment.
    stack = await withStartLock(() => startStack({
      redisUrl,
      databaseUrl,
      secretsDir,
      runDir,
      streamPrefix: prefix,
      sandbox: { namespace, basePort: 'ephemeral', ...(fleetDatabaseUrl ? { databaseUrl: fleetDatabaseUrl } : {}) },
      ...(opts.seed ? { seed: opts.seed } : {}),
      ...(opts.stores ? { stores: opts.stores } : {}),
      sandboxWindowMs: opts.sandboxWindowMs ?? 500,
      replicas: opts.replicas ?? 2,
      logLevel: opts.logLevel ?? 'info',
      env: mergeEnv(opts.env),
    }));
  } catch (err) {
    await cleanupFiles().catch(() => undefined);
    throw err;
  }
  try {
    await raiseHolderReadyTimeout(stack, opts.holderReadyTimeoutMs ?? 45_000);
  } catch (err) {
    await stack.stop().catch(() => undefined);
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
      // Every step runs even when an earlier one failed: private files and keys must not outlive the test.
      const errors: unknown[] = [];
      const step = async (fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (err) {
          errors.push(err);
        }
      };
      await step(() => operator.close());
      await step(() => stack.stop());
      await step(() => pool.end());
      if (stopOpts.keepLogsIn) {
        const into = stopOpts.keepLogsIn;
        await step(async () => {
          await mkdir(into, { recursive: true });
          await cp(join(runDir, 'logs'), into, { recursive: true });
        });
      }
      if (redis.status === 'ready') {
        for (const p of [prefix, `{${prefix}}`, `seen:${prefix}`, namespace]) await step(() => deleteKeys(redis, p));
      }
      redis.disconnect();
      await step(cleanupFiles);
      if (errors.length > 0) throw errors[0];
    },
  };
}
