import type { Redis } from 'ioredis';
import { errorMessage, type Log } from '../shared/runtime.js';
import { autoClaim, ensureGroup, readGroup, tsVerifyStream, type StreamMessage } from '../shared/streams.js';

/**
 * apps/coordinator/src/jobs/lifecycle-relay.ts: observes
 * caracal.agents.lifecycle in group coordinator-relay, drops (acks) a message
 * whose origin signature fails, and marks each `outbox_id` it sees in
 * `coordinator:relay_dedupe:<id>` for the dedupe window.
 */
export const LIFECYCLE_STREAM = 'caracal.agents.lifecycle';
export const LIFECYCLE_GROUP = 'coordinator-relay';
const DEDUPE_KEY_PREFIX = 'coordinator:relay_dedupe:';

export interface RelayOptions {
  redis: Redis;
  consumer: string;
  streamsKey: Buffer | null;
  requireSignature: boolean;
  dedupeTtlMs: number;
  claimIdleMs: number;
  intervalMs: number;
  log: Log;
}

export const relayStats = { observed: 0, duplicates: 0, invalidSignature: 0, failures: 0 };

export function startLifecycleRelay(opts: RelayOptions): { stop(): Promise<void> } {
  if (opts.requireSignature && !opts.streamsKey) throw new Error('streamHmacKey is required when requireSignature is true');
  let groupReady = false;
  let stopped = false;

  const verify = (fields: Record<string, string>) => {
    if (!opts.requireSignature && !opts.streamsKey) return true;
    if (!opts.streamsKey) return false;
    return tsVerifyStream(opts.streamsKey, LIFECYCLE_STREAM, fields);
  };

  const duplicate = async (fields: Record<string, string>) => {
    const id = fields.outbox_id;
    if (typeof id !== 'string' || id === '') return false;
    try {
      return (await opts.redis.set(`${DEDUPE_KEY_PREFIX}${id}`, '1', 'PX', opts.dedupeTtlMs, 'NX')) !== 'OK';
    } catch (err) {
      opts.log('warn', 'dedupe setnx failed; proceeding', { id, error: errorMessage(err) });
      return false;
    }
  };

  const processMessage = async (msg: StreamMessage) => {
    if (!verify(msg.fields)) {
      relayStats.invalidSignature++;
      opts.log('warn', 'dropping lifecycle event with invalid origin signature', { id: msg.id });
    } else if (await duplicate(msg.fields)) {
      relayStats.duplicates++;
    } else {
      relayStats.observed++;
      opts.log('info', 'lifecycle event', { id: msg.id, event: msg.fields.event ?? '', zone_id: msg.fields.zone_id ?? '' });
    }
    await opts.redis.xack(LIFECYCLE_STREAM, LIFECYCLE_GROUP, msg.id);
  };

  const pollOnce = async () => {
    if (!groupReady) {
      await ensureGroup(opts.redis, LIFECYCLE_STREAM, LIFECYCLE_GROUP);
      groupReady = true;
    }
    let start = '0-0';
    for (;;) {
      const claimed = await autoClaim(opts.redis, LIFECYCLE_STREAM, LIFECYCLE_GROUP, opts.consumer, opts.claimIdleMs, start, 50);
      for (const msg of claimed.messages) await processMessage(msg);
      if (claimed.messages.length === 0 || claimed.next === '' || claimed.next === '0-0') break;
      start = claimed.next;
    }
    for (const msg of await readGroup(opts.redis, LIFECYCLE_GROUP, opts.consumer, LIFECYCLE_STREAM, 50, 5000)) await processMessage(msg);
  };

  // makeIntervalJob: run, wait the interval, run again; a failure is counted and logged.
  const loop = (async () => {
    while (!stopped) {
      try {
        await pollOnce();
      } catch (err) {
        if (stopped) break;
        relayStats.failures++;
        opts.log('error', 'lifecycle_relay_failed', { error: errorMessage(err) });
      }
      if (!stopped) await new Promise((r) => setTimeout(r, opts.intervalMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      opts.redis.disconnect();
      await loop;
    },
  };
}
