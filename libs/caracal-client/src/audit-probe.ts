import { createHmac, randomUUID } from 'node:crypto';
import { decodeHexKey, type RedisClient } from '@caracal-rotation/bus';
import type { CaracalStreams } from '@caracal-rotation/contracts';
import { noteCaracalRequest } from './observe.js';
import { fieldsOf, PROBE_PREFIX } from './stream-ids.js';

export type AuditProbeVerdict =
  /** The HMAC verified: the Audit consumer only refused the probe's content. */
  | { verdict: 'accepted'; reason: string }
  /** `hmac_verify_failed`: the Audit consumer does not hold this key. */
  | { verdict: 'refused'; reason: string }
  /** Dead-lettered for another reason (the probe's own DLQ entry is still deleted). */
  | { verdict: 'other'; reason: string }
  /** No DLQ entry for the probe before the deadline: the consumer is not consuming. */
  | { verdict: 'no_answer' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Whether Caracal's Audit service accepts an AUDIT_HMAC_KEY, without
 * writing an audit row: an event signed with the key whose data is only
 * `{"id":"rotprobe-<uuid>"}`. The consumer (services/audit/internal/consumer.go
 * processOnce) checks the HMAC first, then the required fields, and
 * dead-letters the probe either way, with src_id = the probe id: reason
 * `json_parse_error:…` means the HMAC verified, `hmac_verify_failed` that it
 * did not. The probe then deletes its own DLQ entry.
 */
export async function auditKeyProbe(
  redis: RedisClient,
  streams: CaracalStreams,
  keyHex: string,
  opts: { deadline: number; pollMs?: number; signal?: AbortSignal },
): Promise<AuditProbeVerdict> {
  noteCaracalRequest('auditKeyProbe');
  const id = `${PROBE_PREFIX}${randomUUID()}`;
  const data = JSON.stringify({ id });
  const sig = createHmac('sha256', decodeHexKey(keyHex)).update(data, 'utf8').digest('hex');
  const entryId = await redis.xadd(streams.auditEvents, '*', 'id', id, 'data', data, 'sig', sig);
  if (!entryId) throw new Error(`XADD to ${streams.auditEvents} returned no id`);
  for (;;) {
    // Caracal's DLQ entries are appended after the probe, on the same Redis clock.
    const entries = await redis.xrange(streams.auditDlq, entryId, '+');
    const own = entries.find(([, flat]) => fieldsOf(flat).src_id === id);
    if (own) {
      const reason = fieldsOf(own[1]).reason ?? '';
      await redis.xdel(streams.auditDlq, own[0]);
      if (reason.startsWith('json_parse_error')) return { verdict: 'accepted', reason };
      if (reason === 'hmac_verify_failed') return { verdict: 'refused', reason };
      return { verdict: 'other', reason };
    }
    if (Date.now() >= opts.deadline || opts.signal?.aborted) return { verdict: 'no_answer' };
    await sleep(opts.pollMs ?? 100);
  }
}

export interface AuditBacklog {
  /** Entries the audit-ingestor group has read but not acknowledged. */
  pending: number;
  /** Entries on the DLQ now. */
  dlqLength: number;
  /** The DLQ's last entry id, to count what arrives after it. */
  dlqLastId: string;
}

/** The Audit consumer's backlog: XPENDING of group audit-ingestor, and the DLQ (services/audit/internal/consumer.go). */
export async function auditBacklog(redis: RedisClient, streams: CaracalStreams): Promise<AuditBacklog> {
  noteCaracalRequest('auditBacklog');
  const summary = (await redis.xpending(streams.auditEvents, 'audit-ingestor')) as [number, ...unknown[]];
  const dlqLength = await redis.xlen(streams.auditDlq);
  const last = await redis.xrevrange(streams.auditDlq, '+', '-', 'COUNT', 1);
  return { pending: Number(summary[0] ?? 0), dlqLength, dlqLastId: last[0]?.[0] ?? '0-0' };
}

/** Reasons of the DLQ entries after `afterId` that no probe made (real events Caracal's Audit refused). */
export async function auditDeadLettersSince(redis: RedisClient, streams: CaracalStreams, afterId: string): Promise<string[]> {
  noteCaracalRequest('auditBacklog');
  const entries = await redis.xrange(streams.auditDlq, `(${afterId}`, '+');
  return entries.map(([, flat]) => fieldsOf(flat)).filter((f) => !(f.src_id ?? '').startsWith(PROBE_PREFIX)).map((f) => f.reason ?? 'unknown');
}
