import { z } from 'zod';

export const RFC3339_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The flat string map every message carries (docs/architecture.md, the envelope). */
export const envelopeSchema = z.object({
  event_id: z.uuid(),
  type: z.string().regex(/^[a-z]+\.[a-z_]+$/),
  rotation_id: z.uuid(),
  occurred_at: z.string().regex(RFC3339_MS_UTC, 'RFC 3339 UTC with milliseconds'),
  producer: z.string().min(1).max(200),
  kid: z.string().regex(/^[0-9a-f]{16}$/),
  data: z.string(),
  _sig: z.string().regex(/^[0-9a-f]{64}$/),
});
export type Envelope = z.infer<typeof envelopeSchema>;

/** An envelope whose `data` has been parsed and validated for its type. */
export interface RotationEvent<T> {
  readonly stream: string;
  readonly entryId: string;
  readonly eventId: string;
  readonly type: string;
  readonly rotationId: string;
  readonly occurredAt: string;
  readonly producer: string;
  readonly kid: string;
  readonly data: T;
  /** How many times the group has delivered this entry, this delivery included. */
  readonly deliveries: number;
}

export const nowRfc3339 = (date: Date = new Date()): string => date.toISOString();
