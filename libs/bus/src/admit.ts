import { EVENT_DATA_SCHEMAS, envelopeSchema, eventType, type EventName, type RotationEvent } from '@caracal-rotation/contracts';
import { signatureMatches, type StreamFields } from './signature.js';
import type { Signer, SignerDirectory, SignerKind } from './signers.js';

/** Limits checked before anything is parsed. */
export interface AdmissionLimits {
  /** Largest `data` field accepted, in bytes. */
  maxDataBytes: number;
  /** Entries older than this (by their stream id) are refused: the de-duplication horizon. */
  maxAgeMs: number;
}

export const DEFAULT_LIMITS: AdmissionLimits = { maxDataBytes: 64 * 1024, maxAgeMs: 7 * 24 * 3600 * 1000 };

/** What a subscription accepts: its event, who may sign it, how its data is validated. */
export interface Admission<T> {
  stream: string;
  event: EventName;
  signers: readonly SignerKind[];
  parse?: (data: unknown) => T;
  limits?: Partial<AdmissionLimits>;
}

/** A signed, decoded event and who signed it. */
export type SignedEvent<T> = RotationEvent<T> & { signer: Signer };

export type AdmissionVerdict<T> =
  | { ok: true; event: SignedEvent<T> }
  /** The kid belongs to no key this service knows (yet): the keyrings may still catch up. */
  | { ok: false; unknownKid: true; kid: string }
  /** Refused for good. `authentic`: the signature verified with a key allowed on this stream, so the entry's rotation id can be trusted. */
  | { ok: false; unknownKid: false; reason: string; detail: string; authentic: boolean };

export const entryTimeMs = (id: string): number => Number(id.split('-')[0]);
const KID = /^[0-9a-f]{16}$/;

const refuse = (reason: string, detail: string, authentic = false) => ({ ok: false as const, unknownKid: false as const, reason, detail, authentic });

/**
 * Everything an entry must pass before a handler sees it, cheapest first:
 * size, age, key id, who signed it, the signature, the envelope, the payload.
 */
export function admit<T>(sub: Admission<T>, signers: SignerDirectory, entry: { id: string; fields: StreamFields; deliveries: number }, now: number): AdmissionVerdict<T> {
  const limits = { ...DEFAULT_LIMITS, ...sub.limits };
  const { fields, id } = entry;
  const data = fields.data;
  if (data !== undefined && Buffer.byteLength(data) > limits.maxDataBytes) return refuse('too_large', `data has ${Buffer.byteLength(data)} bytes; at most ${limits.maxDataBytes} are accepted here`);
  if (now - entryTimeMs(id) > limits.maxAgeMs) return refuse('stale', `entry is older than the de-duplication horizon (${Math.round(limits.maxAgeMs / 3600_000)} h)`);
  const kid = fields.kid ?? '';
  if (!KID.test(kid)) return refuse('invalid_payload', 'kid is missing or malformed');

  const signer = signers.identify(kid);
  if (!signer) return { ok: false, unknownKid: true, kid };
  if (!signatureMatches(sub.stream, fields, signer.key)) return refuse('invalid_signature', `kid ${kid}`);
  if (!sub.signers.includes(signer.kind)) return refuse('unauthorized_signer', `a ${signer.kind} key may not sign ${sub.stream}`);

  try {
    const envelope = envelopeSchema.parse(fields);
    // The stream id is the time of this copy; the signed time is when the event happened. An old
    // event added again (a replay) gets a new id, not a new signature.
    if (now - Date.parse(envelope.occurred_at) > limits.maxAgeMs) return refuse('stale', `event occurred at ${envelope.occurred_at}, before the de-duplication horizon (${Math.round(limits.maxAgeMs / 3600_000)} h)`, true);
    if (envelope.type !== eventType(sub.event)) throw new Error(`type ${envelope.type} does not belong on ${sub.stream}`);
    let json: unknown;
    try {
      json = JSON.parse(envelope.data);
    } catch {
      throw new Error('data is not valid JSON');
    }
    const parse = sub.parse ?? ((d: unknown) => EVENT_DATA_SCHEMAS[sub.event].parse(d) as T);
    return {
      ok: true,
      event: {
        stream: sub.stream,
        entryId: id,
        eventId: envelope.event_id,
        type: envelope.type,
        rotationId: envelope.rotation_id,
        occurredAt: envelope.occurred_at,
        producer: envelope.producer,
        kid: envelope.kid,
        data: parse(json),
        deliveries: entry.deliveries,
        signer,
      },
    };
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return refuse('invalid_payload', detail.slice(0, 2000), true);
  }
}
