import type { DeadLetterNotice } from '@caracal-rotation/bus';
import { newRotationId, rotationStreams } from '@caracal-rotation/contracts';
import { describe, expect, it } from 'vitest';
import { deadLetterEndsRotation } from './dead-letters.js';

const streams = rotationStreams('t-dead-letters');
const notice = (fields: Record<string, string>, stream = streams.requested): DeadLetterNotice => ({
  stream,
  entryId: '1-0',
  deadLetterId: '2-0',
  reason: 'invalid_payload',
  detail: 'data is not valid JSON',
  authentic: true,
  fields,
});

describe('deadLetterEndsRotation', () => {
  const ends = deadLetterEndsRotation('planner', streams);

  it('ends the rotation of an authentic stage input with a failed naming the dead letter', () => {
    const rotationId = newRotationId();
    const [failed] = ends(notice({ rotation_id: rotationId, data: '{"material":"AUDIT_HMAC_KEY"' }));
    expect(failed).toMatchObject({
      stream: streams.failed,
      name: 'failed',
      rotationId,
      data: { stage: 'planner', rolled_back: false, dead_letter: { stream: `${streams.requested}.dead`, entry_id: '2-0', reason: 'invalid_payload' } },
    });
  });

  it('publishes nothing for an entry whose rotation_id is not a rotation id: there is no rotation to end', () => {
    expect(ends(notice({ rotation_id: "1' OR '1'='1", data: '{}' }))).toEqual([]);
    expect(ends(notice({ data: '{}' }))).toEqual([]);
  });

  it('publishes nothing for a stream that drives no rotation forward', () => {
    expect(ends(notice({ rotation_id: newRotationId(), data: '{}' }, streams.failed))).toEqual([]);
  });
});
