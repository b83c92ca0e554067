import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { FollowedEvent } from './follow.js';
import { createOutput } from './output.js';
import { BATCH_DETAIL_LIMIT, Timeline } from './timeline.js';

function capture() {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (d: Buffer) => (text += d.toString()));
  return { out: createOutput(false, stdout, new PassThrough()), lines: () => text.split('\n').filter(Boolean) };
}

let entry = 0;
const at = (ms: number) => new Date(Date.UTC(2026, 11, 1, 12, 0, 0, ms)).toISOString();
const event = (name: FollowedEvent['name'], rotationId: string, ms: number, data: Record<string, unknown>): FollowedEvent => ({
  name,
  rotationId,
  eventId: `${name}-${rotationId}-${String(data.phase ?? '')}`,
  entryId: `${ms}-${entry++}`,
  occurredAt: at(ms),
  data,
});

/** The events of one zone of the batch, deploy to completion, or a failure after the deploy write. */
function zone(id: string, zoneId: string, fails: boolean): FollowedEvent[] {
  const d = { material: 'ZONE_SIGNING_KEY', zone_id: zoneId, batch_id: 'batch' };
  const deployed = [event('planned', id, 10, { ...d, actor: 'alice' }), event('written', id, 20, { ...d, phase: 'deploy', changed: true, new: { kid: 'k', location: 'sts' } })];
  if (fails) return [...deployed, event('failed', id, 30, { ...d, stage: 'verifier', phase: 'deploy', error: 'the new key is not served', rolled_back: false })];
  return [
    ...deployed,
    event('verified', id, 30, { ...d, phase: 'deploy', ok: true, checks: [] }),
    event('retiring', id, 40, { ...d, drain: [], window_ended_at: at(40) }),
    event('written', id, 50, { ...d, phase: 'retire', changed: false }),
    event('verified', id, 60, { ...d, phase: 'retire', ok: true, checks: [] }),
  ];
}

describe('the timeline of a batch', () => {
  it('shows a small batch event by event', () => {
    const { out, lines } = capture();
    const timeline = new Timeline(out, Date.parse(at(0)), 'batch');
    timeline.add(event('planned', 'batch', 5, { material: 'ZONE_SIGNING_KEY', actor: 'alice', batch: { zones: 2 } }));
    for (const e of [...zone('z1', 'zone-1', false), ...zone('z2', 'zone-2', false)]) timeline.add(e);
    expect(lines()).toHaveLength(1 + 2 * 6);
  });

  it('sums up a large batch in progress lines and shows each failing zone in full', () => {
    const { out, lines } = capture();
    // A clock that stands still: progress shows once at the start and once when the last zone ends.
    const timeline = new Timeline(out, Date.parse(at(0)), 'batch', () => 5_000);
    const zones = BATCH_DETAIL_LIMIT + 2;
    timeline.add(event('planned', 'batch', 5, { material: 'ZONE_SIGNING_KEY', actor: 'alice', batch: { zones } }));
    for (let i = 0; i < zones; i++) for (const e of zone(`z${i}`, `zone-${i}`, i === 3)) timeline.add(e);
    const shown = lines();
    expect(shown[0]).toMatch(/planned a batch of 12 zone rotations for alice$/);
    expect(shown.filter((l) => l.includes('failed in verifier'))).toEqual([expect.stringMatching(/zone zone-3: failed in verifier \(deploy\): the new key is not served$/)]);
    const progress = shown.filter((l) => / batch /.test(l) && /zones ended/.test(l));
    expect(progress).toEqual([expect.stringMatching(/0\/12 zones ended; in flight: 1 planned$/), expect.stringMatching(/12\/12 zones ended \(11 completed, 1 failed\)$/)]);
    expect(shown).toHaveLength(4);
    expect(timeline.outcome('batch', { finished: true })).toBe('failed');
  });
});
