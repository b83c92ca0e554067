import { subscribe, type SignerKind, type Subscription } from '@caracal-rotation/bus';
import { EVENT_NAMES, type EventName, type RotationStreams } from '@caracal-rotation/contracts';
import type { Projector } from './projector.js';

/** Who may sign each rotation stream (docs/architecture.md §3, "Who may sign what"). */
export const SIGNERS: Readonly<Record<EventName, readonly SignerKind[]>> = {
  // Operators, and the recorder's own rotation policies (the bus key).
  requested: ['operator', 'bus'],
  intent: ['operator'],
  // An announcement for Caracal's services, signed with Caracal's STREAMS_HMAC_KEY.
  completed: ['caracal'],
  queued: ['bus'],
  planned: ['bus'],
  rejected: ['bus'],
  rollback: ['bus'],
  abandoned: ['bus'],
  written: ['bus'],
  rolled: ['bus'],
  verified: ['bus'],
  retiring: ['bus'],
  failed: ['bus'],
};

/** Requests are recorded even when invalid (the planner rejects them): any JSON object will do. */
function anyJsonObject(data: unknown): Record<string, unknown> {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error('data is not a JSON object');
  return data as Record<string, unknown>;
}

/**
 * The recorder's subscription to every rotation stream. Each admitted entry
 * is projected as a batch of one; a consumer that hands over batches calls
 * `projector.project` with all of them instead (one transaction per batch).
 */
export function projectionSubscriptions(streams: RotationStreams, projector: Projector): Subscription<unknown>[] {
  return EVENT_NAMES.map((name) =>
    subscribe({
      stream: streams[name],
      event: name,
      signers: SIGNERS[name],
      ...(name === 'requested' ? { parse: anyJsonObject, limits: { maxDataBytes: 4 * 1024 * 1024 } } : {}),
      handle: async (event) => {
        await projector.project([{ name, event }]);
      },
    }),
  );
}
