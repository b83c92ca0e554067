import { cp, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, type Redis } from '@caracal-rotation/bus';
import { cliEnvironment, connectOperator, type Operator } from '@caracal-rotation/caracal-rotate';
import type { RotationStreams } from '@caracal-rotation/contracts';
import type { ServiceName, ServiceProcess } from '@caracal-rotation/launcher';
import type { LaunchedSandbox } from '@caracal-rotation/sandbox';
import { startStack, type Stack, type StackOptions } from '@caracal-rotation/stack';
import { deleteKeys, dropSchema, testSchemaUrl, uniqueName } from '@caracal-rotation/testing';
import pg from 'pg';
import { ReplicaContainers, ReplicaPostgres } from './caracal-replica.js';

export interface ReliabilityStackOptions {
  /** Short name: prefixes streams, schema and temp directories. */
  name: string;
  /** The orchestrator's bus; the shared test Redis by default. Caracal's Redis is always the replica's own. */
  redisUrl?: string;
  /** Postgres of the projection; a fresh schema on the shared test server by default. */
  databaseUrl?: string;
  replicas?: number;
  /** Zones the replica seeds. */
  zones?: number;
  sandboxWindowMs?: number;
  /** Extra environment, merged over the suite's defaults. */
  env?: StackOptions['env'];
  logLevel?: string;
}

export interface ReliabilityStack {
  stack: Stack;
  /** The replica of Caracal: its services, secrets, zones, Redis and Postgres. */
  sandbox: LaunchedSandbox;
  /** The replica's services as containers on its Docker Engine API socket. */
  containers: ReplicaContainers;
  /** The replica's own PostgreSQL server. */
  caracalPostgres: ReplicaPostgres;
  /** Signs with the stack's operator key (registered with every right). */
  operator: Operator;
  streams: RotationStreams;
  /** A test client on the bus. */
  redis: Redis;
  /** A test client on Caracal's Redis (the replica's, with its password as the file says at start). */
  caracalRedis: Redis;
  /** A small pool on the projection's database (its errors are swallowed: a test may stop the server). */
  pool: pg.Pool;
  /** Caracal's secrets directory (the replica's). */
  secretsDir: string;
  /** The orchestrator's own directory (bus key, operators, operator key). */
  rotationDir: string;
  prefix: string;
  runDir: string;
  redisUrl: string;
  databaseUrl: string;
  /** The projection's schema when on the shared server (dropped on stop). */
  schema: string | undefined;
  services: ServiceProcess[];
  instances(name: ServiceName): ServiceProcess[];
  /**
   * Stops everything and removes what the stack created. With `keepLogsIn`,
   * the service logs are copied there first.
   */
  stop(opts?: { keepLogsIn?: string }): Promise<void>;
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
  // A roll of the replica's holders takes seconds (each restart waits for /ready).
  roller: { CLAIM_IDLE_MS: '10000' },
  // Stacks share two cores here: give each check room before it counts as failed.
  verifier: { CLAIM_IDLE_MS: '10000', CHECK_TIMEOUT_MS: '30000' },
  // Scheduled rotations would add requests the scenarios did not make; the scenarios read the
  // rotation streams back as evidence, so the recorder does not trim them under a scenario.
  recorder: { POLICY_TICK_MS: '0', TRIM_TICK_MS: '0' },
};

function mergeEnv(extra: StackOptions['env'] = {}): NonNullable<StackOptions['env']> {
  const out: NonNullable<StackOptions['env']> = {};
  for (const key of new Set([...Object.keys(RELIABILITY_ENV), ...Object.keys(extra)]) as Set<ServiceName | '*'>) {
    out[key] = { ...RELIABILITY_ENV[key], ...extra[key] };
  }
  return out;
}

/** The operator every reliability request is signed by (registered in the stack's operators.json). */
export const RELIABILITY_OPERATOR = 'reliability@test';

/**
 * The whole system for one reliability scenario, on `startStack`: a sandbox
 * replica of Caracal (its own Redis, Postgres and services behind a Docker
 * socket), the five services as real processes (two replicas each by
 * default) on their own stream prefix and projection schema, and an
 * operator to drive them.
 */
export async function startReliabilityStack(opts: ReliabilityStackOptions): Promise<ReliabilityStack> {
  const prefix = `${uniqueName(`rel-${opts.name}`)}.caracal.rotation`;
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
    await rm(runDir, { recursive: true, force: true });
    if (schema) await dropSchema(schema);
  };

  let stack: Stack;
  try {
    // One stack starts at a time across this run's test files: starting twenty processes is the heaviest moment.
    stack = await withStartLock(() =>
      startStack({
        redisUrl,
        databaseUrl,
        runDir,
        streamPrefix: prefix,
        sandbox: { zones: opts.zones ?? 3 },
        sandboxWindowMs: opts.sandboxWindowMs ?? 500,
        operator: RELIABILITY_OPERATOR,
        replicas: opts.replicas ?? 2,
        logLevel: opts.logLevel ?? 'info',
        env: mergeEnv(opts.env),
      }),
    );
  } catch (err) {
    await cleanupFiles().catch(() => undefined);
    throw err;
  }
  const sandbox = stack.sandbox!;
  let caracalPostgres: ReplicaPostgres;
  try {
    caracalPostgres = await ReplicaPostgres.find(sandbox, join(runDir, 'logs', 'caracal-postgres-restarted.log'));
  } catch (err) {
    await stack.stop().catch(() => undefined);
    await cleanupFiles().catch(() => undefined);
    throw err;
  }
  const operator = await connectOperator(cliEnvironment({ ...stack.operatorEnv, CARACAL_SECRETS_DIR: stack.secretsDir }));
  operator.redis.on('error', () => undefined);
  const redis = createRedis(redisUrl, { connectionName: 'reliability-test' });
  redis.on('error', () => undefined);
  const caracalRedis = createRedis((await readFile(sandbox.redis_url_file, 'utf8')).trim(), { connectionName: 'reliability-test' });
  caracalRedis.on('error', () => undefined);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 3, connectionTimeoutMillis: 5000 });
  pool.on('error', () => undefined);

  return {
    stack,
    sandbox,
    containers: new ReplicaContainers(sandbox.docker_socket),
    caracalPostgres,
    operator,
    streams: operator.streams,
    redis,
    caracalRedis,
    pool,
    secretsDir: stack.secretsDir,
    rotationDir: stack.rotationDir,
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
      // A Postgres this file restarted is its own to stop; the sandbox stops the rest.
      await step(() => caracalPostgres.release());
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
        for (const p of [prefix, `{${prefix}}`, `seen:${prefix}`]) await step(() => deleteKeys(redis, p));
      }
      redis.disconnect();
      caracalRedis.disconnect();
      await step(cleanupFiles);
      if (errors.length > 0) throw errors[0];
    },
  };
}
