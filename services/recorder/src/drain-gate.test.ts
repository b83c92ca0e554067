import { retiringDataSchema, stageEventId } from '@caracal-rotation/contracts';
import { rotationDrains } from '@caracal-rotation/projection';
import { RotationFixture, samplePlan } from '@caracal-rotation/projection/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, sleep, startTestRecorder, waitForRotation, type RunningRecorder, type TestEnvironment } from '../testing/helpers.js';

// Real Redis and Postgres, two recorder replicas in one group.
let env: TestEnvironment;
const replicas: RunningRecorder[] = [];
let audit: string;
const GROUP = 'audit-ingest';

beforeAll(async () => {
  env = await createTestEnvironment('rec-drain');
  replicas.push(await startTestRecorder(env, 'rec-a'), await startTestRecorder(env, 'rec-b'));
  audit = `ext-${env.prefix}.audit.events`;
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await env?.cleanup();
});

describe('drain gate', () => {
  it('holds retirement until entries at or before the mark are acknowledged, then retires exactly once', async () => {
    // An entry delivered to a group of a drained stream and not yet acknowledged.
    await env.redis.xgroup('CREATE', audit, GROUP, '0', 'MKSTREAM');
    const oldEntry = (await env.redis.xadd(audit, '*', 'payload', 'signed with the old key'))!;
    await env.redis.xreadgroup('GROUP', GROUP, 'worker-1', 'COUNT', 10, 'STREAMS', audit, '>');

    const f = new RotationFixture({ plan: samplePlan({ safety_window_ms: 300, drain: [{ stream: audit, group: '*' }] }) });
    await env.publish(f.untilRetirement());
    const pool = replicas[0]!.pool;
    const waiting = await waitForRotation(pool, f.rotationId, (r) => r.state === 'waiting_retirement');
    expect(Date.parse(waiting.retireAfter!)).toBeGreaterThan(Date.now() - 5_000);

    // Well past the window and many ticks later: still waiting, with the evidence.
    await sleep(1_200);
    expect(await env.entries(env.streams.retiring)).toEqual([]);
    expect((await waitForRotation(pool, f.rotationId, () => true)).state).toBe('waiting_retirement');
    const gate = (await rotationDrains(pool, f.rotationId)).find((d) => d.stream === audit)!;
    expect(gate).toMatchObject({ group: GROUP, mark: oldEntry, pending: 1, drained: false });
    expect(gate.checkedAt).not.toBeNull();

    // Entries after the mark cannot carry old material: pending ones do not block.
    await env.redis.xadd(audit, '*', 'payload', 'signed with the new key');
    await env.redis.xreadgroup('GROUP', GROUP, 'worker-1', 'COUNT', 10, 'STREAMS', audit, '>');
    await env.redis.xack(audit, GROUP, oldEntry);

    await waitForRotation(pool, f.rotationId, (r) => r.state === 'retiring');
    await sleep(800);
    const retiring = (await env.entries(env.streams.retiring)).filter((e) => e.eventId === stageEventId(f.rotationId, 'recorder', 'retire'));
    expect(retiring).toHaveLength(1);
    const data = retiringDataSchema.parse(retiring[0]!.data);
    expect(data.drain.find((d) => d.stream === audit)).toEqual({ stream: audit, group: GROUP, mark: oldEntry, pending: 0, lag: 0 });
    expect(Date.parse(data.window_ended_at)).toBe(Date.parse(waiting.retireAfter!));
    expect((await rotationDrains(pool, f.rotationId)).every((d) => d.drained)).toBe(true);
  });
});
