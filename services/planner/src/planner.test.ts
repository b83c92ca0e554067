import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring, PlanStore, Publisher, StaticKeyringSource, type StreamConsumer } from '@caracal-rotation/bus';
import { loadConfig } from '@caracal-rotation/config';
import { DEFAULT_CATALOG, holdersConfigSchema, newRotationId, rotationStreams, stageEventId, type PlanRef } from '@caracal-rotation/contracts';
import { createServiceRuntime, initRotationDir, type ServiceRuntime } from '@caracal-rotation/runtime';
import { generateKeyHex } from '@caracal-rotation/secrets';
import { deleteKeys, readStream, testRedis, uniqueName } from '@caracal-rotation/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ZoneLister } from './batch.js';
import { plannerConfigSchema } from './config.js';
import { createPlanner } from './planner.js';

const prefix = uniqueName('t-planner');
const streams = rotationStreams(prefix);
const redis = testRedis();
const docker = (name: string) => ({ url: `http://127.0.0.1:9/${name}`, restart: { adapter: 'docker', container: `caracal-${name}-1` } });
const holders = holdersConfigSchema.parse({ version: 2, services: { api: docker('api'), sts: docker('sts'), gateway: docker('gateway'), audit: docker('audit'), coordinator: docker('coordinator') } });

/** Caracal's zones, as pages of the API's list would give them. */
const ALL_ZONES = ['z-a', 'z-b', 'z-c', 'z-d', 'z-e'];
const lister: ZoneLister = {
  problem: async () => undefined,
  page: async (cursor, limit) => {
    const start = Number(cursor ?? 0);
    const zones = ALL_ZONES.slice(start, start + limit);
    return { zones, next: start + limit < ALL_ZONES.length ? String(start + limit) : null };
  },
};

/** Rotations the replay guard says have moved on (the projection in production). */
const actedOn = new Set<string>();
const replays = { superseded: async (rotationId: string) => actedOn.has(rotationId), close: async () => undefined };

let dir: string;
let runtime: ServiceRuntime;
let consumer: StreamConsumer;
let alice: Publisher;
let carol: Publisher;
let bus: Publisher;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'planner-rotation-'));
  await initRotationDir({ rotationDir: dir, secretsDir: join(dir, '..', 'nowhere'), operator: 'alice@ops' });
  // carol may rotate the audit key only, and neither roll back nor abandon.
  const carolKey = generateKeyHex(32);
  await writeFile(join(dir, 'carolKey'), carolKey);
  const registry = JSON.parse(await readFile(join(dir, 'operators.json'), 'utf8'));
  registry.operators.push({ name: 'carol@ops', key_file: 'carolKey', materials: ['AUDIT_HMAC_KEY'] });
  await rm(join(dir, 'operators.json'));
  await writeFile(join(dir, 'operators.json'), JSON.stringify(registry));
  const holdersFile = join(dir, 'holders.json');
  await writeFile(holdersFile, JSON.stringify(holders));
  const config = loadConfig(plannerConfigSchema, { REDIS_URL: process.env.REDIS_URL, CARACAL_ROTATION_DIR: dir, CARACAL_HOLDERS: holdersFile, STREAM_PREFIX: prefix, LOG_LEVEL: 'silent', CONSUMER_BLOCK_MS: '100' });
  runtime = await createServiceRuntime('planner', config, { operators: true, failsRotationsOnDeadLetter: true });
  const planner = createPlanner({ runtime, catalog: DEFAULT_CATALOG, holders, zoneLister: lister, chunk: 2, replays });
  consumer = await runtime.startConsumer(planner.subscriptions);
  const keyOf = async (file: string) => new StaticKeyringSource(Keyring.fromHex((await readFile(join(dir, file), 'utf8')).trim()));
  alice = new Publisher(redis, await keyOf('operatorKey'), 'caracal-rotate/test');
  carol = new Publisher(redis, await keyOf('carolKey'), 'caracal-rotate/test');
  bus = new Publisher(redis, await keyOf('busKey'), 'verifier/test');
});

