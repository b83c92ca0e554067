import { createRedis, type Redis } from '@caracal-rotation/bus';
import { retiringDataSchema, stageEventId } from '@caracal-rotation/contracts';
import { getRotation, rotationDrains } from '@caracal-rotation/projection';
import { RotationFixture, singleValuePlan } from '@caracal-rotation/projection/testing';
import { deleteKeys } from '@caracal-rotation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, startTestRecorder, waitForRotation, type RunningRecorder, type TestEnvironment } from '../testing/helpers.js';

// Real Redis and Postgres. Caracal's streams live on a Redis of their own (another
// database of the test server), as CARACAL_REDIS_URL allows; the drain set's
// `caracal.*` pattern must be expanded there, never on the bus's Redis.
const ABANDON_AFTER_MS = 1_500;
let env: TestEnvironment;
let rec: RunningRecorder;
let caracal: Redis;
let ns: string;
const heartbeats = new Set<NodeJS.Timeout>();

function caracalRedisUrl(): string {
  const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  url.pathname = '/11';
  return url.toString();
}

beforeAll(async () => {
  env = await createTestEnvironment('rec-drain');
  ns = `${env.prefix}/`;
  caracal = createRedis(caracalRedisUrl());
  rec = await startTestRecorder(env, 'rec-a', { CARACAL_REDIS_URL: caracalRedisUrl(), DRAIN_ABANDON_AFTER_MS: String(ABANDON_AFTER_MS) });
});

afterAll(async () => {
  for (const t of heartbeats) clearInterval(t);
  await rec?.stop();
  // Caracal's streams of this file, and the recorder's group on the `completed` announcements there.
  await deleteKeys(caracal, env.prefix);
  caracal?.disconnect();
  await env?.cleanup();
});

/** A consumer that keeps reading its own pending entries, as a live one blocked on XREADGROUP does: its idle time stays small. */
function keepAlive(stream: string, group: string, consumer: string): () => void {
  const t = setInterval(() => void caracal.xreadgroup('GROUP', group, consumer, 'COUNT', 1, 'STREAMS', stream, '0').catch(() => undefined), 100);
  heartbeats.add(t);
  return () => {
    clearInterval(t);
    heartbeats.delete(t);
  };
}

async function deliver(stream: string, group: string, consumer: string): Promise<void> {
  await caracal.xreadgroup('GROUP', group, consumer, 'COUNT', 100, 'STREAMS', stream, '>');
}

const retiringOf = async (rotationId: string) => (await env.entries(env.streams.retiring)).filter((e) => e.eventId === stageEventId(rotationId, 'recorder', 'retire'));

/** Waits until the gate has been inspected `passes` more times. */
async function inspectedAgain(rotationId: string, passes = 2): Promise<void> {
  let seen = (await rotationDrains(rec.pool, rotationId))[0]?.checkedAt ?? null;
  for (let i = 0; i < passes; i += 1) {
    await expect.poll(async () => (await rotationDrains(rec.pool, rotationId))[0]?.checkedAt ?? null, { timeout: 10_000, interval: 20 }).not.toBe(seen);
    seen = (await rotationDrains(rec.pool, rotationId))[0]!.checkedAt;
  }
}

