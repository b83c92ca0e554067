import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Keyring, Publisher, StaticKeyringSource } from '@caracal-rotation/bus';
import { MATERIALS, newRotationId, type Material, type Plan, type RequestedData } from '@caracal-rotation/contracts';
import { getRotation } from '@caracal-rotation/projection';
import { keyIdOf } from '@caracal-rotation/secrets';
import { readStream } from '@caracal-rotation/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startE2E, type E2E } from '../support/e2e-stack.js';
import {
  adminTokenVerdict,
  announcementsOf,
  auditKeyVerdict,
  caracalSecret,
  coordinatorTokenVerdict,
  gatewayKeyVerdict,
  postgresPasswordVerdict,
  redisPasswordVerdict,
  rowsNotOnKek,
  streamsKeyVerdict,
  zoneJwks,
  type Verdict,
} from '../support/replica-probes.js';
import { eventsNamed, eventsOf } from '../support/rotation-events.js';

/**
 * Every material the orchestrator rotates (Caracal's nine and its own bus
 * key), end to end against the sandbox replica of Caracal: the new value is
 * taken and the old one refused after retirement, each seen through
 * Caracal's own answers rather than the verifier's word; every holder
 * restarted with proof; the projection says who, when, why, where and how
 * long rollback was possible; and no secret value reaches an event, the
 * projection or a log.
 */
let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E('materials');
}, 120_000);
afterAll(async () => e2e?.stop(), 60_000);

/** Every secret value the rotations handled, old and new: none may leave the stores. */
const secretValues = new Set<string>();
const busKey = async () => (await readFile(join(e2e.stack.rotationDir, 'busKey'), 'utf8')).trim();

interface MaterialCase {
  material: Material;
  request?: () => Partial<RequestedData>;
  /** The value in force (a zone key: its active kid, which is public). */
  value(): Promise<string>;
  secret: boolean;
  location(): string;
  /** Caracal's own answer to the new value and the old one, after retirement. */
  proveSwitched(old: string, now: string): Promise<void>;
}

/** The replica takes the new value and refuses the old one. */
const byVerdict =
  (verdict: (e2e: E2E, value: string) => Promise<Verdict>) =>
  async (old: string, now: string): Promise<void> => {
    expect(await verdict(e2e, now), 'the new value').toBe('accepted');
    expect(await verdict(e2e, old), 'the old value').toBe('refused');
  };

const inSecretsDir = (file: string): Omit<MaterialCase, 'material' | 'proveSwitched'> => ({
  value: () => caracalSecret(e2e, file),
  secret: true,
  location: () => join(e2e.stack.secretsDir, file),
});

const zone = () => e2e.sandbox.zones[0]!;