afterAll(async () => {
  await runtime.shutdown.shutdown('test over');
  await deleteKeys(redis, prefix);
  await deleteKeys(redis, `{${prefix}}`);
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
});

const base = { reason: 'quarterly rotation' };

async function request(data: Record<string, unknown>, as: Publisher = alice): Promise<string> {
  const rotationId = newRotationId();
  await as.publish({ stream: streams.requested, name: 'requested', eventId: newRotationId(), rotationId, data });
  return rotationId;
}

async function intent(rotationId: string, action: 'rollback' | 'abandon', as: Publisher = alice): Promise<string> {
  const eventId = newRotationId();
  await as.publish({ stream: streams.intent, name: 'intent', eventId, rotationId, data: { action, reason: 'test' } });
  return eventId;
}

async function on(stream: string, match: (f: Record<string, string>) => boolean, count = 1) {
  return vi.waitFor(
    async () => {
      const found = (await readStream(redis, stream)).filter((e) => match(e.fields));
      expect(found.length).toBeGreaterThanOrEqual(count);
      return found.map((e) => ({ ...e.fields, data: JSON.parse(e.fields.data ?? '{}') as Record<string, unknown> }) as Record<string, string | undefined> & { data: Record<string, unknown> });
    },
    { timeout: 8000, interval: 50 },
  );
}
const of = (id: string) => (f: Record<string, string>) => f.rotation_id === id;

/** The end of a rotation as the verifier announces it on the bus. */
async function retired(rotationId: string, plan: PlanRef, material: string) {
  await bus.publish({
    stream: streams.verified,
    name: 'verified',
    eventId: stageEventId(rotationId, 'verifier', 'retire'),
    rotationId,
    data: { phase: 'retire', material, plan, ok: true, checks: [] },
  });
}

