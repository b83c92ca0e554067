import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { errorMessage, type Log } from '../shared/runtime.js';
import { autoClaim, ensureGroup, readGroup, type StreamMessage } from '../shared/streams.js';
import { sanitizeEvent, unmarshalEvent } from './event.js';
import { ConflictMismatchError, insertEvent, isTransientPgError } from './store.js';

/** services/audit/internal/consumer.go */
export const AUDIT_STREAM = 'caracal.audit.events';
export const AUDIT_DLQ_STREAM = 'caracal.audit.events.dlq';
export const AUDIT_GROUP = 'audit-ingestor';
const BATCH = 100;
const BACKOFF_MS = 1000;

export interface AuditCounters {
  parseErrors: number;
  dlqTotal: number;
  retriesTotal: number;
  hmacFailTotal: number;
  tamperReplay: number;
  inserts: number;
}

export interface AuditConsumerDeps {
  db: pg.Pool;
  /** Commands (ack, dead letters, claims). */
  redis: Redis;
  /** The blocking XREADGROUP connection. */
  reader: Redis;
  key: Buffer;
  consumerName: string;
  maxDeliveries: number;
  claimIdleMs: number;
  log: Log;
}

export class AuditConsumer {
  readonly counters: AuditCounters = { parseErrors: 0, dlqTotal: 0, retriesTotal: 0, hmacFailTotal: 0, tamperReplay: 0, inserts: 0 };
  private healthy = false;
  private reaper: NodeJS.Timeout | undefined;

  constructor(private readonly deps: AuditConsumerDeps) {}

  isHealthy(): boolean {
    return this.healthy;
  }

  /** Consumer.Run: ensure the group and drain this consumer's PEL (retrying), then read until stopped. */
  async run(stopped: () => boolean): Promise<void> {
    const { redis, reader, log } = this.deps;
    while (!stopped()) {
      try {
        await ensureGroup(redis, AUDIT_STREAM, AUDIT_GROUP);
        await this.drainPel(stopped);
        this.healthy = true;
        break;
      } catch (err) {
        this.healthy = false;
        log('error', 'ensure consumer group / drain PEL', { error: errorMessage(err) });
        await new Promise((r) => setTimeout(r, BACKOFF_MS));
      }
    }
    this.reaper = setInterval(() => void this.reapOnce(), this.deps.claimIdleMs);
    while (!stopped()) {
      let messages: StreamMessage[];
      try {
        messages = await readGroup(reader, AUDIT_GROUP, this.deps.consumerName, AUDIT_STREAM, BATCH, 5000);
      } catch (err) {
        if (stopped()) break;
        this.healthy = false;
        log('error', 'xreadgroup', { error: errorMessage(err) });
        await new Promise((r) => setTimeout(r, BACKOFF_MS));
        continue;
      }
      this.healthy = true;
      for (const msg of messages) await this.processOnce(msg, 1);
    }
    clearInterval(this.reaper);
  }

  /** drainPEL: re-process what was delivered to this consumer but never acknowledged. */
  private async drainPel(stopped: () => boolean): Promise<void> {
    let cursor = '0';
    while (!stopped()) {
      const messages = await readGroup(this.deps.reader, AUDIT_GROUP, this.deps.consumerName, AUDIT_STREAM, BATCH, 100, cursor);
      if (messages.length === 0) return;
      for (const msg of messages) {
        await this.processOnce(msg, 1);
        cursor = msg.id;
      }
    }
  }

