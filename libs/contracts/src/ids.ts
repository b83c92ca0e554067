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
