import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring, PlanStore, Publisher, StaticKeyringSource, createRedis, type Redis } from '@caracal-rotation/bus';
import { loadConfig } from '@caracal-rotation/config';
import { rotationStreams, type Catalog, type RotationStreams } from '@caracal-rotation/contracts';
import { getRotation, migrate, type RotationRecord } from '@caracal-rotation/projection';
import type { FixtureEvent, RotationFixture } from '@caracal-rotation/projection/testing';
import { createServiceRuntime, loadCatalog, type ServiceRuntime } from '@caracal-rotation/runtime';
import { dropSchema, testSchemaUrl, uniqueName } from '@caracal-rotation/testing';
import type pg from 'pg';
import { recorderConfigSchema, type RecorderConfig } from '../src/config.js';
import { createPool } from '../src/database.js';
import { projectionReadiness } from '../src/readiness.js';
import { startRecorder, type Recorder } from '../src/recorder.js';

/** The operator whose key signs the test's requests and intents. */
export const OPERATOR = 'alice@ops';

const hexKey = () => randomBytes(32).toString('hex');
const publisherFor = (redis: Redis, key: string, producer: string) => new Publisher(redis, new StaticKeyringSource(Keyring.fromHex(key)), producer);

/**
 * What a recorder test file shares: its own stream prefix on the real Redis,
 * its own schema on the real Postgres, the orchestrator's directory (bus key,
 * operators.json with one operator), Caracal's secrets directory (its
 * streams key), and publishers signing as the stages, the operator and
 * Caracal would.
 */
export interface TestEnvironment {
  prefix: string;
  streams: RotationStreams;
  rotationDir: string;
  secretsDir: string;
  databaseUrl: string;
  redis: Redis;
  /** Signs with the bus key: the planner, secret-writer, roller and verifier. */
  bus: Publisher;
  /** Signs with the operator's key. */
  operator: Publisher;
  /** Signs with Caracal's STREAMS_HMAC_KEY: the verifier's `completed`. */
  caracal: Publisher;
  plans: PlanStore;
  /** Caracal's Redis: the bus's unless the environment was made with a Caracal Redis of its own (another database index). */
  caracalRedisUrl: string;
  /** Stores the fixture's plan as the planner would, then publishes the events, each signed by whoever emits it. */
  publish(fixture: RotationFixture, events: readonly FixtureEvent[]): Promise<string[]>;
  /** Entries of a stream, with `data` parsed. */
  entries(stream: string): Promise<{ id: string; eventId: string; rotationId: string; producer: string; data: unknown }[]>;
  cleanup(): Promise<void>;
}

export async function createTestEnvironment(name: string, options: { ownCaracalRedis?: boolean } = {}): Promise<TestEnvironment> {
  const prefix = uniqueName(name);
  const streams = rotationStreams(prefix);
  const rotationDir = await mkdtemp(join(tmpdir(), 'recorder-rotation-'));
  const secretsDir = await mkdtemp(join(tmpdir(), 'recorder-secrets-'));
  await chmod(rotationDir, 0o700);
  await chmod(secretsDir, 0o700);
  const [busKey, operatorKey, streamsKey] = [hexKey(), hexKey(), hexKey()];
  await writeFile(join(rotationDir, 'busKey'), busKey, { mode: 0o400 });
  await mkdir(join(rotationDir, 'operators'), { mode: 0o700 });
  await writeFile(join(rotationDir, 'operators', 'alice.key'), operatorKey, { mode: 0o400 });
  const registry = { version: 1, operators: [{ name: OPERATOR, key_file: 'operators/alice.key', materials: ['*'], emergency: true, rollback: true, abandon: true }] };
  await writeFile(join(rotationDir, 'operators.json'), JSON.stringify(registry), { mode: 0o400 });
  await writeFile(join(secretsDir, 'streamsHmacKey'), streamsKey, { mode: 0o444 });
  const { url, schema } = await testSchemaUrl(name.replace(/[^a-z0-9]/g, '_'));
  const busUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = createRedis(busUrl);
  const caracalRedisUrl = options.ownCaracalRedis ? Object.assign(new URL(busUrl), { pathname: '/1' }).toString() : busUrl;
  const caracalRedis = options.ownCaracalRedis ? createRedis(caracalRedisUrl) : redis;
  const bus = publisherFor(redis, busKey, 'test/stages');
  const operator = publisherFor(redis, operatorKey, 'caracal-rotate/test');
  const caracal = publisherFor(caracalRedis, streamsKey, 'verifier/test');
  const plans = new PlanStore(redis, prefix);

  const signerOf = (e: FixtureEvent): Publisher => (e.name === 'requested' || e.name === 'intent' ? operator : e.name === 'completed' ? caracal : bus);
  return {
    prefix,
    streams,
    rotationDir,
    secretsDir,
    databaseUrl: url,
    redis,
    bus,
    operator,
    caracal,
    plans,
    caracalRedisUrl,
    async publish(fixture, events) {
      const ref = await plans.put(fixture.planRef.id, fixture.plan);
      if (ref.hash !== fixture.planRef.hash) throw new Error('the fixture and PlanStore disagree on the plan hash');
      const ids: string[] = [];
      for (const e of events) {
        ids.push(await signerOf(e).publish({ stream: streams[e.name], name: e.name, eventId: e.eventId, rotationId: e.rotationId, data: e.data }));
      }
      return ids;
    },
    async entries(stream) {
      const raw = (await redis.xrange(stream, '-', '+')) as [string, string[]][];
      return raw.map(([id, flat]) => {
        const fields: Record<string, string> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
        return { id, eventId: fields.event_id ?? '', rotationId: fields.rotation_id ?? '', producer: fields.producer ?? '', data: JSON.parse(fields.data ?? 'null') as unknown };
      });
    },
    async cleanup() {
      for (const client of new Set([redis, caracalRedis])) {
        for (const pattern of [`${prefix}*`, `{${prefix}}*`, `seen:${prefix}*`]) {
          let cursor = '0';
          do {
            const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
            if (keys.length > 0) await client.del(...keys);
            cursor = next;
          } while (cursor !== '0');
        }
        await client.quit();
      }
      await rm(rotationDir, { recursive: true, force: true });
      await rm(secretsDir, { recursive: true, force: true });
      await dropSchema(schema);
    },
  };
}

