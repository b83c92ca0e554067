import { probeReady } from '@caracal-rotation/caracal-client';
import type { Plan } from '@caracal-rotation/contracts';
import { getRotation } from '@caracal-rotation/projection';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startE2E, type E2E } from '../support/e2e-stack.js';
import { caracalSecret, postgresPasswordVerdict, redisPasswordVerdict } from '../support/replica-probes.js';
import { eventsNamed } from '../support/rotation-events.js';

/**
 * The passwords of Caracal's stores, rotated on the replica's own Postgres
 * (scram-sha-256, one login role per service) and Redis (`requirepass`):
 * logins with the new password work, the old one is refused once retired,
 * the derived URL files follow, and the services that use them come back
 * ready. The Redis password keeps an eight-second window here, long enough
 * to see both passwords work during the overlap.
 */
const REDIS_WINDOW_MS = 8_000;
let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E('passwords', { windows: { REDIS_PASSWORD: REDIS_WINDOW_MS } });
}, 120_000);
afterAll(async () => e2e?.stop(), 60_000);

const completedRow = async (id: string) => {
  await vi.waitFor(async () => expect((await getRotation(e2e.pool, id))?.state).toBe('completed'), { timeout: 15_000, interval: 100 });
  return (await getRotation(e2e.pool, id))!;
};

/** Every holder the plan rolled answers /ready: it came back with the new password. */
async function expectHoldersReady(plan: Plan): Promise<string[]> {
  const services = [...new Set(plan.phases.flatMap((p) => p.roll.flat()))];
  for (const service of services) {
    const url = e2e.sandbox.services[service as keyof typeof e2e.sandbox.services];
    expect(url, `${service} is a service of the replica`).toBeDefined();
    expect(await probeReady(url!), service).toMatchObject({ ready: true });
  }
  return services;
}

describe.each([
  ['api', 'caracalapi', ['api']],
  ['sts', 'caracalsts', ['sts']],
  ['gateway', 'caracalgateway', ['gateway']],
  ['audit', 'caracalaudit', ['audit']],
  ['coordinator', 'caracalcoordinator', ['coordinator']],
  // The console (web) is the auth role's only holder, and the replica has none: nothing restarts.
  ['auth', 'caracalauth', []],
])('POSTGRES_PASSWORD of role %s (%s)', (role, dbRole, holders) => {
  it('logs in with the new password, refuses the old one, and the URL file and its holders follow', async () => {
    const oldPassword = await caracalSecret(e2e, `${role}DbPassword`);
    const oldUrl = await caracalSecret(e2e, `${role}DatabaseUrl`);
    expect(await postgresPasswordVerdict(e2e, role, oldPassword)).toBe('accepted');

    const { id, outcome } = await e2e.rotate({ material: 'POSTGRES_PASSWORD', role });
    expect(outcome).toBe('completed');

    const newPassword = await caracalSecret(e2e, `${role}DbPassword`);
    const newUrl = await caracalSecret(e2e, `${role}DatabaseUrl`);
    expect(newPassword).not.toBe(oldPassword);
    expect(new URL(newUrl)).toMatchObject({ username: dbRole, password: newPassword });
    expect(newUrl.replace(newPassword, '')).toBe(oldUrl.replace(oldPassword, ''));
    expect(await postgresPasswordVerdict(e2e, role, newPassword)).toBe('accepted');
    expect(await postgresPasswordVerdict(e2e, role, oldPassword)).toBe('refused');

    const row = await completedRow(id);
    expect(row).toMatchObject({ material: 'POSTGRES_PASSWORD', role, rolledBack: false });
    const deploy = (await eventsNamed(e2e, id, 'rolled')).filter((r) => r.data.phase === 'deploy');
    expect(deploy.flatMap((r) => (r.data.holders as { service: string; ok: boolean }[]).map((h) => [h.service, h.ok]))).toEqual(holders.map((h) => [h, true]));
    expect(await expectHoldersReady(row.plan!)).toEqual(holders);
    const verified = await eventsNamed(e2e, id, 'verified');
    expect(verified.map((v) => [v.data.phase, v.data.ok])).toEqual([
      ['deploy', true],
      ['retire', true],
    ]);
  }, 60_000);
});

describe('REDIS_PASSWORD', () => {
  it('takes both passwords during the overlap, only the new one after retirement, and every Redis client follows', async () => {
    const oldPassword = await caracalSecret(e2e, 'redisPassword');
    expect(await redisPasswordVerdict(e2e, oldPassword)).toBe('accepted');

    const rotation = e2e.rotate({ material: 'REDIS_PASSWORD' });
    const id = await vi.waitFor(
      async () => {
        const waiting = (await e2e.pool.query<{ rotation_id: string }>(`SELECT rotation_id FROM rotations WHERE material = 'REDIS_PASSWORD' AND state = 'waiting_retirement'`)).rows;
        expect(waiting).toHaveLength(1);
        return waiting[0]!.rotation_id;
      },
      { timeout: 60_000, interval: 100 },
    );
    const newPassword = await caracalSecret(e2e, 'redisPassword');
    expect(newPassword).not.toBe(oldPassword);
    const overlap = { new: await redisPasswordVerdict(e2e, newPassword), old: await redisPasswordVerdict(e2e, oldPassword), at: new Date() };
    expect(overlap).toMatchObject({ new: 'accepted', old: 'accepted' });

    const { outcome } = await rotation;
    expect(outcome).toBe('completed');
    // The overlap was seen before retirement began, or it proves nothing.
    const [retiring] = await eventsNamed(e2e, id, 'retiring');
    expect(Date.parse(retiring!.fields.occurred_at!)).toBeGreaterThan(overlap.at.getTime());

    expect(await redisPasswordVerdict(e2e, newPassword)).toBe('accepted');
    expect(await redisPasswordVerdict(e2e, oldPassword)).toBe('refused');
    expect(new URL(await caracalSecret(e2e, 'redisUrl')).password).toBe(newPassword);

    const row = await completedRow(id);
    expect(await expectHoldersReady(row.plan!)).toEqual(['api', 'sts', 'gateway', 'audit', 'coordinator']);
    const verified = await eventsNamed(e2e, id, 'verified');
    expect(verified.map((v) => [v.data.phase, v.data.ok])).toEqual([
      ['deploy', true],
      ['retire', true],
    ]);
    const retire = verified.find((v) => v.data.phase === 'retire')!.data.checks as { name: string; ok: boolean }[];
    expect(retire.filter((c) => c.name.startsWith('redis_auth'))).toMatchObject([
      { name: 'redis_auth_new', ok: true },
      { name: 'redis_auth_old_refused', ok: true },
    ]);
  }, 90_000);
});
