import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Keyring, Publisher, StaticKeyringSource } from '@caracal-rotation/bus';
import { followRotation } from '@caracal-rotation/caracal-rotate';
import { newRotationId, stateKeys, type RequestedData } from '@caracal-rotation/contracts';
import { getRotation } from '@caracal-rotation/projection';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startE2E, type E2E } from '../support/e2e-stack.js';
import { caracalSecret, coordinatorTokenVerdict } from '../support/replica-probes.js';
import { deadLettersOf, eventsNamed, eventsOf } from '../support/rotation-events.js';
import { snapshotFiles } from '../support/snapshots.js';

/**
 * The pipeline's decisions as an operator meets them: requests it must not
 * act on, the one-class-at-a-time lock and its queue, and the operator's
 * intents (rollback inside the window, abandon). The coordinator token gets a
 * ten-minute window here, so a rotation of it waits in its rollback window,
 * holding the lock, until the test ends it.
 */
let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E('pipeline', { windows: { CARACAL_COORDINATOR_TOKEN: 600_000 } });
}, 120_000);
afterAll(async () => e2e?.stop(), 60_000);

const request = (data: Record<string, unknown>) => e2e.operator.request({ reason: 'pipeline test', ...data } as RequestedData);
const follow = async (id: string) => (await followRotation(e2e.redis, e2e.operator.streams, id, () => undefined, { timeoutMs: 60_000 })).terminal.get(id);
const state = async (id: string) => (await getRotation(e2e.pool, id))?.state;
const waitForState = (id: string, expected: string) => vi.waitFor(async () => expect(await state(id)).toBe(expected), { timeout: 60_000, interval: 100 });
const secrets = () => snapshotFiles(e2e.stack.secretsDir, e2e.stack.rotationDir);
const intend = (id: string, action: 'rollback' | 'abandon', reason: string) => e2e.operator.intend(id, { action, reason });

describe('requests the pipeline must not act on change nothing and are visible', () => {
  it('dead-letters a request whose signature does not hold, and never plans or records it', async () => {
    const before = await secrets();
    // Signed with the operator's own key, then the material changed: the signature no longer matches.
    const operatorKey = (await readFile(join(e2e.stack.rotationDir, 'operatorKey'), 'utf8')).trim();
    const signer = new Publisher(e2e.redis, new StaticKeyringSource(Keyring.fromHex(operatorKey)), 'caracal-rotate/tamperer');
    const id = newRotationId();
    const stream = e2e.operator.streams.requested;
    const fields = signer.envelope({ stream, name: 'requested', eventId: newRotationId(), rotationId: id, data: { material: 'AUDIT_HMAC_KEY', reason: 'routine' } });
    fields.data = JSON.stringify({ material: 'CARACAL_ADMIN_TOKEN', reason: 'routine', emergency: true });
    await e2e.redis.xadd(stream, '*', ...Object.entries(fields).flat());

    // Both groups reading requests (the planner, and the recorder for the projection) refuse it.
    const dead = await vi.waitFor(
      async () => {
        const mine = (await deadLettersOf(e2e, 'requested')).filter((d) => d.original.rotation_id === id);
        expect(new Set(mine.map((d) => d.group))).toEqual(new Set(['planner', 'recorder']));
        return mine;
      },
      { timeout: 30_000, interval: 100 },
    );
    expect(new Set(dead.map((d) => d.error))).toEqual(new Set(['invalid_signature']));
    // Nothing answered it: the entry itself is all there is of this rotation.
    expect((await eventsOf(e2e, id)).map((e) => e.name)).toEqual(['requested']);
    expect(await e2e.redis.exists(stateKeys(e2e.prefix).plan(id))).toBe(0);
    expect(await getRotation(e2e.pool, id)).toBeUndefined();
    expect(await secrets()).toEqual(before);
  }, 60_000);

  it.each([
    ['unknown_material', { material: 'MOON_KEY' }, /unknown material "MOON_KEY"/],
    ['invalid_request', { material: 'POSTGRES_PASSWORD' }, /needs role \(one of api, sts, gateway, audit, coordinator, auth\)/],
    ['invalid_request', { material: 'POSTGRES_PASSWORD', role: 'superuser' }, /no Postgres role superuser is known/],
    ['invalid_request', { material: 'AUDIT_HMAC_KEY', reason: '' }, /reason/],
    ['invalid_request', { material: 'AUDIT_HMAC_KEY', actor: 'someone-else@ops' }, /actor/],
  ])('rejects %s (%j) with its reason, and writes nothing', async (code, data, message) => {
    const before = await secrets();
    const id = await request(data);
    expect(await follow(id)).toBe('rejected');
    const [rejected, ...more] = await eventsNamed(e2e, id, 'rejected');
    expect(more).toEqual([]);
    expect(rejected!.data).toMatchObject({ reason_code: code });
    expect(String(rejected!.data.message)).toMatch(message);
    expect((await eventsOf(e2e, id)).map((e) => e.name)).toEqual(['requested', 'rejected']);
    await waitForState(id, 'rejected');
    expect(await secrets()).toEqual(before);
  }, 60_000);

  it('plans a dry run and stops there: the plan is stored and recorded, nothing is written or restarted, no lock is held', async () => {
    const before = await secrets();
    const id = await request({ material: 'GATEWAY_STS_HMAC_KEY', dry_run: true, ticket: 'DRY-1' });
    expect(await follow(id)).toBe('planned');
    const [planned] = await eventsNamed(e2e, id, 'planned');
    expect(planned!.data).toMatchObject({ material: 'GATEWAY_STS_HMAC_KEY', dry_run: true, actor: 'e2e@test', plan: { id } });
    expect(await e2e.redis.exists(stateKeys(e2e.prefix).plan(id))).toBe(1);
    await vi.waitFor(async () => expect(await getRotation(e2e.pool, id)).toMatchObject({ state: 'planned', dryRun: true, ticket: 'DRY-1', actor: 'e2e@test' }), { timeout: 15_000 });
    expect((await getRotation(e2e.pool, id))!.plan).toMatchObject({ material: 'GATEWAY_STS_HMAC_KEY' });
    expect((await eventsOf(e2e, id)).map((e) => e.name)).toEqual(['requested', 'planned']);
    expect(await secrets()).toEqual(before);

    // The dry run holds no lock: a real rotation of the same material goes ahead at once.
    const real = await request({ material: 'GATEWAY_STS_HMAC_KEY' });
    expect(await follow(real)).toBe('completed');
    expect(await eventsNamed(e2e, real, 'queued')).toEqual([]);
  }, 60_000);
});

