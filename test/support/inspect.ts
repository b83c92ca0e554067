import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compareStreamIds, type Redis } from '@caracal-rotation/bus';
import { EVENT_NAMES, type EventName, type RotationStreams } from '@caracal-rotation/contracts';
import { readStream, type StreamEntry } from '@caracal-rotation/testing';
import type pg from 'pg';

export type NamedEntry = StreamEntry & { name: EventName };

/** Every entry of every rotation stream on the bus, oldest first per stream. */
export async function rotationEntries(redis: Redis, streams: RotationStreams): Promise<NamedEntry[]> {
  const out: NamedEntry[] = [];
  for (const name of EVENT_NAMES) for (const e of await readStream(redis, streams[name])) out.push({ name, ...e });
  return out;
}

/**
 * The `completed` announcements: the verifier publishes them on Caracal's
 * Redis, signed with Caracal's STREAMS_HMAC_KEY, for Caracal's services.
 */
export async function announcements(caracalRedis: Redis, streams: RotationStreams): Promise<NamedEntry[]> {
  return (await readStream(caracalRedis, streams.completed)).map((e) => ({ name: 'completed' as const, ...e }));
}

/**
 * Pairs of rotations planned in the opposite order of their requests (the
 * planner's class queue is first-in, first-out): `ids` in request order.
 */
export function queueInversions(entries: NamedEntry[], ids: string[]): [string, string][] {
  const planned = new Map<string, string>();
  for (const e of entries) if (e.name === 'planned' && !planned.has(e.fields.rotation_id ?? '')) planned.set(e.fields.rotation_id!, e.id);
  const out: [string, string][] = [];
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const a = planned.get(ids[i]!);
      const b = planned.get(ids[j]!);
      if (a && b && compareStreamIds(b, a) < 0) out.push([ids[i]!, ids[j]!]);
    }
  }
  return out;
}

/**
 * Why rotations did not complete, for the report: every failed verification
 * (phase, failed checks with their detail, diagnosis) and every failed or
 * rejected event of the given rotations.
 */