  /** reapOnce: entries idle longer than claimIdle are claimed and retried with their delivery count. */
  private async reapOnce(): Promise<void> {
    const { redis, log } = this.deps;
    let start = '0-0';
    for (;;) {
      let claimed: { next: string; messages: StreamMessage[] };
      try {
        claimed = await autoClaim(redis, AUDIT_STREAM, AUDIT_GROUP, this.deps.consumerName, this.deps.claimIdleMs, start, BATCH);
      } catch (err) {
        log('error', 'xautoclaim', { error: errorMessage(err) });
        return;
      }
      if (claimed.messages.length === 0) return;
      this.counters.retriesTotal += claimed.messages.length;
      const deliveries = new Map<string, number>();
      try {
        const pending = (await redis.xpending(AUDIT_STREAM, AUDIT_GROUP, claimed.messages[0]!.id, claimed.messages.at(-1)!.id, claimed.messages.length)) as [string, string, number, number][];
        for (const [id, , , count] of pending) deliveries.set(id, count);
      } catch (err) {
        this.healthy = false;
        log('error', 'xpendingext', { error: errorMessage(err) });
        return;
      }
      for (const msg of claimed.messages) await this.processOnce(msg, deliveries.get(msg.id) ?? 0);
      if (claimed.next === '0-0' || claimed.next === '') return;
      start = claimed.next;
    }
  }

  /** processOnce: data present, HMAC, JSON with id/zone_id/occurred_at, insert; failures to the DLQ. */
  async processOnce(msg: StreamMessage, deliveries: number): Promise<void> {
    const raw = msg.fields.data;
    if (raw === undefined) {
      this.counters.parseErrors++;
      return this.dlqAndAck(msg, 'missing_data_field');
    }
    const sig = msg.fields.sig ?? '';
    if (!this.verifyHmac(raw, sig)) {
      this.counters.hmacFailTotal++;
      return this.dlqAndAck(msg, 'hmac_verify_failed');
    }
    let ev;
    try {
      ev = unmarshalEvent(raw);
    } catch (err) {
      this.counters.parseErrors++;
      return this.dlqAndAck(msg, `json_parse_error:${errorMessage(err)}`);
    }
    try {
      if (await insertEvent(this.deps.db, this.deps.key, sanitizeEvent(ev), sig)) this.counters.inserts++;
      await this.ack(msg.id);
    } catch (err) {
      if (err instanceof ConflictMismatchError) {
        this.counters.tamperReplay++;
        return this.dlqAndAck(msg, 'tamper_on_replay');
      }
      if (isTransientPgError(err)) {
        if (this.deps.maxDeliveries > 0 && deliveries >= this.deps.maxDeliveries) return this.dlqAndAck(msg, `transient_exceeded_max_deliveries:${errorMessage(err)}`);
        this.deps.log('warn', 'transient pg insert; will retry', { id: msg.id, deliv: deliveries, error: errorMessage(err) });
        return;
      }
      return this.dlqAndAck(msg, `pg_permanent_error:${errorMessage(err)}`);
    }
  }

  private verifyHmac(raw: string, sig: string): boolean {
    if (this.deps.key.length === 0) return true;
    if (sig === '' || sig.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(sig)) return false;
    const want = createHmac('sha256', this.deps.key).update(raw, 'utf8').digest();
    const got = Buffer.from(sig, 'hex');
    return got.length === want.length && timingSafeEqual(got, want);
  }

  private async ack(id: string): Promise<void> {
    await this.deps.redis.xack(AUDIT_STREAM, AUDIT_GROUP, id).catch((err: unknown) => this.deps.log('error', 'xack failed', { id, error: errorMessage(err) }));
  }

  /** toDLQ + ack: reason, src_id (the entry id, then overwritten by an `id` field), received_at, src_<field> per field; unsigned. */
  private async dlqAndAck(msg: StreamMessage, reason: string): Promise<void> {
    const fields: Record<string, string> = { reason, src_id: msg.id, received_at: String(Date.now()) };
    for (const [k, v] of Object.entries(msg.fields)) fields[`src_${k}`] = v;
    try {
      await this.deps.redis.xadd(AUDIT_DLQ_STREAM, '*', ...Object.entries(fields).flat());
    } catch (err) {
      this.deps.log('error', 'dlq publish failed; leaving in PEL for retry', { id: msg.id, reason, error: errorMessage(err) });
      return;
    }
    this.counters.dlqTotal++;
    this.deps.log('warn', 'event sent to DLQ', { id: msg.id, reason });
    await this.ack(msg.id);
  }
}