const CASES: MaterialCase[] = [
  { material: 'AUDIT_HMAC_KEY', ...inSecretsDir('auditHmacKey'), proveSwitched: byVerdict(auditKeyVerdict) },
  { material: 'STREAMS_HMAC_KEY', ...inSecretsDir('streamsHmacKey'), proveSwitched: byVerdict(streamsKeyVerdict) },
  { material: 'GATEWAY_STS_HMAC_KEY', ...inSecretsDir('gatewayStsHmacKey'), proveSwitched: byVerdict(gatewayKeyVerdict) },
  { material: 'CARACAL_ADMIN_TOKEN', ...inSecretsDir('caracalAdminToken'), proveSwitched: byVerdict(adminTokenVerdict) },
  { material: 'CARACAL_COORDINATOR_TOKEN', ...inSecretsDir('caracalCoordinatorToken'), proveSwitched: byVerdict(coordinatorTokenVerdict) },
  {
    material: 'POSTGRES_PASSWORD',
    request: () => ({ role: 'api' }),
    ...inSecretsDir('apiDbPassword'),
    proveSwitched: byVerdict((e, value) => postgresPasswordVerdict(e, 'api', value)),
  },
  { material: 'REDIS_PASSWORD', ...inSecretsDir('redisPassword'), proveSwitched: byVerdict(redisPasswordVerdict) },
  {
    material: 'ZONE_KEK',
    ...inSecretsDir('secretStoreKek'),
    async proveSwitched(old, now) {
      // Every sealed row is under the new KEK (none left on the old one), the old KEK is
      // gone from the files the services read, and every zone's keys still open.
      const notOnNew = await rowsNotOnKek(e2e, now);
      expect(notOnNew.filter((c) => c.rows > 0)).toEqual([]);
      expect((await rowsNotOnKek(e2e, old)).reduce((n, c) => n + c.rows, 0)).toBeGreaterThan(0);
      expect(await caracalSecret(e2e, 'secretStoreKekPrevious')).toBe(now);
      for (const [z, jwks] of await zoneJwks(e2e)) expect(jwks.status, `JWKS of zone ${z}`).toBe(200);
    },
  },
  {
    material: 'ZONE_SIGNING_KEY',
    request: () => ({ zone_id: zone() }),
    value: async () => (await zoneJwks(e2e, [zone()])).get(zone())!.keys[0]!.kid,
    secret: false,
    location: () => `sts:${zone()}`,
    async proveSwitched(old, now) {
      // The STS signs with the new key and keeps listing the old one for mandates it signed.
      const { status, keys } = (await zoneJwks(e2e, [zone()])).get(zone())!;
      expect(status).toBe(200);
      expect(keys.map((k) => k.kid)).toEqual([now, old]);
      for (const key of keys) expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String) });
    },
  },
  {
    material: 'ROTATION_BUS_KEY',
    value: busKey,
    secret: true,
    location: () => join(e2e.stack.rotationDir, 'busKey'),
    async proveSwitched(old, now) {
      await expect(readFile(join(e2e.stack.rotationDir, 'busKeyPrevious'), 'utf8')).rejects.toThrow(/ENOENT/);
      // A (dry-run) request signed with the old key, then one signed with the new key: the
      // planner takes the second and leaves the first unanswered, pending until its kid expires.
      const signWith = (key: string) => new Publisher(e2e.redis, new StaticKeyringSource(Keyring.fromHex(key)), 'recorder/policies');
      const dryRun = (key: string) => {
        const rotationId = newRotationId();
        const event = { stream: e2e.operator.streams.requested, name: 'requested' as const, eventId: newRotationId(), rotationId, data: { material: 'AUDIT_HMAC_KEY', reason: 'bus key probe', dry_run: true } };
        return signWith(key).publish(event).then((entryId) => ({ rotationId, entryId }));
      };
      const withOld = await dryRun(old);
      const withNew = await dryRun(now);
      await vi.waitFor(async () => expect(await eventsNamed(e2e, withNew.rotationId, 'planned')).toHaveLength(1), { timeout: 20_000, interval: 100 });
      expect(await eventsNamed(e2e, withOld.rotationId, 'planned')).toEqual([]);
      const pending = (await e2e.redis.xpending(e2e.operator.streams.requested, 'planner', withOld.entryId, withOld.entryId, 1)) as unknown[];
      expect(pending).toHaveLength(1);
    },
  },
];

it('covers every material of the contract', () => {
  expect(CASES.map((c) => c.material).sort()).toEqual([...MATERIALS].sort());
});