describe('one class of material at a time, and a rollback inside the window', () => {
  it('refuses a duplicate, queues another class behind the lock, rolls back on request and then lets the queue go', async () => {
    const file = join(e2e.stack.secretsDir, 'caracalCoordinatorToken');
    const original = await caracalSecret(e2e, 'caracalCoordinatorToken');
    const first = await request({ material: 'CARACAL_COORDINATOR_TOKEN', ticket: 'OPS-7' });
    await waitForState(first, 'waiting_retirement');
    const deployed = await caracalSecret(e2e, 'caracalCoordinatorToken');
    expect(deployed).not.toBe(original);
    expect(await coordinatorTokenVerdict(e2e, deployed)).toBe('accepted');
    expect(await coordinatorTokenVerdict(e2e, original)).toBe('refused');

    const duplicate = await request({ material: 'CARACAL_COORDINATOR_TOKEN' });
    expect(await follow(duplicate)).toBe('rejected');
    expect((await eventsNamed(e2e, duplicate, 'rejected'))[0]!.data).toMatchObject({ reason_code: 'duplicate_in_flight' });

    const other = await request({ material: 'AUDIT_HMAC_KEY' });
    await waitForState(other, 'queued');
    expect((await eventsNamed(e2e, other, 'queued'))[0]!.data).toMatchObject({ material: 'AUDIT_HMAC_KEY', waiting_for: 'CARACAL_COORDINATOR_TOKEN', position: 1 });

    // Inside the rollback window: the planner approves, the secret-writer restores, the holders restart with the old token.
    await intend(first, 'rollback', 'coordinator views broke');
    expect(await follow(first)).toBe('failed');
    const [rollback] = await eventsNamed(e2e, first, 'rollback');
    expect(rollback!.data).toMatchObject({ material: 'CARACAL_COORDINATOR_TOKEN', actor: 'e2e@test', reason: 'coordinator views broke' });
    const written = await eventsNamed(e2e, first, 'written');
    expect(written.map((w) => w.data.phase)).toEqual(['deploy', 'rollback']);
    const rolled = (await eventsNamed(e2e, first, 'rolled')).find((r) => r.data.phase === 'rollback')!;
    expect((rolled.data.holders as { service: string; ok: boolean }[]).filter((h) => h.service === 'coordinator')).toMatchObject([{ ok: true }]);
    const [failed] = await eventsNamed(e2e, first, 'failed');
    expect(failed!.data).toMatchObject({ rolled_back: true });
    expect(await readFile(file, 'utf8')).toBe(original);
    expect(await coordinatorTokenVerdict(e2e, original)).toBe('accepted');
    expect(await coordinatorTokenVerdict(e2e, deployed)).toBe('refused');
    await vi.waitFor(async () => expect(await getRotation(e2e.pool, first)).toMatchObject({ state: 'failed', rolledBack: true, ticket: 'OPS-7' }), { timeout: 15_000 });

    // The lock is free: the queued class is planned only now, and completes.
    expect(await follow(other)).toBe('completed');
    await waitForState(other, 'completed');
    const [otherPlanned] = await eventsNamed(e2e, other, 'planned');
    expect(otherPlanned!.id > failed!.id).toBe(true);

    // Once a rotation has ended, a rollback is refused visibly.
    await intend(other, 'rollback', 'too late');
    const refusal = await vi.waitFor(
      async () => {
        const found = (await eventsNamed(e2e, other, 'rejected')).find((r) => r.data.intent === 'rollback');
        expect(found).toBeDefined();
        return found!;
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(refusal.data).toMatchObject({ reason_code: 'not_rollbackable', actor: 'e2e@test' });
    expect(await state(other)).toBe('completed');
  }, 120_000);
});

describe('abandon', () => {
  it('takes a queued request out of the queue, frees the lock of one in flight for the next, and touches no secret', async () => {
    const stuck = await request({ material: 'CARACAL_COORDINATOR_TOKEN', reason: 'will be abandoned' });
    await waitForState(stuck, 'waiting_retirement');
    const queuedAway = await request({ material: 'CARACAL_ADMIN_TOKEN' });
    const next = await request({ material: 'GATEWAY_STS_HMAC_KEY' });
    await waitForState(queuedAway, 'queued');
    await waitForState(next, 'queued');

    await intend(queuedAway, 'abandon', 'not today');
    expect(await follow(queuedAway)).toBe('abandoned');
    expect((await eventsNamed(e2e, queuedAway, 'abandoned'))[0]!.data).toMatchObject({ actor: 'e2e@test', reason: 'not today', state: 'queued' });
    expect(await state(next)).toBe('queued');

    const token = await caracalSecret(e2e, 'caracalCoordinatorToken');
    await intend(stuck, 'abandon', 'coordinator host lost');
    expect(await follow(stuck)).toBe('abandoned');
    expect((await eventsNamed(e2e, stuck, 'abandoned'))[0]!.data).toMatchObject({ material: 'CARACAL_COORDINATOR_TOKEN', actor: 'e2e@test', state: 'in_flight' });

    expect(await follow(next)).toBe('completed');
    expect(await eventsNamed(e2e, queuedAway, 'planned')).toEqual([]);
    await waitForState(stuck, 'abandoned');
    await waitForState(queuedAway, 'abandoned');
    // Abandoning writes nothing: the new token stays where the deploy put it, and works; no later step acted.
    expect(await caracalSecret(e2e, 'caracalCoordinatorToken')).toBe(token);
    expect(await coordinatorTokenVerdict(e2e, token)).toBe('accepted');
    expect((await eventsOf(e2e, stuck)).map((e) => e.name)).toEqual(['requested', 'intent', 'planned', 'abandoned', 'written', 'rolled', 'verified']);

    // An ended rotation cannot be abandoned again.
    await intend(stuck, 'abandon', 'twice');
    await vi.waitFor(async () => expect((await eventsNamed(e2e, stuck, 'rejected')).map((r) => r.data.reason_code)).toEqual(['not_abandonable']), { timeout: 15_000, interval: 100 });
    expect(await state(stuck)).toBe('abandoned');
  }, 120_000);
});
