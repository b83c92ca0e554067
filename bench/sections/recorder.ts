import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { eventType } from '@caracal-rotation/contracts';
import { applyEvent, applyEvents, migrate, transaction, type ProjectedEvent } from '@caracal-rotation/projection';
import { dropSchema, testSchemaUrl } from '@caracal-rotation/testing';
import pg from 'pg';
import { rotationMix, type GeneratedEvent } from '../lib/events.js';
import { round } from '../lib/stats.js';
import type { Env } from './bus-hop.js';

/** The recorder's pool size (PG_POOL_MAX default): the batches it has in flight share these connections. */
const POOL_MAX = 10;
/** The recorder's read size (the consumer's COUNT): one read is one batch, one transaction. */
const BATCH = 64;

export interface VariantResult {
  eventsPerS: number;
  seconds: number;
  queriesPerEvent: number;
  concurrency: number;
  note: string;
  fingerprint?: string;
}

/** The events as the recorder hands them to the projection: admitted, with who signed them, the plan read from the PlanStore, the drain marks. */
function toProjected(events: readonly GeneratedEvent[]): ProjectedEvent[] {
  const base = Date.now();
  return events.map((g, i) => ({
    name: g.name,
    event: {
      stream: g.stream,
      entryId: `${base + Math.floor(i / 4)}-${i % 4}`,
      eventId: g.eventId,
      type: eventType(g.name),
      rotationId: g.rotationId,
      occurredAt: new Date(base + i).toISOString(),
      producer: g.producer,
      kid: '0123456789abcdef',
      data: g.data,
      deliveries: 1,
    },
    signer: g.signer,
    plan: g.plan,
    drainMarks: g.drainMarks,
  }));
}

const batchesOf = <T>(items: readonly T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/** Runs `work` over `items` with `concurrency` workers taking them in order; returns the seconds it took. */
async function drive<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
  return (performance.now() - t0) / 1000;
}

async function withSchema<T>(prefix: string, migrated: boolean, fn: (pool: pg.Pool, counter: { queries: number }) => Promise<T>): Promise<T> {
  const { url, schema } = await testSchemaUrl(prefix);
  const pool = new pg.Pool({ connectionString: url, max: POOL_MAX });
  const counter = { queries: 0 };
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      counter.queries += 1;
      return query(...args);
    };
  });
  try {
    if (migrated) await migrate(pool);
    counter.queries = 0;
    return await fn(pool, counter);
  } finally {
    await pool.end();
    await dropSchema(schema);
  }
}

/** What a projection holds, as one string: the same events projected two ways must give the same one. */
async function projectionFingerprint(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ f: string }>(
    `SELECT md5(string_agg(concat_ws('|', rotation_id, batch_id, material, zone_id, state, progress, phase, actor, new_kid, previous_kid, failure, rolled_back, plan_id, batch_parent),
                           ',' ORDER BY rotation_id)) ||
            '/' || (SELECT count(*) FROM rotation_events) || '/' || (SELECT count(*) FROM rotation_checks) || '/' || (SELECT count(*) FROM rotation_drains) ||
            '/' || (SELECT count(*) FROM rotation_retirements) || '/' || (SELECT count(*) FROM rotation_plans) AS f
       FROM rotations`,
  );
  return rows[0]!.f;
}

/**
 * The recorder's projection without the bus: generated events handed to
 * libs/projection's `applyEvents` the way the recorder hands them over
 * (batches of one read, several in flight on its pool), against the one-by-one
 * path (`applyEvent`, a batch of one: what the consumer falls back to when a
 * batch fails) and the floor of a plain multi-row INSERT per batch.
 */
