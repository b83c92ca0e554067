import { groupKeysForCommand, isCluster, type RedisClient } from '@caracal-rotation/bus';
import { deadLetterStream, EVENT_NAMES, type EventName, type RotationStreams } from '@caracal-rotation/contracts';

export interface FollowedEvent {
  name: EventName;
  /** The envelope's event_id (stages derive it deterministically, so a retried stage repeats it). */
  eventId?: string;
  entryId: string;
  rotationId: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

const TERMINAL: ReadonlySet<EventName> = new Set(['completed', 'failed', 'rejected']);

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
): Promise<{ finished: boolean; terminal: Map<string, EventName>; deadLettered?: string }> {
  const requestDead = deadLetterStream(streams.requested);
  const cursors = new Map([...EVENT_NAMES.map((n) => [streams[n], startIdOf(rotationId)] as const), [requestDead, startIdOf(rotationId)] as const]);
  const names = new Map(EVENT_NAMES.map((n) => [streams[n], n]));
  const terminal = new Map<string, EventName>();
  const members = new Set<string>([rotationId]);
  const deadline = Date.now() + opts.timeoutMs;
  let batch = false;
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
        if (data.batch_id === rotationId) {
          batch = true;
          members.add(f.rotation_id!);
        }
        seen.push({ name: names.get(stream)!, eventId: f.event_id, entryId: id, rotationId: f.rotation_id!, occurredAt: f.occurred_at ?? '', data });
      }
    }
    seen.sort((a, b) => a.occurredAt.localeCompare(b.occurredAt));
    let stop = false;
    for (const e of seen) {
      onEvent(e);
      if (TERMINAL.has(e.name)) terminal.set(e.rotationId, e.name);
      if (opts.stopWhen?.(e)) stop = true;
    }
    // The caller's own end (a dry run ends at `planned`), after the whole read so a batch's siblings are shown too.
    if (stop) return { finished: true, terminal };
    const wanted = opts.expectRotations ?? (batch ? members.size - 1 : 1);
    const done = batch ? [...members].filter((m) => m !== rotationId && terminal.has(m)).length >= wanted : terminal.has(rotationId);
    if (done || terminal.get(rotationId) === 'rejected') return { finished: true, terminal };
    if (deadLettered) return { finished: true, terminal, deadLettered };
  }
  return { finished: false, terminal };
}
