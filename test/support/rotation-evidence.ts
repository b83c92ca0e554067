import type { RedisClient } from '@caracal-rotation/bus';
import { deadLetterStream, EVENT_NAMES, type EventName, type RotationStreams } from '@caracal-rotation/contracts';
import { readStream, type StreamEntry } from '@caracal-rotation/testing';

/**
 * What the bus holds about rotations, read straight from the streams (the
 * recorder may lag behind): every entry of a rotation, the dead letters of
 * an entry, and waiting until a probe answers.
 */

export interface RotationEntry extends StreamEntry {
  name: EventName;
  stream: string;
}

/** Every entry of the rotation on every rotation stream of the bus (`completed` lives on Caracal's Redis: see completedEntries). */
export async function entriesOf(redis: RedisClient, streams: RotationStreams, rotationId: string): Promise<RotationEntry[]> {
  const out: RotationEntry[] = [];
  for (const name of EVENT_NAMES) {
    if (name === 'completed') continue;
    for (const e of await readStream(redis, streams[name])) if (e.fields.rotation_id === rotationId) out.push({ ...e, name, stream: streams[name] });
  }
  return out.sort((a, b) => compareEntryIds(a.id, b.id));
}

/** The `completed` announcements of a rotation, on Caracal's Redis where the verifier publishes them. */
export async function completedEntries(caracalRedis: RedisClient, streams: RotationStreams, rotationId: string): Promise<StreamEntry[]> {
  return (await readStream(caracalRedis, streams.completed)).filter((e) => e.fields.rotation_id === rotationId);
}

export interface DeadLetter {
  group: string;
  error: string;
  detail: string;
}

/** The dead letters written for one entry of `stream`, one per consumer group that refused it. */
export async function deadLettersOf(redis: RedisClient, stream: string, entryId: string): Promise<DeadLetter[]> {
  return (await readStream(redis, deadLetterStream(stream)))
    .filter((d) => d.fields.original_id === entryId)
    .map((d) => ({ group: d.fields.group ?? '', error: d.fields.error ?? '', detail: d.fields.detail ?? '' }));
}

/** Polls `probe` until it answers something other than undefined; throws, naming `what`, after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The consumer groups of a stream, by name. */
export async function groupsOf(redis: RedisClient, stream: string): Promise<string[]> {
  const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  return groups.map((g) => String(g[g.indexOf('name') + 1]));
}

/** Orders stream entry ids (`<ms>-<seq>`); entries of different streams on one Redis compare by when they were added. */
export function compareEntryIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}
const idAtOrAfter = (a: string, b: string): boolean => compareEntryIds(a, b) >= 0;

/**
 * Whether every consumer group of the stream is done with the entry: it was
 * delivered (the group's last-delivered id is at or past it) and is no
 * longer pending (handled, refused or dead-lettered, and acknowledged).
 */
export async function doneByEveryGroup(redis: RedisClient, stream: string, entryId: string): Promise<boolean> {
  const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  for (const g of groups) {
    const name = String(g[g.indexOf('name') + 1]);
    const lastDelivered = String(g[g.indexOf('last-delivered-id') + 1]);
    if (!idAtOrAfter(lastDelivered, entryId)) return false;
    const pending = (await redis.xpending(stream, name, entryId, entryId, 1)) as unknown[];
    if (pending.length > 0) return false;
  }
  return true;
}