export async function recorderSection(env: Env, opts: { rotations: number }) {
  const generated = rotationMix(opts.rotations, 'caracal.rotation');
  const items = toProjected(generated);
  const batches = batchesOf(items, BATCH);
  const mix = generated.reduce<Record<string, number>>((m, e) => ((m[e.name] = (m[e.name] ?? 0) + 1), m), {});
  env.log(`recorder: ${items.length} events of ${opts.rotations} rotations (${Object.entries(mix).map(([k, v]) => `${v} ${k}`).join(', ')})`);
  const results = {} as Record<'applyEvents' | 'applyEventsSerial' | 'applyEvent' | 'insertFloor', VariantResult>;
  const measure = (s: number, n: number, counter: { queries: number }, concurrency: number, note: string): VariantResult => ({
    eventsPerS: round(n / s, 0),
    seconds: round(s, 2),
    queriesPerEvent: round(counter.queries / n, 2),
    concurrency,
    note,
  });

  // Warm-up (not timed): the first variant must not pay for the JIT and Postgres's cold caches alone.
  await withSchema('bench_rec_warm', true, async (pool) => {
    await drive(batches, POOL_MAX, (b) => applyEvents(pool, b));
    await drive(items.slice(0, 500), POOL_MAX, (e) => applyEvent(pool, { ...e, event: { ...e.event, eventId: randomUUID() } }));
  });

  results.applyEvents = await withSchema('bench_rec_batch', true, async (pool, counter) => {
    const s = await drive(batches, POOL_MAX, (b) => applyEvents(pool, b));
    return {
      ...measure(s, items.length, counter, POOL_MAX, `libs/projection applyEvents: ${BATCH} events per transaction (one consumer read), ${POOL_MAX} batches in flight on ${POOL_MAX} connections, as the recorder runs it`),
      fingerprint: await projectionFingerprint(pool),
    };
  });
  env.log(`  applyEvents (${BATCH} per batch, ${POOL_MAX} in flight): ${results.applyEvents.eventsPerS} events/s, ${results.applyEvents.queriesPerEvent} statements per event`);

  results.applyEventsSerial = await withSchema('bench_rec_serial', true, async (pool, counter) => {
    const s = await drive(batches, 1, (b) => applyEvents(pool, b));
    return measure(s, items.length, counter, 1, `applyEvents, one batch of ${BATCH} at a time: ${round((s / batches.length) * 1000, 1)} ms per batch`);
  });
  env.log(`  applyEvents one batch at a time: ${results.applyEventsSerial.eventsPerS} events/s`);

  results.applyEvent = await withSchema('bench_rec_single', true, async (pool, counter) => {
    const s = await drive(items, POOL_MAX, (e) => applyEvent(pool, e));
    return {
      ...measure(s, items.length, counter, POOL_MAX, `applyEvent (a batch of one per transaction), ${POOL_MAX} connections: the path of entries handled one by one`),
      fingerprint: await projectionFingerprint(pool),
    };
  });
  env.log(`  applyEvent one event per transaction (${POOL_MAX} connections): ${results.applyEvent.eventsPerS} events/s`);

  results.insertFloor = await withSchema('bench_rec_floor', false, async (pool, counter) => {
    await pool.query(`CREATE TABLE floor_events (
      event_id uuid PRIMARY KEY, rotation_id uuid NOT NULL, type text NOT NULL, stream text NOT NULL, entry_id text NOT NULL,
      occurred_at timestamptz NOT NULL, producer text NOT NULL, kid text NOT NULL, signer text, data jsonb NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())`);
    counter.queries = 0;
    const s = await drive(batches, POOL_MAX, (b) =>
      transaction(pool, (client) =>
        client.query(
          `INSERT INTO floor_events (event_id, rotation_id, type, stream, entry_id, occurred_at, producer, kid, signer, data)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::jsonb[])
           ON CONFLICT (event_id) DO NOTHING`,
          [
            b.map((e) => e.event.eventId),
            b.map((e) => e.event.rotationId),
            b.map((e) => e.event.type),
            b.map((e) => e.event.stream),
            b.map((e) => e.event.entryId),
            b.map((e) => e.event.occurredAt),
            b.map((e) => e.event.producer),
            b.map((e) => e.event.kid),
            b.map((e) => e.signer ?? null),
            b.map((e) => JSON.stringify(e.event.data)),
          ],
        ),
      ),
    );
    return measure(s, items.length, counter, POOL_MAX, `floor: one multi-row INSERT of the batch's event rows per transaction (no projection, no plans, no evidence), ${POOL_MAX} in flight`);
  });
  env.log(`  floor (multi-row INSERT of ${BATCH} event rows per transaction): ${results.insertFloor.eventsPerS} events/s`);

  return {
    events: items.length,
    rotations: opts.rotations,
    batchSize: BATCH,
    poolMax: POOL_MAX,
    mix,
    results,
    ratioVsFloor: round(results.applyEvents.eventsPerS / results.insertFloor.eventsPerS, 2),
    batchSpeedup: round(results.applyEvents.eventsPerS / results.applyEvent.eventsPerS, 2),
    sameProjection: results.applyEvents.fingerprint === results.applyEvent.fingerprint,
  };
}
