import type { DeadLetterNotice, OutgoingEvent } from '@caracal-rotation/bus';
import { envelopeSchema, stageEventId, type EventName, type FailedData, type RotationStreams } from '@caracal-rotation/contracts';

/** Streams whose entries drive a rotation forward: losing one would leave the rotation waiting for ever. */
const STAGE_INPUTS: readonly EventName[] = ['requested', 'planned', 'rollback', 'written', 'rolled', 'verified', 'retiring'];

/**
 * Ends the rotation of an authentic stage input that went to the dead letter
 * stream: a `failed` naming the dead letter, which releases the class lock so
 * the queue moves on. Nothing waits silently.
 */
export function deadLetterEndsRotation(service: string, streams: RotationStreams) {
  const inputs = new Map(STAGE_INPUTS.map((name) => [streams[name], name]));
  return (notice: DeadLetterNotice): OutgoingEvent[] => {
    const name = inputs.get(notice.stream);
    // An entry whose rotation id is not one names no rotation to end; a `failed` carrying it would be refused by every consumer.
    const id = envelopeSchema.shape.rotation_id.safeParse(notice.fields.rotation_id);
    if (!name || !id.success) return [];
    const rotationId = id.data;
    let subject: Partial<FailedData> = {};
    try {
      const data = JSON.parse(notice.fields.data ?? '{}') as Partial<FailedData> & { phase?: FailedData['phase'] };
      subject = { material: data.material, zone_id: data.zone_id, role: data.role, batch_id: data.batch_id, phase: data.phase };
    } catch {
      // The payload was the problem: the dead letter alone identifies the rotation.
    }
    const data: FailedData = {
      ...subject,
      stage: service,
      error: `${service} could not process ${name} (${notice.reason}): ${notice.detail}`.slice(0, 4000),
      rolled_back: false,
      dead_letter: { stream: `${notice.stream}.dead`, entry_id: notice.deadLetterId, reason: notice.reason },
    };
    return [{ stream: streams.failed, name: 'failed', eventId: stageEventId(rotationId, service, `dead-letter/${notice.entryId}`), rotationId, data }];
  };
}