describe.each(CASES)('$material', (c) => {
  it('rotates end to end: the replica takes the new value and refuses the old, every holder restarted with proof, and the projection records it', async () => {
    const old = await c.value();
    const { id, outcome } = await e2e.rotate({ material: c.material, ticket: 'E2E-10', reason: `rotate ${c.material}`, ...c.request?.() });
    expect(outcome).toBe('completed');
    const now = await c.value();
    expect(now).not.toBe(old);
    if (c.secret) {
      expect(now).toMatch(/^[0-9a-f]{48,64}$/);
      secretValues.add(old).add(now);
    }

    await c.proveSwitched(old, now);

    const events = await eventsOf(e2e, id);
    const kidOf = (value: string) => (c.secret ? keyIdOf(value) : value);
    // Caracal's services are told on their own Redis, signed with their own streams key.
    const [announced] = await vi.waitFor(
      async () => {
        const found = await announcementsOf(e2e, id);
        expect(found).toHaveLength(1);
        return found;
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(announced!.signedWithStreamsKey).toBe(true);
    expect(announced!.data).toMatchObject({ material: c.material, new_kid: kidOf(now), previous_kid: kidOf(old) });

    await vi.waitFor(async () => expect((await getRotation(e2e.pool, id))?.state).toBe('completed'), { timeout: 15_000, interval: 100 });
    const row = (await getRotation(e2e.pool, id))!;
    expect(row).toMatchObject({
      material: c.material,
      actor: 'e2e@test',
      reason: `rotate ${c.material}`,
      ticket: 'E2E-10',
      newKid: kidOf(now),
      previousKid: kidOf(old),
      secretLocation: c.location(),
      rolledBack: false,
      failure: null,
    });
    // The rollback window ran from the passing deploy verification to retire_after; retirement came after it.
    const times = [row.requestedAt, row.retireAfter, row.retiredAt, row.completedAt].map((t) => Date.parse(t ?? ''));
    expect(times.every(Number.isFinite), JSON.stringify(row)).toBe(true);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    const deployVerified = events.find((e) => e.name === 'verified' && e.data.phase === 'deploy' && e.data.ok === true)!;
    expect(Date.parse(row.retireAfter!) - Date.parse(deployVerified.fields.occurred_at!)).toBe((row.plan as Plan).safety_window_ms);

    // Every holder the plan restarts was restarted, each with the platform's proof.
    const plan = row.plan as Plan;
    for (const phase of plan.phases.filter((p) => p.roll.length > 0)) {
      const rolled = events.filter((e) => e.name === 'rolled' && e.data.phase === phase.phase);
      expect(rolled, `rolled(${phase.phase})`).toHaveLength(1);
      const holders = rolled[0]!.data.holders as { service: string; ok: boolean; proof?: { before: string | null; after: string | null } }[];
      expect(holders.map((h) => h.service).sort()).toEqual(phase.roll.flat().sort());
      for (const h of holders) {
        expect(h.ok, `${h.service} in ${phase.phase}`).toBe(true);
        expect(h.proof?.after, `${h.service} in ${phase.phase}`).toBeTruthy();
        expect(h.proof?.after).not.toBe(h.proof?.before);
      }
    }

    // The projection holds every event of the rotation.
    const all = [...(await eventsOf(e2e, id)), announced!];
    await vi.waitFor(
      async () => {
        const recorded = await e2e.pool.query<{ event_id: string }>('SELECT event_id FROM rotation_events WHERE rotation_id = $1', [id]);
        expect(new Set(recorded.rows.map((r) => r.event_id))).toEqual(new Set(all.map((e) => e.fields.event_id)));
      },
      { timeout: 15_000, interval: 100 },
    );
  }, 60_000);
});

it('never put a secret value into an event, the projection or a log', async () => {
  expect(secretValues.size).toBeGreaterThanOrEqual(2 * (CASES.length - 1));
  const places: [string, string][] = [];
  for (const stream of await streamsOf(e2e.prefix)) {
    for (const entry of await readStream(e2e.redis, stream)) places.push([`${stream} ${entry.id}`, JSON.stringify(entry.fields)]);
  }
  for (const table of ['rotations', 'rotation_events', 'rotation_checks', 'rotation_drains', 'rotation_plans']) {
    const { rows } = await e2e.pool.query<{ row: string }>(`SELECT t::text AS row FROM ${table} t`);
    expect(rows.length, table).toBeGreaterThan(0);
    for (const { row } of rows) places.push([table, row]);
  }
  const logs = join(e2e.runDir, 'logs');
  for (const file of await readdir(logs)) places.push([file, await readFile(join(logs, file), 'utf8')]);
  expect(places.length).toBeGreaterThan(100);

  const leaks = places.flatMap(([where, text]) => [...secretValues].filter((v) => text.includes(v)).map((v) => `${where}: ${keyIdOf(v)}`));
  expect(leaks).toEqual([]);
});

async function streamsOf(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await e2e.redis.scan(cursor, 'MATCH', `${prefix}.*`, 'COUNT', 1000);
    for (const key of keys) if ((await e2e.redis.type(key)) === 'stream') out.push(key);
    cursor = next;
  } while (cursor !== '0');
  expect(out.length).toBeGreaterThan(10);
  return out;
}
