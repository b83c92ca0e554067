import { performance } from 'node:perf_hooks';
import { eventType, type RotationEvent } from '@caracal-rotation/contracts';
import { applyEvent, migrate, transaction } from '@caracal-rotation/projection';
import { dropSchema, testSchemaUrl } from '@caracal-rotation/testing';
import pg from 'pg';
import { rotationMix, type GeneratedEvent } from '../lib/events.js';
import { round } from '../lib/stats.js';
import { applyEventsBatched, applyEventsSetBased, type BatchItem } from '../scratch/batched-apply.js';
import type { Env } from './bus-hop.js';

/** The recorder's pool size (PG_POOL_MAX default): its 256 in-flight handlers share these connections. */
const POOL_MAX = 10;

export interface VariantResult {
  eventsPerS: number;
  seconds: number;
  queriesPerEvent: number;
  concurrency: number;
  note: string;
  fingerprint?: string;
}

interface Item extends BatchItem {
  generated: GeneratedEvent;
}

function toItems(events: readonly GeneratedEvent[]): Item[] {
  const base = Date.now();
  return events.map((g, i) => {
    const event: RotationEvent<unknown> = {
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
    };
    return { stream: g.stream, event, name: g.name, drainMarks: g.drainMarks, generated: g };
  });
}

/** Runs `work` over `items` with `concurrency` workers taking them in order. */
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

async function projectionFingerprint(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ f: string }>(
    `SELECT md5(string_agg(concat_ws('|', rotation_id, state, progress, phase, new_kid, previous_kid, failure, rolled_back, material, zone_id), ',' ORDER BY rotation_id)) ||
            '/' || (SELECT count(*) FROM rotation_events) || '/' || (SELECT count(*) FROM rotation_checks) || '/' || (SELECT count(*) FROM rotation_drains) AS f
       FROM rotations`,
  );
  return rows[0]!.f;
}

