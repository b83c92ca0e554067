import { Keyring, type RedisClient, type StreamFields } from '@caracal-rotation/bus';
import { eventType, newRotationId, nowRfc3339, type EventName } from '@caracal-rotation/contracts';

/**
 * Entries built by hand, as an attacker or a confused client with a plain
 * Redis connection would write them: an envelope, signed (or not) with any
 * key, appended with XADD. The stages must judge them by who signed them.
 */

export interface EnvelopeParts {
  name: EventName;
  rotationId?: string;
  eventId?: string;
  producer?: string;
  /** The `data` field as sent: JSON text, or anything else a client might put there. */
  data: string;
}

export function envelope(parts: EnvelopeParts): StreamFields {
  return {
    event_id: parts.eventId ?? newRotationId(),
    type: eventType(parts.name),
    rotation_id: parts.rotationId ?? newRotationId(),
    occurred_at: nowRfc3339(),
    producer: parts.producer ?? 'mallory/x',
    data: parts.data,
  };
}

/** Signs `fields` for `stream` as Caracal's streamsig does, with the key `keyHex`; `kid` claims another key id when given. */
export function signWith(keyHex: string, stream: string, fields: StreamFields, kid?: string): StreamFields {
  const signed = Keyring.fromHex(keyHex).sign(stream, fields);
  if (kid === undefined) return signed;
  // Claiming another key's id: the signature stays the real key's.
  return { ...signed, kid };
}

/** Appends the fields as they are; answers the entry id. */
export async function append(redis: RedisClient, stream: string, fields: StreamFields): Promise<string> {
  const id = await redis.xadd(stream, '*', ...Object.entries(fields).flat());
  if (!id) throw new Error(`XADD to ${stream} returned no id`);
  return id;
}

/** Whether `group` still holds the entry pending (delivered, neither handled nor dead-lettered). */
export async function isPending(redis: RedisClient, stream: string, group: string, entryId: string): Promise<boolean> {
  const rows = (await redis.xpending(stream, group, entryId, entryId, 1)) as unknown[];
  return rows.length === 1;
}
