import { followRotation } from '@caracal-rotation/caracal-rotate';
import { listRotations } from '@caracal-rotation/projection';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startE2E, type E2E } from '../support/e2e-stack.js';
import { announcementsOf, zoneJwks } from '../support/replica-probes.js';

/**
 * A batch: `--zone '*'` over every zone the replica's API created, each zone's
 * rotation planned, written through the STS, verified and recorded on its own,
 * each announced to Caracal's services on Caracal's Redis.
 */
const ZONES = Number(process.env.E2E_ZONES ?? 1000);
let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E('zones', { sandbox: { zones: ZONES } });
}, 600_000);
afterAll(async () => e2e?.stop(), 60_000);

const activeKids = async (zones: readonly string[]) => new Map([...(await zoneJwks(e2e, zones))].map(([zone, { keys }]) => [zone, keys.map((k) => k.kid)]));

it(`rotates the signing keys of ${ZONES} zones from one request, each recorded on its own`, async () => {
  const zones = e2e.sandbox.zones;
  expect(zones).toHaveLength(ZONES);
  const before = await activeKids(zones);
  const started = Date.now();
  const batch = await e2e.operator.request({ material: 'ZONE_SIGNING_KEY', zone_id: '*', reason: 'rotate every zone' });
  const result = await followRotation(e2e.redis, e2e.operator.streams, batch, () => undefined, { timeoutMs: 600_000, expectRotations: zones.length });
  const elapsed = (Date.now() - started) / 1000;
  console.log(`${zones.length} zone signing keys rotated (deploy + retire) in ${elapsed.toFixed(1)} s (${(zones.length / elapsed).toFixed(0)} rotations/s)`);

  const outcomes = [...result.terminal.entries()].filter(([id]) => id !== batch);
  expect(outcomes).toHaveLength(zones.length);
  expect(outcomes.filter(([, o]) => o !== 'completed')).toEqual([]);

  // The STS signs with each zone's new key and still lists the previous one for the mandates it signed.
  const after = await activeKids(zones);
  const announced = new Map<string, string>();
  for (const [id] of outcomes) {
    const [announcement, ...more] = await announcementsOf(e2e, id);
    expect(more).toEqual([]);
    expect(announcement!.signedWithStreamsKey).toBe(true);
    const { zone_id: zone, new_kid: newKid, previous_kid: previousKid } = announcement!.data;
    expect(previousKid).toBe(before.get(zone!)![0]);
    expect(after.get(zone!)).toEqual([newKid, previousKid]);
    announced.set(zone!, newKid);
  }
  expect(new Set(announced.keys())).toEqual(new Set(zones));

  let rows = await listRotations(e2e.pool, { batchId: batch, limit: ZONES + 10 });
  for (let i = 0; i < 100 && rows.filter((r) => r.zoneId !== null && r.state === 'completed').length < ZONES; i++) {
    await new Promise((r) => setTimeout(r, 200));
    rows = await listRotations(e2e.pool, { batchId: batch, limit: ZONES + 10 });
  }
  const zoneRows = rows.filter((r) => r.zoneId !== null);
  expect(zoneRows).toHaveLength(ZONES);
  expect(zoneRows.filter((r) => r.state !== 'completed' || r.batchId !== batch)).toEqual([]);
}, 660_000);