export function failureDetails(entries: NamedEntry[], ids: string[]): string[][] {
  const wanted = new Set(ids);
  const rows: string[][] = [];
  for (const e of entries) {
    if (!wanted.has(e.fields.rotation_id ?? '')) continue;
    const d = e.data as { phase?: string; ok?: boolean; checks?: { name: string; ok: boolean; detail: string }[]; diagnosis?: string; error?: string; reason_code?: string; material?: string };
    if (e.name === 'verified' && d.ok === false) {
      const failed = (d.checks ?? []).filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`.slice(0, 300));
      rows.push([e.fields.rotation_id!, String(d.material), `verified ${d.phase} not ok`, [...failed, d.diagnosis ? `diagnosis: ${d.diagnosis}` : ''].filter(Boolean).join(' / ').slice(0, 900)]);
    }
    if (e.name === 'failed') rows.push([e.fields.rotation_id!, String(d.material), e.name, String(d.error ?? '').slice(0, 500)]);
    if (e.name === 'rejected') rows.push([e.fields.rotation_id!, String(d.material), e.name, `${String(d.reason_code)}: ${String((e.data as { message?: string }).message ?? '')}`.slice(0, 500)]);
    if (e.name === 'rolled') {
      const bad = ((e.data.holders ?? []) as { service: string; ok: boolean; error?: string }[]).filter((h) => !h.ok);
      if (bad.length > 0) rows.push([e.fields.rotation_id!, String(d.material), `rolled ${d.phase}: holders failed`, bad.map((h) => `${h.service}: ${h.error ?? ''}`).join(' / ').slice(0, 600)]);
    }
  }
  return rows;
}

/** Entries grouped by rotation id. */
export function byRotation(entries: NamedEntry[]): Map<string, NamedEntry[]> {
  const m = new Map<string, NamedEntry[]>();
  for (const e of entries) {
    const id = e.fields.rotation_id ?? '';
    m.set(id, [...(m.get(id) ?? []), e]);
  }
  return m;
}

/** How many event ids appear on more than one entry of the same stream (re-emissions after a crash or retry). */
export function reEmissions(entries: NamedEntry[]): Record<string, number> {
  const seen = new Map<string, number>();
  for (const e of entries) seen.set(`${e.name}\u0000${e.fields.event_id}`, (seen.get(`${e.name}\u0000${e.fields.event_id}`) ?? 0) + 1);
  const out: Record<string, number> = {};
  for (const [k, n] of seen) {
    if (n < 2) continue;
    const name = k.split('\u0000')[0]!;
    out[name] = (out[name] ?? 0) + (n - 1);
  }
  return out;
}

export interface HistoryVersion {
  file: string;
  seq: string;
  rotationId: string;
  phase: string;
  kid: string;
  value: string;
}

/**
 * The secret-writer's version history of a store directory (Caracal's
 * secrets, or the orchestrator's own for the bus key):
 * `<dir>/.history/<file>/<seq>.json`. Its rotation records (`rotation-records/`)
 * are not versions.
 */
export async function readHistory(secretsDir: string): Promise<HistoryVersion[]> {
  const root = join(secretsDir, '.history');
  const out: HistoryVersion[] = [];
  for (const file of await readdir(root).catch(() => [] as string[])) {
    if (file === 'rotation-records') continue;
    for (const seq of (await readdir(join(root, file)).catch(() => [] as string[])).filter((n) => /^\d+\.json$/.test(n))) {
      const v = JSON.parse(await readFile(join(root, file, seq), 'utf8')) as Omit<HistoryVersion, 'file' | 'seq'>;
      out.push({ file, seq, rotationId: v.rotationId, phase: v.phase, kid: v.kid, value: v.value });
    }
  }
  return out;
}

/** The deployed secret files (regular files whose names do not start with a dot) and their values. */
export async function secretFiles(secretsDir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(secretsDir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || !entry.isFile()) continue;
    out[entry.name] = await readFile(join(secretsDir, entry.name), 'utf8');
  }
  return out;
}

/** Every key matching `pattern` (SCAN MATCH). */
export async function keysMatching(redis: Redis, pattern: string): Promise<string[]> {
  const keys = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    for (const k of batch) keys.add(k);
    cursor = next;
  } while (cursor !== '0');
  return [...keys].sort();
}

/** Entry counts of every dead-letter stream under the prefix (`<prefix>.*.dead`), zero ones included for the rotation streams. */
export async function deadLetterCounts(redis: Redis, streams: RotationStreams): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of EVENT_NAMES) out[`${streams[name]}.dead`] = 0;
  for (const key of await keysMatching(redis, `${streams.prefix}*.dead`)) out[key] = 0;
  for (const key of Object.keys(out)) out[key] = await redis.xlen(key);
  return out;
}

export interface DeadLetter {
  /** The dead-letter stream and the entry's id on it. */
  stream: string;
  id: string;
  error: string;
  group: string;
  detail: string;
  /** The rotation of the original entry, when its fields could be read back. */
  rotationId: string;
}

/** Every entry of every dead-letter stream under the prefix (`<prefix>*.dead`). */
export async function deadLetters(redis: Redis, streams: RotationStreams): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  for (const stream of await keysMatching(redis, `${streams.prefix}*.dead`)) {
    for (const e of await readStream(redis, stream)) {
      let rotationId = '';
      try {
        rotationId = String((JSON.parse(e.fields.values ?? '{}') as { rotation_id?: string }).rotation_id ?? '');
      } catch {
        // a value cut at 8 KiB is not JSON any more
      }
      out.push({ stream, id: e.id, error: e.fields.error ?? '', group: e.fields.group ?? '', detail: e.fields.detail ?? '', rotationId });
    }
  }
  return out;
}

/** The text of one Redis key of any type, for searching. */
export async function keyText(redis: Redis, key: string): Promise<{ type: string; text: string }> {
  const type = await redis.type(key);
  let value: unknown;
  switch (type) {
    case 'string':
      value = await redis.get(key);
      break;
    case 'hash':
      value = await redis.hgetall(key);
      break;
    case 'list':
      value = await redis.lrange(key, 0, -1);
      break;
    case 'set':
      value = await redis.smembers(key);
      break;
    case 'zset':
      value = await redis.zrange(key, '0', '-1', 'WITHSCORES');
      break;
    case 'stream':
      value = await redis.xrange(key, '-', '+');
      break;
    default:
      value = null;
  }
  return { type, text: `${key}\n${typeof value === 'string' ? value : JSON.stringify(value)}` };
}

/** Every row of every table of a schema, as text (`row::text`). */
export async function dumpSchema(pool: pg.Pool, schema: string): Promise<{ table: string; rows: number; text: string }[]> {
  const tables = await pool.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1", [schema]);
  const out: { table: string; rows: number; text: string }[] = [];
  for (const { table_name: table } of tables.rows) {
    const rows = await pool.query<{ t: string }>(`SELECT t::text AS t FROM "${schema}"."${table}" t`);
    out.push({ table, rows: rows.rowCount ?? 0, text: rows.rows.map((r) => r.t).join('\n') });
  }
  return out;
}

/** GET a URL's body as text, or undefined when it does not answer 200. */
export async function fetchText(url: string, timeoutMs = 5000, headers: Record<string, string> = {}): Promise<string | undefined> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

/** Status of GET url, or 0 when it does not answer. */
export async function statusOf(url: string, timeoutMs = 5000): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Polls `probe` until it returns a value other than undefined, or throws after `timeoutMs` with `what`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Whether the projection holds every event of `rotationIds` that is on the
 * streams, and every one of those rotations is in `state`. Returns what is
 * missing (empty when consistent).
 */
export async function projectionGaps(
  pool: pg.Pool,
  entries: NamedEntry[],
  rotationIds: string[],
  state: string | ((id: string) => string),
): Promise<{ missingEvents: string[]; wrongState: { id: string; state: string | undefined }[] }> {
  const ids = new Set(rotationIds);
  const onStreams = new Set(entries.filter((e) => ids.has(e.fields.rotation_id ?? '')).map((e) => e.fields.event_id!));
  const recorded = await pool.query<{ event_id: string }>('SELECT event_id::text AS event_id FROM rotation_events WHERE rotation_id = ANY($1::uuid[])', [rotationIds]);
  const have = new Set(recorded.rows.map((r) => r.event_id));
  const rows = await pool.query<{ rotation_id: string; state: string }>('SELECT rotation_id::text AS rotation_id, state FROM rotations WHERE rotation_id = ANY($1::uuid[])', [rotationIds]);
  const states = new Map(rows.rows.map((r) => [r.rotation_id, r.state]));
  const want = typeof state === 'string' ? () => state : state;
  return {
    missingEvents: [...onStreams].filter((id) => !have.has(id)),
    wrongState: rotationIds.filter((id) => states.get(id) !== want(id)).map((id) => ({ id, state: states.get(id) })),
  };
}
