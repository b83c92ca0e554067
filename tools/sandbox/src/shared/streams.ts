import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalString, SIGNATURE_FIELD, type StreamFields } from '@caracal-rotation/bus';
import type { Redis } from 'ioredis';

/**
 * Caracal's stream origin signature (packages/core/go/crypto/streamsig.go,
 * packages/core/ts/src/crypto.ts): `_sig` = hex HMAC-SHA256 over the stream
 * name and the sorted fields. The canonical form is the bus library's.
 */

export function signStream(key: Buffer, stream: string, fields: StreamFields): string {
  return createHmac('sha256', key).update(canonicalString(stream, fields), 'utf8').digest('hex');
}

/** crypto.VerifyStream (Go): the presented `_sig` is hex-decoded and compared with hmac.Equal. */
export function goVerifyStream(key: Buffer, stream: string, fields: StreamFields): boolean {
  const got = fields[SIGNATURE_FIELD];
  if (typeof got !== 'string' || got === '' || got.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(got)) return false;
  const want = Buffer.from(signStream(key, stream, fields), 'hex');
  const gotBytes = Buffer.from(got, 'hex');
  return gotBytes.length === want.length && timingSafeEqual(gotBytes, want);
}

/** The coordinator's LifecycleRelay.verify (TS): Buffer.from(got, 'hex') compared by length, then timing-safe. */
export function tsVerifyStream(key: Buffer, stream: string, fields: StreamFields): boolean {
  const got = fields[SIGNATURE_FIELD];
  if (typeof got !== 'string') return false;
  const gotBytes = Buffer.from(got, 'hex');
  const want = Buffer.from(signStream(key, stream, fields), 'hex');
  return gotBytes.length === want.length && timingSafeEqual(gotBytes, want);
}

export interface StreamMessage {
  id: string;
  fields: StreamFields;
}

/** Flattened `name value …` pairs of a stream entry as an object (the last value of a repeated name wins, as go-redis maps them). */
export function toFields(flat: readonly string[]): StreamFields {
  const fields: StreamFields = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return fields;
}

type RawEntries = [string, string[] | null][];

function entries(raw: RawEntries | undefined | null): StreamMessage[] {
  // A claimed entry that was deleted meanwhile comes back with nil fields; go-redis skips it.
  return (raw ?? []).filter(([, f]) => Array.isArray(f)).map(([id, f]) => ({ id, fields: toFields(f as string[]) }));
}

/** XGROUP CREATE … $ MKSTREAM, BUSYGROUP being success (EnsureGroup in every service). */
export async function ensureGroup(redis: Redis, stream: string, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, group, '$', 'MKSTREAM');
  } catch (err) {
    if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
  }
}

export async function readGroup(redis: Redis, group: string, consumer: string, stream: string, count: number, blockMs: number, id = '>'): Promise<StreamMessage[]> {
  const reply = (await redis.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', stream, id)) as [string, RawEntries][] | null;
  return entries(reply?.[0]?.[1]);
}

export async function autoClaim(redis: Redis, stream: string, group: string, consumer: string, minIdleMs: number, start: string, count: number): Promise<{ next: string; messages: StreamMessage[] }> {
  const reply = (await redis.xautoclaim(stream, group, consumer, minIdleMs, start, 'COUNT', count)) as [string, RawEntries];
  return { next: reply[0], messages: entries(reply[1]) };
}