describe('planner', () => {
  it('does not plan again a request the replay guard says was acted on', async () => {
    const replayed = newRotationId();
    actedOn.add(replayed);
    await alice.publish({ stream: streams.requested, name: 'requested', eventId: newRotationId(), rotationId: replayed, data: { ...base, material: 'MOON_KEY' } });
    // Requests are handled one at a time, in order: once the next one is answered, the replay was handled.
    const marker = await request({ ...base, material: 'MOON_KEY' });
    await on(streams.rejected, of(marker));
    const answered = [...(await readStream(redis, streams.rejected)), ...(await readStream(redis, streams.planned)), ...(await readStream(redis, streams.queued))];
    expect(answered.filter((e) => e.fields.rotation_id === replayed)).toEqual([]);
  });

  it("plans with the operator the key belongs to as the actor, and stores the plan once, by reference", async () => {
    const id = await request({ ...base, material: 'GATEWAY_STS_HMAC_KEY' });
    const [planned] = await on(streams.planned, of(id));
    expect(planned!.data).toMatchObject({ material: 'GATEWAY_STS_HMAC_KEY', actor: 'alice@ops', dry_run: false });
    const plan = await new PlanStore(redis, prefix).get(planned!.data.plan as PlanRef);
    expect(plan.requested.actor).toBe('alice@ops');
    expect(plan.phases.map((p) => p.phase)).toEqual(['deploy', 'retire']);
    await retired(id, planned!.data.plan as PlanRef, 'GATEWAY_STS_HMAC_KEY');
  });

  it('refuses what the operator may not do as unauthorized, and requests that no key of the registry signed', async () => {
    const id = await request({ ...base, material: 'STREAMS_HMAC_KEY' }, carol);
    const [answer] = await on(streams.rejected, of(id));
    expect(answer!.data).toMatchObject({ reason_code: 'unauthorized', actor: 'carol@ops' });
    expect(String(answer!.data.message)).toMatch(/carol@ops may not request STREAMS_HMAC_KEY/);
    const emergency = await request({ ...base, material: 'AUDIT_HMAC_KEY', emergency: true }, carol);
    expect((await on(streams.rejected, of(emergency)))[0]!.data.message).toMatch(/may not request an emergency/);
    // The bus key may request (rotation policies) but a request it signs is not an operator's.
    const forged = await request({ ...base, material: 'AUDIT_HMAC_KEY' }, bus);
    const [scheduled] = await on(streams.planned, of(forged));
    expect(scheduled!.data.actor).toBe('schedule');
    await retired(forged, scheduled!.data.plan as PlanRef, 'AUDIT_HMAC_KEY');
  });

  it('holds one class at a time: a duplicate is rejected, another class queues, and goes when the first ends', async () => {
    const first = await request({ ...base, material: 'CARACAL_COORDINATOR_TOKEN' });
    const [planned] = await on(streams.planned, of(first));
    const dup = await request({ ...base, material: 'CARACAL_COORDINATOR_TOKEN' });
    expect((await on(streams.rejected, of(dup)))[0]!.data.reason_code).toBe('duplicate_in_flight');
    const other = await request({ ...base, material: 'CARACAL_ADMIN_TOKEN' });
    expect((await on(streams.queued, of(other)))[0]!.data).toMatchObject({ waiting_for: 'CARACAL_COORDINATOR_TOKEN', position: 1, actor: 'alice@ops' });
    await bus.publish({ stream: streams.failed, name: 'failed', eventId: newRotationId(), rotationId: first, data: { stage: 'verifier', error: 'test', rolled_back: false } });
    const [next] = await on(streams.planned, of(other));
    expect(next!.data.material).toBe('CARACAL_ADMIN_TOKEN');
    await retired(other, next!.data.plan as PlanRef, 'CARACAL_ADMIN_TOKEN');
    void planned;
  });

  it('puts an emergency at the head of the queue, and lets it start beside a rotation that only waits out its window', async () => {
    const waiting = await request({ ...base, material: 'STREAMS_HMAC_KEY' });
    const [planned] = await on(streams.planned, of(waiting));
    const normal = await request({ ...base, material: 'REDIS_PASSWORD' });
    await on(streams.queued, of(normal));
    const emergency = await request({ ...base, material: 'AUDIT_HMAC_KEY', emergency: true });
    expect((await on(streams.queued, of(emergency)))[0]!.data.position).toBe(1);
    // The deploy passed: the streams key only waits for its window now.
    await bus.publish({
      stream: streams.verified,
      name: 'verified',
      eventId: stageEventId(waiting, 'verifier', 'deploy'),
      rotationId: waiting,
      data: { phase: 'deploy', material: 'STREAMS_HMAC_KEY', plan: planned!.data.plan, ok: true, checks: [] },
    });
    const other = await request({ ...base, material: 'ZONE_KEK', emergency: true });
    const [started] = await on(streams.planned, of(other));
    expect(started!.data.material).toBe('ZONE_KEK');
    await retired(other, started!.data.plan as PlanRef, 'ZONE_KEK');
    await retired(waiting, planned!.data.plan as PlanRef, 'STREAMS_HMAC_KEY');
    const [first] = await on(streams.planned, of(emergency));
    await retired(emergency, first!.data.plan as PlanRef, 'AUDIT_HMAC_KEY');
    const [last] = await on(streams.planned, of(normal));
    await retired(normal, last!.data.plan as PlanRef, 'REDIS_PASSWORD');
  });

  it('plans a batch chunk by chunk: one rotation per zone under the batch id, one shared plan, every zone for "*"', async () => {
    const batch = await request({ ...base, material: 'ZONE_SIGNING_KEY', zone_id: '*' });
    const [parent] = await on(streams.planned, of(batch));
    expect(parent!.data.batch).toEqual({ zones: 5 });
    const children = await on(streams.planned, (f) => JSON.parse(f.data!).batch_id === batch, 5);
    expect(children.map((c) => c.data.zone_id).sort()).toEqual(ALL_ZONES);
    expect(new Set(children.map((c) => JSON.stringify(c.data.plan)))).toEqual(new Set([JSON.stringify(parent!.data.plan)]));
    // A single zone of the batch is in flight: asking for it again is a duplicate.
    const dup = await request({ ...base, material: 'ZONE_SIGNING_KEY', zone_id: 'z-c' });
    expect((await on(streams.rejected, of(dup)))[0]!.data.reason_code).toBe('duplicate_in_flight');
    for (const child of children) await retired(child.rotation_id!, child.data.plan as PlanRef, 'ZONE_SIGNING_KEY');
  });

  it('answers intents: abandon of a queued or an in-flight rotation frees its place, rollback where the plan allows it', async () => {
    const held = await request({ ...base, material: 'POSTGRES_PASSWORD', role: 'api' });
    const [planned] = await on(streams.planned, of(held));
    const queued = await request({ ...base, material: 'GATEWAY_STS_HMAC_KEY' });
    await on(streams.queued, of(queued));
    await intent(queued, 'abandon');
    expect((await on(streams.abandoned, of(queued)))[0]!.data).toMatchObject({ actor: 'alice@ops', state: 'queued' });

    const denied = await intent(held, 'rollback', carol);
    const [refusal] = await on(streams.rejected, (f) => f.event_id === stageEventId(held, 'planner', `rollback/${denied}`));
    expect(refusal!.data).toMatchObject({ intent: 'rollback', reason_code: 'unauthorized' });

    const asked = await intent(held, 'rollback');
    const [approved] = await on(streams.rollback, (f) => f.event_id === stageEventId(held, 'planner', `rollback/${asked}`));
    expect(approved!.data).toMatchObject({ material: 'POSTGRES_PASSWORD', role: 'api', actor: 'alice@ops', plan: planned!.data.plan });

    const next = await request({ ...base, material: 'CARACAL_COORDINATOR_TOKEN' });
    await on(streams.queued, of(next));
    await intent(held, 'abandon');
    expect((await on(streams.abandoned, of(held)))[0]!.data.state).toBe('in_flight');
    const [released] = await on(streams.planned, of(next));
    await retired(next, released!.data.plan as PlanRef, 'CARACAL_COORDINATOR_TOKEN');

    const ended = await intent(held, 'abandon');
    const [late] = await on(streams.rejected, (f) => f.event_id === stageEventId(held, 'planner', `abandon/${ended}`));
    expect(late!.data.reason_code).toBe('not_abandonable');
  });

  it('refuses to roll back a zone key, which Caracal cannot reactivate', async () => {
    const id = await request({ ...base, material: 'ZONE_SIGNING_KEY', zone_id: 'z-solo' });
    const [planned] = await on(streams.planned, of(id));
    const asked = await intent(id, 'rollback');
    const [refusal] = await on(streams.rejected, (f) => f.event_id === stageEventId(id, 'planner', `rollback/${asked}`));
    expect(refusal!.data).toMatchObject({ reason_code: 'not_rollbackable' });
    expect(String(refusal!.data.message)).toMatch(/no route that makes a previous zone key active again/);
    await retired(id, planned!.data.plan as PlanRef, 'ZONE_SIGNING_KEY');
  });

  it('dead-letters a request signed by a key nobody registered, and one signed by Caracal\'s kind of key on an internal stream', async () => {
    const stranger = new Publisher(redis, new StaticKeyringSource(Keyring.fromHex(generateKeyHex(32))), 'mallory');
    const id = await request({ ...base, material: 'AUDIT_HMAC_KEY' }, stranger);
    // The unknown kid waits for the keyring first (60 s grace by default); what matters: nothing is planned.
    await new Promise((r) => setTimeout(r, 500));
    expect((await readStream(redis, streams.planned)).filter((e) => e.fields.rotation_id === id)).toEqual([]);
    // An operator's key on the planner's own stream is refused at once.
    await alice.publish({ stream: streams.verified, name: 'verified', eventId: newRotationId(), rotationId: id, data: { phase: 'retire', material: 'AUDIT_HMAC_KEY', plan: { id, hash: '0'.repeat(64) }, ok: true, checks: [] } });
    const [dead] = await on(`${streams.verified}.dead`, (f) => JSON.parse(f.values!).rotation_id === id);
    expect(dead!.error).toBe('unauthorized_signer');
    expect(consumer.inFlightCount).toBeGreaterThanOrEqual(0);
  });
});