export interface RunningRecorder {
  runtime: ServiceRuntime;
  config: RecorderConfig;
  pool: pg.Pool;
  recorder: Recorder;
  /** The HTTP server's base URL, when started with `serveHttp`. */
  url: string | undefined;
  /** Stops it as main.ts's shutdown would. */
  stop(): Promise<void>;
}

/** A recorder running in this process, started the way main.ts starts it, from this environment. */
export async function startTestRecorder(
  env: TestEnvironment,
  instance: string,
  overrides: Record<string, string> = {},
  options: { serveHttp?: boolean; catalog?: Catalog } = {},
): Promise<RunningRecorder> {
  const config = loadConfig(recorderConfigSchema, {
    REDIS_URL: process.env.REDIS_URL,
    CARACAL_REDIS_URL: env.caracalRedisUrl,
    DATABASE_URL: env.databaseUrl,
    CARACAL_SECRETS_DIR: env.secretsDir,
    CARACAL_ROTATION_DIR: env.rotationDir,
    STREAM_PREFIX: env.prefix,
    INSTANCE_ID: instance,
    LOG_LEVEL: 'silent',
    CONSUMER_BLOCK_MS: '100',
    CLAIM_IDLE_MS: '2000',
    RETIREMENT_TICK_MS: '100',
    METRICS_REFRESH_MS: '100',
    POLICY_TICK_MS: '0',
    TRIM_TICK_MS: '0',
    ...overrides,
  });
  const catalog = options.catalog ?? (await loadCatalog(config.CARACAL_CATALOG));
  const runtime = await createServiceRuntime('recorder', config, { operators: true, caracalStreamsKey: true });
  const pool = createPool(config.DATABASE_URL, 4, runtime.logger);
  await migrate(pool);
  const recorder = await startRecorder(runtime, config, pool, catalog);
  const server = options.serveHttp ? await runtime.serveHttp(() => projectionReadiness(pool), recorder.httpRoutes) : undefined;
  let stopped = false;
  return {
    runtime,
    config,
    pool,
    recorder,
    url: server?.url,
    async stop() {
      if (stopped) return;
      stopped = true;
      await recorder.stop();
      await runtime.shutdown.shutdown('test');
      await pool.end();
    },
  };
}

/** Polls the projection until the rotation satisfies `done`. */
export async function waitForRotation(pool: pg.Pool, rotationId: string, done: (r: RotationRecord) => boolean, timeoutMs = 10_000): Promise<RotationRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await getRotation(pool, rotationId);
    if (row && done(row)) return row;
    if (Date.now() > deadline) throw new Error(`rotation ${rotationId} did not get there in time; last: ${JSON.stringify(row ?? null)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