describe('drain gate', () => {
  it("holds retirement until entries at or before the mark are acknowledged, on Caracal's Redis", async () => {
    const audit = `${ns}caracal.audit.events`;
    await caracal.xgroup('CREATE', audit, 'audit-ingestor', '0', 'MKSTREAM');
    const oldEntry = (await caracal.xadd(audit, '*', 'payload', 'signed with the old key'))!;
    await deliver(audit, 'audit-ingestor', 'worker-1');
    keepAlive(audit, 'audit-ingestor', 'worker-1');
    // The same name on the bus's Redis, pending for ever: it must not be part of the gate.
    const decoy = `${ns}caracal.decoy`;
    await env.redis.xgroup('CREATE', decoy, 'stuck', '0', 'MKSTREAM');
    await env.redis.xadd(decoy, '*', 'k', 'v');
    await env.redis.xreadgroup('GROUP', 'stuck', 'w', 'COUNT', 1, 'STREAMS', decoy, '>');

    const f = new RotationFixture({ plan: singleValuePlan({ safety_window_ms: 300, drain: [{ stream: `${ns}caracal.*`, group: '*' }] }) });
    await env.publish(f, f.untilRetirement());
    const waiting = await waitForRotation(rec.pool, f.rotationId, (r) => r.state === 'waiting_retirement');
    await expect.poll(() => rotationDrains(rec.pool, f.rotationId), { timeout: 10_000 }).toEqual([expect.objectContaining({ stream: audit, group: 'audit-ingestor', mark: oldEntry })]);

    // Past the window and several inspections later: still waiting, with the evidence.
    await waitForRotation(rec.pool, f.rotationId, () => Date.now() > Date.parse(waiting.retireAfter!));
    await inspectedAgain(f.rotationId);
    expect(await retiringOf(f.rotationId)).toEqual([]);
    expect((await getRotation(rec.pool, f.rotationId))!.state).toBe('waiting_retirement');
    expect((await rotationDrains(rec.pool, f.rotationId))[0]).toMatchObject({ pending: 1, drained: false, abandoned: false });
    expect(await rec.runtime.metrics.registry.getSingleMetricAsString('caracal_rotation_drain_pending')).toContain(
      `caracal_rotation_drain_pending{stream="${audit}",group="audit-ingestor",service="recorder"} 1`,
    );
    await expect.poll(() => rec.runtime.metrics.registry.getSingleMetricAsString('caracal_rotation_retirements_due'), { timeout: 5_000 }).toMatch(/ [1-9]\d*$/m);

    // Entries after the mark cannot carry the old material: pending ones do not hold it.
    await caracal.xadd(audit, '*', 'payload', 'signed with the new key');
    await deliver(audit, 'audit-ingestor', 'worker-1');
    await caracal.xack(audit, 'audit-ingestor', oldEntry);

    await waitForRotation(rec.pool, f.rotationId, (r) => r.state === 'retiring');
    const published = await retiringOf(f.rotationId);
    expect(published).toHaveLength(1);
    const data = retiringDataSchema.parse(published[0]!.data);
    expect(data.drain).toEqual([{ stream: audit, group: 'audit-ingestor', mark: oldEntry, pending: 0, lag: 0 }]);
    expect(data.window_ended_at).toBe(waiting.retireAfter);
    expect((await rotationDrains(rec.pool, f.rotationId))[0]).toMatchObject({ drained: true, abandoned: false });
  });

  it('records a group whose consumers all went silent as abandoned once the bound passed, and retires', async () => {
    const revoke = `${ns}caracal.sessions.revoke`;
    for (const group of ['gateway-revocation:old-pod', 'gateway-revocation:new-pod']) await caracal.xgroup('CREATE', revoke, group, '0', 'MKSTREAM');
    await caracal.xadd(revoke, '*', 'session', 's-1');
    await deliver(revoke, 'gateway-revocation:old-pod', 'old-pod');
    const oldPodAlive = keepAlive(revoke, 'gateway-revocation:old-pod', 'old-pod');
    await deliver(revoke, 'gateway-revocation:new-pod', 'new-pod');
    const [delivered] = await caracal.xrange(revoke, '-', '+');
    await caracal.xack(revoke, 'gateway-revocation:new-pod', delivered![0]);
    keepAlive(revoke, 'gateway-revocation:new-pod', 'new-pod');

    const f = new RotationFixture({ plan: singleValuePlan({ drain: [{ stream: revoke, group: '*' }] }) });
    await env.publish(f, f.untilRetirement());
    await waitForRotation(rec.pool, f.rotationId, (r) => r.state === 'waiting_retirement');
    // While its consumer lives, the old pod's group holds retirement.
    await inspectedAgain(f.rotationId, 3);
    expect(await retiringOf(f.rotationId)).toEqual([]);
    expect((await rotationDrains(rec.pool, f.rotationId)).find((d) => d.group === 'gateway-revocation:old-pod')).toMatchObject({ pending: 1, drained: false, abandoned: false });

    // The pod is replaced: its consumer never reads again.
    oldPodAlive();
    await waitForRotation(rec.pool, f.rotationId, (r) => r.state === 'retiring', 15_000);
    const data = retiringDataSchema.parse((await retiringOf(f.rotationId))[0]!.data);
    expect(data.drain).toEqual([
      { stream: revoke, group: 'gateway-revocation:new-pod', mark: expect.any(String), pending: 0, lag: 0 },
      { stream: revoke, group: 'gateway-revocation:old-pod', mark: expect.any(String), pending: 1, lag: 0, abandoned: true },
    ]);
    const ghost = (await rotationDrains(rec.pool, f.rotationId)).find((d) => d.group === 'gateway-revocation:old-pod')!;
    expect(ghost).toMatchObject({ abandoned: true, drained: false, pending: 1 });
    expect(ghost.idleMs).toBeGreaterThan(ABANDON_AFTER_MS);
  });

  it('counts a group nobody consumes as abandoned, and takes the marks itself when the deploy restarts were never projected', async () => {
    const lifecycle = `${ns}caracal.agents.lifecycle`;
    await caracal.xgroup('CREATE', lifecycle, 'provisioned-but-never-started', '0', 'MKSTREAM');
    await caracal.xadd(lifecycle, '*', 'agent', 'a-1');

    const f = new RotationFixture({ plan: singleValuePlan({ drain: [{ stream: lifecycle, group: '*' }] }) });
    // No rolled(deploy): the marks are taken when the rotation falls due.
    await env.publish(f, f.untilRetirement().filter((e) => e.name !== 'rolled'));
    await waitForRotation(rec.pool, f.rotationId, (r) => r.state === 'retiring');
    expect(await rotationDrains(rec.pool, f.rotationId)).toEqual([
      expect.objectContaining({ stream: lifecycle, group: 'provisioned-but-never-started', pending: 0, lag: 1, drained: false, abandoned: true, idleMs: null }),
    ]);
  });
});
