import { followRotation } from '@caracal-rotation/caracal-rotate';
import { groupHasProcessed, publishRevocationProbe } from '@caracal-rotation/caracal-client';
import { caracalStreams, EVENT_NAMES } from '@caracal-rotation/contracts';
import { readStream } from '@caracal-rotation/testing';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startE2E, type E2E } from '../support/e2e-stack.js';
import { caracalSecret } from '../support/replica-probes.js';

/**
 * STREAMS_HMAC_KEY rotates while revocations flow on Caracal's Redis, signed
 * with the key in force, as Caracal's producers sign them until they restart.
 * Caracal's consumers drop (and acknowledge) a message whose signature fails,
 * so a message still pending when its consumer restarts with the new key is
 * lost: the roller waits until every consumer group has handled what was
 * signed with the old key before it restarts anything.
 */
let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E('streamskey');
}, 120_000);
afterAll(async () => e2e?.stop(), 60_000);

const CARACAL = caracalStreams('');

/** Publishes revocations signed with `key` every `everyMs` until stopped. */
function startRevocationFlow(key: string, everyMs: number) {
  const sent: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      sent.push((await publishRevocationProbe(e2e.caracalRedis, CARACAL, key)).entryId);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    sent,
    async stop() {
      running = false;
      await loop;
    },
  };
}

it('rotates STREAMS_HMAC_KEY under a steady flow: every old-key message is handled before the switch, nothing is dead-lettered', async () => {
  const oldKey = await caracalSecret(e2e, 'streamsHmacKey');
  const flow = startRevocationFlow(oldKey, 20);
  await vi.waitFor(() => expect(flow.sent.length).toBeGreaterThan(10), { timeout: 10_000 });

  // Other rotation events in flight on the same bus: a dry run and a queued request.
  const rotation = await e2e.operator.request({ material: 'STREAMS_HMAC_KEY', reason: 'under load' });
  const dryRun = await e2e.operator.request({ material: 'AUDIT_HMAC_KEY', reason: 'plan only', dry_run: true });
  const queued = await e2e.operator.request({ material: 'CARACAL_COORDINATOR_TOKEN', reason: 'behind the streams key' });

  // The producers keep signing with the old key until the new one is written, as Caracal's do until they restart.
  await vi.waitFor(
    async () => expect((await readStream(e2e.redis, e2e.operator.streams.written)).some((w) => w.fields.rotation_id === rotation)).toBe(true),
    { timeout: 60_000, interval: 50 },
  );
  await flow.stop();
  const lastSent = flow.sent[flow.sent.length - 1]!;

  const follow = (id: string) => followRotation(e2e.redis, e2e.operator.streams, id, () => undefined, { timeoutMs: 150_000 });
  expect((await follow(rotation)).terminal.get(rotation)).toBe('completed');
  expect((await follow(queued)).terminal.get(queued)).toBe('completed');
  expect(flow.sent.length).toBeGreaterThan(10);

  // The roller waited for every group reading Caracal's streams before restarting its holders ...
  const deployRoll = (await readStream(e2e.redis, e2e.operator.streams.rolled)).find((r) => r.fields.rotation_id === rotation && r.data.phase === 'deploy')!;
  expect(deployRoll.data.switch_drain).toMatchObject({ drained: true, undrained: [] });
  expect((deployRoll.data.switch_drain as { pairs: number }).pairs).toBeGreaterThan(0);
  // ... so the shared STS group handled the last message signed with the old key, under the old key.
  expect(await groupHasProcessed(e2e.caracalRedis, CARACAL.sessionsRevoke, 'sts-revocation', lastSent)).toBe(true);

  // Not one rotation event was dead-lettered, including the dry run's.
  for (const name of EVENT_NAMES) expect(await readStream(e2e.redis, `${e2e.operator.streams[name]}.dead`), name).toEqual([]);
  expect((await readStream(e2e.redis, e2e.operator.streams.planned)).some((p) => p.fields.rotation_id === dryRun)).toBe(true);
}, 240_000);