export async function recorderSection(env: Env, opts: { rotations: number }) {
  const events = rotationMix(opts.rotations, 'caracal.rotation');
  const items = toItems(events);
  const mix = events.reduce<Record<string, number>>((m, e) => ((m[e.name] = (m[e.name] ?? 0) + 1), m), {});
  env.log(`recorder: ${items.length} events of ${opts.rotations} rotations (${Object.entries(mix).map(([k, v]) => `${v} ${k}`).join(', ')})`);
  const results = {} as Record<'applyEvent' | 'naive' | 'batched' | 'setBased' | 'applyEventSerial', VariantResult>;

  results.applyEvent = await withSchema('bench_rec_real', true, async (pool, counter) => {
    const s = await drive(items, POOL_MAX, (it) => applyEvent(pool, it.stream, it.event, it.name, { drainMarks: it.drainMarks }));
    return {
      eventsPerS: round(items.length / s, 0),
      seconds: round(s, 2),
      queriesPerEvent: round(counter.queries / items.length, 2),
      concurrency: POOL_MAX,
      note: 'libs/projection applyEvent: one transaction per event (BEGIN, INSERT event, INSERT/SELECT FOR UPDATE rotation, UPDATE, checks, drain marks, COMMIT)',
      fingerprint: await projectionFingerprint(pool),
    };
  });
  env.log(`  applyEvent (${POOL_MAX} connections): ${results.applyEvent.eventsPerS} events/s, ${results.applyEvent.queriesPerEvent} statements per event`);

  results.naive = await withSchema('bench_rec_naive', false, async (pool, counter) => {
    await pool.query(`CREATE TABLE naive_events (
      event_id uuid PRIMARY KEY, rotation_id uuid NOT NULL, type text NOT NULL, stream text NOT NULL, entry_id text NOT NULL,
      occurred_at timestamptz NOT NULL, producer text NOT NULL, kid text NOT NULL, data jsonb NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())`);
    counter.queries = 0;
    const s = await drive(items, POOL_MAX, (it) =>
      transaction(pool, (client) =>
        client.query(
          `INSERT INTO naive_events (event_id, rotation_id, type, stream, entry_id, occurred_at, producer, kid, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id) DO NOTHING`,
          [it.event.eventId, it.event.rotationId, it.event.type, it.stream, it.event.entryId, it.event.occurredAt, it.event.producer, it.event.kid, JSON.stringify(it.event.data)],
        ),
      ),
    );
    return {
      eventsPerS: round(items.length / s, 0),
      seconds: round(s, 2),
      queriesPerEvent: round(counter.queries / items.length, 2),
      concurrency: POOL_MAX,
      note: 'baseline: one transaction per event with one plain INSERT of the event row (no projection, no evidence); the floor cost of a commit per event',
    };
  });
  env.log(`  naive INSERT per transaction (${POOL_MAX} connections): ${results.naive.eventsPerS} events/s`);

  const BATCH = 64;
  results.batched = await withSchema('bench_rec_batch', true, async (pool, counter) => {
    const batches: Item[][] = [];
    for (let i = 0; i < items.length; i += BATCH) batches.push(items.slice(i, i + BATCH));
    let fallbacks = 0;
    const s = await drive(batches, 4, async (b) => {
      if (!(await applyEventsBatched(pool, b)).batched) fallbacks += 1;
    });
    return {
      eventsPerS: round(items.length / s, 0),
      seconds: round(s, 2),
      queriesPerEvent: round(counter.queries / items.length, 2),
      concurrency: 4,
      note: `PROTOTYPE bench/scratch/batched-apply.ts: applyEvent's statements, ${BATCH} events per transaction (4 batches in flight)${fallbacks ? `; ${fallbacks} batches fell back to per-event` : ''}`,
      fingerprint: await projectionFingerprint(pool),
    };
  });
  env.log(`  batched prototype (${BATCH} per transaction): ${results.batched.eventsPerS} events/s`);

  results.setBased = await withSchema('bench_rec_set', true, async (pool, counter) => {
    const batches: Item[][] = [];
    for (let i = 0; i < items.length; i += BATCH) batches.push(items.slice(i, i + BATCH));
    let fallbacks = 0;
    const s = await drive(batches, 4, async (b) => {
      if (!(await applyEventsSetBased(pool, b)).batched) fallbacks += 1;
    });
    return {
      eventsPerS: round(items.length / s, 0),
      seconds: round(s, 2),
      queriesPerEvent: round(counter.queries / items.length, 2),
      concurrency: 4,
      note: `PROTOTYPE bench/scratch/batched-apply.ts applyEventsSetBased: ${BATCH} events per transaction, multi-row statements, rotationPatch folded in memory${fallbacks ? `; ${fallbacks} batches fell back to per-event` : ''}`,
      fingerprint: await projectionFingerprint(pool),
    };
  });
  env.log(`  set-based batch prototype (${BATCH} per transaction): ${results.setBased.eventsPerS} events/s, ${results.setBased.queriesPerEvent} statements per event`);

  const sample = items.slice(0, Math.min(items.length, 1000));
  results.applyEventSerial = await withSchema('bench_rec_serial', true, async (pool, counter) => {
    const s = await drive(sample, 1, (it) => applyEvent(pool, it.stream, it.event, it.name, { drainMarks: it.drainMarks }));
    return {
      eventsPerS: round(sample.length / s, 0),
      seconds: round(s, 2),
      queriesPerEvent: round(counter.queries / sample.length, 2),
      concurrency: 1,
      note: `applyEvent one at a time (first ${sample.length} events): per-event latency ${round((s / sample.length) * 1000, 2)} ms`,
    };
  });
  env.log(`  applyEvent one at a time: ${results.applyEventSerial.eventsPerS} events/s`);

  return {
    events: items.length,
    rotations: opts.rotations,
    mix,
    results,
    ratioVsNaive: round(results.applyEvent.eventsPerS / results.naive.eventsPerS, 2),
    batchedSpeedup: round(results.batched.eventsPerS / results.applyEvent.eventsPerS, 2),
    setBasedSpeedup: round(results.setBased.eventsPerS / results.applyEvent.eventsPerS, 2),
    batchedSameProjection: results.batched.fingerprint === results.applyEvent.fingerprint,
    setBasedSameProjection: results.setBased.fingerprint === results.applyEvent.fingerprint,
  };
}
