import { describe, expect, it } from 'vitest';
import { snakeKeys } from './output.js';

describe('the JSON casing', () => {
  it('turns camelCase keys into snake_case at every depth and leaves values and other keys alone', () => {
    expect(
      snakeKeys({
        rotationId: 'r1',
        exit_code: 0,
        members: [{ zoneId: 'zoneA', newKid: null, state: 'waiting_retirement' }],
        byMaterial: { AUDIT_HMAC_KEY: { currentKid: 'k' } },
        at: new Date(0),
      }),
    ).toEqual({
      rotation_id: 'r1',
      exit_code: 0,
      members: [{ zone_id: 'zoneA', new_kid: null, state: 'waiting_retirement' }],
      by_material: { AUDIT_HMAC_KEY: { current_kid: 'k' } },
      at: new Date(0),
    });
  });
});
