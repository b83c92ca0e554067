import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Keyring, Publisher, StaticKeyringSource, createRedis, type Redis } from '@caracal-rotation/bus';
import { loadConfig } from '@caracal-rotation/config';
import { rotationStreams, type RotationStreams } from '@caracal-rotation/contracts';
import { getRotation, migrate, type RotationRecord } from '@caracal-rotation/projection';
import type { FixtureEvent } from '@caracal-rotation/projection/testing';
import { createServiceRuntime, type ServiceRuntime } from '@caracal-rotation/runtime';
import { dropSchema, testSchemaUrl, uniqueName } from '@caracal-rotation/testing';
import type pg from 'pg';
import { recorderConfigSchema, type RecorderConfig } from '../src/config.js';
import { createPool } from '../src/database.js';
import { projectionReadiness } from '../src/readiness.js';
import { startRecorder, type Recorder } from '../src/recorder.js';

/**
 * What a recorder test file shares: its own stream prefix on the real Redis,
 * its own schema on the real Postgres, a secrets directory holding the bus
 * key, and a publisher standing in for the other stages.
 */
export interface TestEnvironment {
  prefix: string;
  streams: RotationStreams;
  secretsDir: string;
  databaseUrl: string;
  redis: Redis;
  publisher: Publisher;
  /** Publishes events as the other stages would (signed, contract-valid). */
  publish(events: readonly FixtureEvent[]): Promise<string[]>;
  /** Entries of a stream, with `data` parsed. */
  entries(stream: string): Promise<{ id: string; eventId: string; data: unknown }[]>;
  cleanup(): Promise<void>;
}

export async function createTestEnvironment(name: string): Promise<TestEnvironment> {
  const prefix = uniqueName(name);
  const streams = rotationStreams(prefix);
  const secretsDir = await mkdtemp(join(tmpdir(), 'recorder-secrets-'));
  await chmod(secretsDir, 0o700);
  const keyHex = randomBytes(32).toString('hex');
  await writeFile(join(secretsDir, 'streamsHmacKey'), keyHex, { mode: 0o444 });
  const { url, schema } = await testSchemaUrl(name.replace(/[^a-z0-9]/g, '_'));
  const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const publisher = new Publisher(redis, new StaticKeyringSource(Keyring.fromHex(keyHex)), 'test/stages');

  return {
    prefix,
    streams,
    secretsDir,
    databaseUrl: url,
    redis,
    publisher,
    async publish(events) {
      const ids: string[] = [];
      for (const e of events) {
        ids.push(await publisher.publish({ stream: streams[e.name], name: e.name, eventId: e.eventId, rotationId: e.rotationId, data: e.data }));
      }
      return ids;
    },
    async entries(stream) {
      const raw = (await redis.xrange(stream, '-', '+')) as [string, string[]][];
      return raw.map(([id, flat]) => {
        const fields: Record<string, string> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
        return { id, eventId: fields.event_id ?? '', data: JSON.parse(fields.data ?? 'null') as unknown };
      });
    },
    async cleanup() {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 500);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      await redis.quit();
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

/** A recorder running in this process, configured the way main.ts would be from this environment. */
export async function startTestRecorder(
  env: TestEnvironment,
  instance: string,
  overrides: Record<string, string> = {},
  options: { serveHttp?: boolean } = {},
): Promise<RunningRecorder> {
  const config = loadConfig(recorderConfigSchema, {
    REDIS_URL: process.env.REDIS_URL,
    DATABASE_URL: env.databaseUrl,
    CARACAL_SECRETS_DIR: env.secretsDir,
    STREAM_PREFIX: env.prefix,
    INSTANCE_ID: instance,
    LOG_LEVEL: 'silent',
    CONSUMER_BLOCK_MS: '100',
    CLAIM_IDLE_MS: '2000',
    RETIREMENT_TICK_MS: '100',
    METRICS_REFRESH_MS: '100',
    ...overrides,
  });
  const runtime = await createServiceRuntime('recorder', config);
  const pool = createPool(config.DATABASE_URL, 4, runtime.logger);
  await migrate(pool);
  const recorder = await startRecorder(runtime, config, pool);
  const server = options.serveHttp ? await runtime.serveHttp(() => projectionReadiness(pool), recorder.httpRoutes) : undefined;
  return {
    runtime,
    config,
    pool,
    recorder,
    url: server?.url,
    async stop() {
      await recorder.stop();
      await runtime.shutdown.shutdown('test');
      await pool.end();
    },
  };
}

/** Polls the projection until the rotation satisfies `done`. */
export async function waitForRotation(
  pool: pg.Pool,
  rotationId: string,
  done: (r: RotationRecord) => boolean,
  timeoutMs = 10_000,
): Promise<RotationRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await getRotation(pool, rotationId);
    if (row && done(row)) return row;
    if (Date.now() > deadline) throw new Error(`rotation ${rotationId} did not get there in time; last: ${JSON.stringify(row ?? null)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
