import { deadLetterStream, EVENT_NAMES, type EventName } from '@caracal-rotation/contracts';
import { readStream, type StreamEntry } from '@caracal-rotation/testing';
import type { E2E } from './e2e-stack.js';

export interface RotationEvent extends StreamEntry {
  name: EventName;
}

/** Every event of a rotation on the stack's rotation streams, stream by stream in pipeline order, each oldest first. */
export async function eventsOf(e2e: E2E, rotationId: string): Promise<RotationEvent[]> {
  const out: RotationEvent[] = [];
  for (const name of EVENT_NAMES) {
    for (const entry of await readStream(e2e.redis, e2e.operator.streams[name])) {
      if (entry.fields.rotation_id === rotationId) out.push({ name, ...entry });
    }
  }
  return out;
}

/** The events of one kind of a rotation, oldest first. */
export async function eventsNamed(e2e: E2E, rotationId: string, name: EventName): Promise<StreamEntry[]> {
  return (await readStream(e2e.redis, e2e.operator.streams[name])).filter((e) => e.fields.rotation_id === rotationId);
}

export interface DeadLetter {
  id: string;
  error: string;
  group: string;
  detail: string;
  /** The dead-lettered entry's fields. */
  original: Record<string, string>;
}

/** The dead letters of one rotation stream, with the fields of the entries they stand for. */
export async function deadLettersOf(e2e: E2E, name: EventName): Promise<DeadLetter[]> {
  return (await readStream(e2e.redis, deadLetterStream(e2e.operator.streams[name]))).map((d) => ({
    id: d.id,
    error: d.fields.error ?? '',
    group: d.fields.group ?? '',
    detail: d.fields.detail ?? '',
    original: JSON.parse(d.fields.values ?? '{}') as Record<string, string>,
  }));
}
