import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Log } from '../shared/runtime.js';
import { signStream } from '../shared/streams.js';

/**
 * apps/api/src/outbox.ts OutboxDispatcher: how the API publishes to Caracal's
 * streams. Rows of event_outbox are claimed in batches, published as
 * `outbox_id` + the payload fields, signed with STREAMS_HMAC_KEY, and marked
 * dispatched; a failed publish backs off and is abandoned (available_at
 * infinity) after OUTBOX_MAX_ATTEMPTS.
 */
type Payload = Record<string, string | number | boolean | null>;

interface OutboxRow {
  id: string;
  stream_name: string;
  payload_json: Payload;
  attempts: number;
}

export interface OutboxOptions {
  db: pg.Pool;
  redis: Redis;
  streamsKey: Buffer | null;
  workerId: string;
  pollIntervalMs: number;
  batchSize: number;
  lockDurationSec: number;
  maxAttempts: number;
  streamMaxLen: number;
  log: Log;
}

export function startOutboxDispatcher(opts: OutboxOptions): { stop(): Promise<void> } {
  let running = false;
  let stopping = false;

  const dispatch = async (row: OutboxRow) => {
    const signed: Payload = { outbox_id: row.id, ...row.payload_json };
    const present = Object.entries(signed).filter(([, v]) => v !== null && v !== undefined);
    const fields = Object.fromEntries(present.map(([k, v]) => [k, String(v)]));
    if (opts.streamsKey) fields._sig = signStream(opts.streamsKey, row.stream_name, fields);
    try {
      const flat = Object.entries(fields).flat();
      if (opts.streamMaxLen > 0) await opts.redis.xadd(row.stream_name, 'MAXLEN', '~', String(opts.streamMaxLen), '*', ...flat);
      else await opts.redis.xadd(row.stream_name, '*', ...flat);
      await opts.db.query('UPDATE event_outbox SET dispatched_at = now(), locked_until = NULL, last_error = NULL WHERE id = $1', [row.id]);
      opts.log('info', 'outbox event dispatched', { id: row.id, stream: row.stream_name, attempts: row.attempts });
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      if (row.attempts >= opts.maxAttempts) {
        opts.log('error', 'outbox event abandoned after max attempts', { id: row.id, stream: row.stream_name, attempts: row.attempts, err: message });
        await opts.db.query(`UPDATE event_outbox SET locked_until = NULL, available_at = 'infinity'::timestamptz, last_error = $2 WHERE id = $1`, [row.id, message]);
        return;
      }
      const base = Math.min(60, 2 ** Math.min(row.attempts, 6));
      const delay = Math.floor(base + Math.random() * 0.3 * base);
      await opts.db.query(`UPDATE event_outbox SET locked_until = NULL, available_at = now() + ($2 || ' seconds')::interval, last_error = $3 WHERE id = $1`, [row.id, String(delay), message]);
      opts.log('warn', 'outbox event dispatch failed; will retry', { id: row.id, stream: row.stream_name, attempts: row.attempts, delaySec: delay, err: message });
    }
  };

  const tick = async () => {
    if (running || stopping) return;
    running = true;
    try {
      const { rows } = await opts.db.query<OutboxRow>(
        `UPDATE event_outbox SET
           locked_until = now() + ($1 || ' seconds')::interval,
           locked_by    = $2,
           attempts     = attempts + 1
         WHERE id IN (
           SELECT id FROM event_outbox
           WHERE dispatched_at IS NULL
             AND available_at  <= now()
             AND (locked_until IS NULL OR locked_until < now())
           ORDER BY available_at
           LIMIT $3
           FOR UPDATE SKIP LOCKED
         )
         RETURNING id, stream_name, payload_json, attempts`,
        [String(opts.lockDurationSec), opts.workerId, opts.batchSize],
      );
      for (const row of rows) await dispatch(row);
    } catch (err) {
      opts.log('error', 'outbox dispatcher tick failed', { err: (err as Error).message });
    } finally {
      running = false;
    }
  };

  const timer = setInterval(() => void tick(), opts.pollIntervalMs);
  return {
    async stop() {
      stopping = true;
      clearInterval(timer);
      while (running) await new Promise((r) => setTimeout(r, 25));
    },
  };
}
