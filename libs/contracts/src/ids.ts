import { createHash } from 'node:crypto';
import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';

/** Namespace for deterministic event ids; fixed forever, changing it breaks de-duplication. */
const EVENT_ID_NAMESPACE = '5d3c1f0e-6b7a-4c2d-9e8f-0a1b2c3d4e5f';

/** A fresh UUIDv7, used for rotation ids and operator request ids. */
export const newRotationId = (): string => uuidv7();

/**
 * The id of a stage's output event: UUIDv5 over (rotation id, stage, phase),
 * so a retried stage re-emits the same id and consumers can de-duplicate.
 */
export function stageEventId(rotationId: string, stage: string, phase: string): string {
  return uuidv5(`${rotationId}/${stage}/${phase}`, EVENT_ID_NAMESPACE);
}

/**
 * The rotation id of one zone of a batch: a UUIDv7 that keeps the batch's
 * timestamp and takes its random bits from a hash of (batch, zone), so a
 * retried fan-out derives the same ids.
 */
export function childRotationId(batchId: string, member: string): string {
  const hex = batchId.replace(/-/g, '');
  const hash = createHash('sha256').update(`${batchId}/${member}`).digest('hex');
  const variant = ((parseInt(hash[3]!, 16) & 0x3) | 0x8).toString(16);
  const raw = `${hex.slice(0, 12)}7${hash.slice(0, 3)}${variant}${hash.slice(4, 19)}`;
  return `${raw.slice(0, 8)}-${raw.slice(8, 12)}-${raw.slice(12, 16)}-${raw.slice(16, 20)}-${raw.slice(20, 32)}`;
}
