import { groupKeysForCommand, isCluster, type RedisClient } from '@caracal-rotation/bus';
import { deadLetterStream, EVENT_NAMES, type EventName, type RotationStreams } from '@caracal-rotation/contracts';
import { isFinal, lifecycleEvent, next, type Position } from '@caracal-rotation/lifecycle';

export interface FollowedEvent {
  name: EventName;
  /** The envelope's event_id (stages derive it deterministically, so a retried stage repeats it). */
  eventId?: string;
  entryId: string;
  rotationId: string;
  occurredAt: string;
  data: Record<string, unknown>;
}


const fieldsOf = (flat: string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
};

type XReadReply = [string, [string, string[]][]][];

/** Idle pause between polls of a cluster's streams. */
const CLUSTER_POLL_MS = 200;

/**
 * New entries after each stream's cursor. One blocking XREAD over every
 * stream on a standalone Redis; on a cluster, where one XREAD may only name
 * streams of one slot, a non-blocking XREAD per slot (in parallel) and a short
 * pause when none had anything.
 */
async function readAfter(redis: RedisClient, cursors: ReadonlyMap<string, string>): Promise<XReadReply> {
  const keys = [...cursors.keys()];
  if (!isCluster(redis)) {
    return ((await redis.xread('COUNT', 500, 'BLOCK', 500, 'STREAMS', ...keys, ...keys.map((k) => cursors.get(k)!))) as XReadReply | null) ?? [];
  }
  const replies = await Promise.all(
    groupKeysForCommand(redis, keys).map(async (group) => ((await redis.xread('COUNT', 500, 'STREAMS', ...group, ...group.map((k) => cursors.get(k)!))) as XReadReply | null) ?? []),
  );
  const reply = replies.flat();
  if (reply.length === 0) await new Promise((r) => setTimeout(r, CLUSTER_POLL_MS));
  return reply;
}

/** Stream id just before a UUIDv7's timestamp, so following starts at the request. */
export function startIdOf(rotationId: string): string {
  const ms = parseInt(rotationId.replace(/-/g, '').slice(0, 12), 16);
  return Number.isFinite(ms) && ms > 0 ? `${ms - 1000}-0` : '0-0';
}

/**
 * Follows one rotation (or every rotation of a batch) across all rotation
 * streams, oldest first, until each reaches a terminal event or `timeoutMs`
 * passes. Reads the streams directly, so it shows progress even when the
 * recorder is behind. Events are shown as seen; signatures were verified by
 * the stages that consumed them.
 */
export async function followRotation(
  redis: RedisClient,
  streams: RotationStreams,
  rotationId: string,
  onEvent: (e: FollowedEvent) => void,
  opts: { timeoutMs: number; expectRotations?: number; stopWhen?: (e: FollowedEvent) => boolean },
): Promise<{ finished: boolean; terminal: Map<string, string>; deadLettered?: string }> {
  const requestDead = deadLetterStream(streams.requested);
  const cursors = new Map([...EVENT_NAMES.map((n) => [streams[n], startIdOf(rotationId)] as const), [requestDead, startIdOf(rotationId)] as const]);
  const names = new Map(EVENT_NAMES.map((n) => [streams[n], n]));
  const terminal = new Map<string, string>();
  const positions = new Map<string, Position>();
  const members = new Set<string>([rotationId]);
  const deadline = Date.now() + opts.timeoutMs;
  let batch = false;
  let expected = 0;
  let deadLettered: string | undefined;

  while (Date.now() < deadline) {
    const reply = await readAfter(redis, cursors);
    const seen: FollowedEvent[] = [];
    for (const [stream, entries] of reply) {
      for (const [id, flat] of entries) {
        cursors.set(stream, id);
        const f = fieldsOf(flat);
        if (stream === requestDead) {
          const original = JSON.parse(f.values ?? '{}') as Record<string, string>;
          if (original.rotation_id === rotationId) deadLettered = `${f.error}: ${f.detail ?? ''}`.trim();
          continue;
        }
        let data: Record<string, unknown> = {};
        try {
          data = JSON.parse(f.data ?? '{}') as Record<string, unknown>;
        } catch {
          continue;
        }
        const mine = f.rotation_id === rotationId || data.batch_id === rotationId || members.has(f.rotation_id ?? '');
        if (!mine) continue;
        if (data.batch_id === rotationId) members.add(f.rotation_id!);
        if (f.rotation_id === rotationId && stream === streams.planned && data.batch) {
          batch = true;
          expected = Number((data.batch as { zones: number }).zones);
        }
        seen.push({ name: names.get(stream)!, eventId: f.event_id, entryId: id, rotationId: f.rotation_id!, occurredAt: f.occurred_at ?? '', data });
      }
    }
    seen.sort((a, b) => a.occurredAt.localeCompare(b.occurredAt));
    let stop = false;
    for (const e of seen) {
      onEvent(e);
      // The lifecycle says when a rotation has ended; a batch's own `planned` ends nothing but the batch's planning.
      const to = next(positions.get(e.rotationId), lifecycleEvent(e.name, e.data), undefined);
      if (to.advanced) positions.set(e.rotationId, to.position);
      if (to.advanced && isFinal(to.position) && !(e.name === 'planned' && e.data.batch)) terminal.set(e.rotationId, to.position.state);
      if (opts.stopWhen?.(e)) stop = true;
    }
    // The caller's own end (a dry run ends at `planned`), after the whole read so a batch's siblings are shown too.
    if (stop) return { finished: true, terminal };
    // A batch's own planned comes after every child's planned (or rejection), and says how many were planned.
    const wanted = opts.expectRotations ?? (batch ? expected : 1);
    const done = batch ? [...members].filter((m) => m !== rotationId && terminal.get(m) !== 'rejected' && terminal.has(m)).length >= wanted : terminal.has(rotationId);
    if (done || terminal.get(rotationId) === 'rejected') return { finished: true, terminal };
    if (deadLettered) return { finished: true, terminal, deadLettered };
  }
  return { finished: false, terminal };
}

/**
 * The first event on `streams` after `since` that `match` accepts, or
 * undefined after `timeoutMs`. Streams are read directly: the answer shows
 * even when the recorder is behind.
 */
export async function awaitEvents(
  redis: RedisClient,
  streams: readonly string[],
  since: string,
  match: (e: FollowedEvent & { eventId: string }) => boolean,
  timeoutMs: number,
): Promise<(FollowedEvent & { eventId: string }) | undefined> {
  const names = new Map(EVENT_NAMES.map((n) => [n, n]));
  const cursors = new Map(streams.map((s) => [s, since]));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const [stream, entries] of await readAfter(redis, cursors)) {
      for (const [id, flat] of entries) {
        cursors.set(stream, id);
        const f = fieldsOf(flat);
        let data: Record<string, unknown> = {};
        try {
          data = JSON.parse(f.data ?? '{}') as Record<string, unknown>;
        } catch {
          continue;
        }
        const name = names.get(stream.slice(stream.lastIndexOf('.') + 1) as EventName);
        if (!name || !f.event_id) continue;
        const event = { name, eventId: f.event_id, entryId: id, rotationId: f.rotation_id ?? '', occurredAt: f.occurred_at ?? '', data };
        if (match(event)) return event;
      }
    }
  }
  return undefined;
}
