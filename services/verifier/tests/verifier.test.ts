import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Keyring, Publisher, StaticKeyringSource, type StreamConsumer } from '@caracal-rotation/bus';
import { rotateZoneSigningKey } from '@caracal-rotation/caracal-client';
import { loadConfig } from '@caracal-rotation/config';
import { newRotationId, stageEventId, type CaracalService, type Phase, type Plan } from '@caracal-rotation/contracts';
import { createServiceRuntime, type ServiceRuntime } from '@caracal-rotation/runtime';
import { FileSecretStore, generateKeyHex, keyIdOf } from '@caracal-rotation/secrets';
import { deleteKeys, readStream, testRedis, uniqueName, type StreamEntry } from '@caracal-rotation/testing';
import { afterAll, beforeAll, vi, describe, expect, it } from 'vitest';
import type { ReplayGuard } from '@caracal-rotation/projection';
import { completedAnnouncer, createVerifier, MaterialValues, verifierConfigSchema } from '../src/index.js';
import { planFor } from './support/context.js';
import { startFleet, type Fleet } from './support/fleet.js';

// Restarts of Caracal's services take seconds each on a loaded two-core machine.
vi.setConfig({ testTimeout: 120_000 });

/**
 * The verifier as a service: stage events on the bus in, `verified`,
 * `failed` and `completed` out, with real checks against a sandbox. The bus
 * is the test Redis; Caracal's Redis is the sandbox's own.
 */
const prefix = uniqueName('t-verifier');
const bus = testRedis();
let fleet: Fleet;
let rotationDir: string;
let runtime: ServiceRuntime;
let consumer: StreamConsumer;
let roller: Publisher;
const superseded = new Set<string>();

beforeAll(async () => {
  fleet = await startFleet(2);
  rotationDir = await mkdtemp(path.join(tmpdir(), 'verifier-rotation-'));
  await chmod(rotationDir, 0o700);
  const busKey = generateKeyHex();
  await writeFile(path.join(rotationDir, 'busKey'), busKey, { mode: 0o400 });
  const config = loadConfig(verifierConfigSchema, {
    REDIS_URL: process.env.REDIS_URL,
    CARACAL_REDIS_URL: (await readFile(fleet.sandbox.redis_url_file, 'utf8')).trim(),
    CARACAL_SECRETS_DIR: fleet.sandbox.secrets_dir,
    CARACAL_ROTATION_DIR: rotationDir,
    CARACAL_HOLDERS: fleet.sandbox.holders,
    STREAM_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    CONSUMER_BLOCK_MS: '100',
  });
  runtime = await createServiceRuntime('verifier', config, { caracalStreamsKey: true, failsRotationsOnDeadLetter: true });
  const replays: ReplayGuard = { superseded: async (rotationId) => superseded.has(rotationId), close: async () => undefined };
  consumer = await runtime.startConsumer(
    createVerifier({
      runtime,
      holders: fleet.holders,
      material: new MaterialValues({ caracal: new FileSecretStore({ dir: fleet.sandbox.secrets_dir }), rotation: new FileSecretStore({ dir: rotationDir }) }),
      announce: completedAnnouncer(runtime),
      checkTimeoutMs: 10_000,
      longCheckTimeoutMs: 60_000,
      pollMs: 50,
      zoneConcurrency: 4,
      replays,
    }),
  );
  roller = new Publisher(bus, new StaticKeyringSource(Keyring.fromHex(busKey)), 'roller/test');
});

afterAll(async () => {
  await consumer?.stop();
  await runtime?.shutdown.shutdown('test over');
  await deleteKeys(bus, prefix);
  await deleteKeys(bus, `{${prefix}}`);
  bus.disconnect();
  await fleet?.close();
  await rm(rotationDir, { recursive: true, force: true });
});

interface Sent {
  rotationId: string;
  plan: Plan;
}

async function send(name: 'written' | 'rolled', plan: Plan, phase: Phase, kids: { newKid: string; previousKid?: string }, extra: Record<string, unknown> = {}): Promise<Sent> {
  const rotationId = newRotationId();
  const ref = await runtime.plans.put(newRotationId(), plan);
  const subject = { material: plan.material, zone_id: plan.zone_id, role: plan.role, plan: ref, phase, new: { kid: kids.newKid, location: 'test' }, previous: kids.previousKid ? { kid: kids.previousKid } : undefined };
  const data = name === 'written' ? { ...subject, changed: true, ...extra } : { ...subject, holders: [], ...extra };
  await roller.publish({ stream: runtime.streams[name], name, eventId: newRotationId(), rotationId, data });
  return { rotationId, plan };
}

async function entriesFor(redis: typeof bus, stream: string, rotationId: string): Promise<StreamEntry[]> {
  return (await readStream(redis, stream)).filter((e) => e.fields.rotation_id === rotationId);
}

async function verifiedOf(sent: Sent): Promise<StreamEntry> {
  await expect.poll(async () => (await entriesFor(bus, runtime.streams.verified, sent.rotationId)).length, { timeout: 60_000, interval: 200 }).toBe(1);
  return (await entriesFor(bus, runtime.streams.verified, sent.rotationId))[0]!;
}

async function restart(...services: CaracalService[]) {
  await Promise.all(services.map((s) => fleet.docker('restart', s)));
}

describe('a retirement that verifies', () => {
  it('publishes verified(retire, ok) with every check of the phase, and completed on Caracal\'s Redis signed with Caracal\'s streams key', async () => {
    const plan = planFor(fleet, { material: 'GATEWAY_STS_HMAC_KEY' });
    const kids = await fleet.rotate('gatewayStsHmacKey', newRotationId());
    await restart('api', 'sts', 'gateway');
    const sent = await send('written', plan, 'retire', kids, { changed: false });

    const verified = await verifiedOf(sent);
    expect(verified.fields.event_id).toBe(stageEventId(sent.rotationId, 'verifier', 'retire'));
    expect(verified.data).toMatchObject({ phase: 'retire', material: 'GATEWAY_STS_HMAC_KEY', ok: true });
    const checks = verified.data.checks as { name: string; ok: boolean; duration_ms: number }[];
    expect(checks.map((c) => c.name)).toEqual(plan.phases.find((p) => p.phase === 'retire')!.checks);
    expect(verified.data.diagnosis).toBeUndefined();

    const completedStream = runtime.streams.completed;
    await expect.poll(async () => (await entriesFor(fleet.caracalRedis as never, completedStream, sent.rotationId)).length, { timeout: 10_000 }).toBe(1);
    const [completed] = await entriesFor(fleet.caracalRedis as never, completedStream, sent.rotationId);
    expect(completed!.data).toMatchObject({ material: 'GATEWAY_STS_HMAC_KEY', new_kid: kids.newKid, previous_kid: kids.previousKid });
    const caracalKey = Keyring.fromHex(await fleet.secret('streamsHmacKey'));
    expect(caracalKey.verify(completedStream, completed!.fields)).toEqual({ ok: true, kid: caracalKey.current.kid });
    // Nothing of it on the orchestrator's bus: it is an announcement for Caracal.
    expect(await entriesFor(bus, completedStream, sent.rotationId)).toEqual([]);
    expect(await entriesFor(bus, runtime.streams.failed, sent.rotationId)).toEqual([]);
  });
});

describe('a retirement that does not verify', () => {
  it('publishes verified(retire, not ok) and failed(stage verifier) with the diagnosis; no completed', async () => {
    const plan = planFor(fleet, { material: 'GATEWAY_STS_HMAC_KEY' });
    const kids = await fleet.rotate('gatewayStsHmacKey', newRotationId());
    // The STS still runs with the old key: it is still accepted.
    await restart('api', 'gateway');
    try {
      const sent = await send('written', plan, 'retire', kids, { changed: false });
      const verified = await verifiedOf(sent);
      expect(verified.data).toMatchObject({ phase: 'retire', ok: false });
      expect(verified.data.diagnosis).toMatch(/gateway_old_key_refused: The old GATEWAY_STS_HMAC_KEY is still accepted by the STS/);
      await expect.poll(async () => (await entriesFor(bus, runtime.streams.failed, sent.rotationId)).length, { timeout: 10_000 }).toBe(1);
      const [failed] = await entriesFor(bus, runtime.streams.failed, sent.rotationId);
      expect(failed!.fields.event_id).toBe(stageEventId(sent.rotationId, 'verifier', 'retire-failed'));
      expect(failed!.data).toMatchObject({ material: 'GATEWAY_STS_HMAC_KEY', stage: 'verifier', phase: 'retire', rolled_back: false, diagnosis: verified.data.diagnosis });
      expect(failed!.data.error).toMatch(/the retirement of GATEWAY_STS_HMAC_KEY did not verify \(.*gateway_old_key_refused/);
      expect(await entriesFor(fleet.caracalRedis as never, runtime.streams.completed, sent.rotationId)).toEqual([]);
    } finally {
      await restart('sts');
    }
  });
});

describe('what each outcome means', () => {
  it('a passing zone-key deploy verifies and ends nothing; a failing one has no rollback and fails the rotation', async () => {
    const zone = fleet.sandbox.zones[0]!;
    const plan = planFor(fleet, { material: 'ZONE_SIGNING_KEY', zone_id: zone });
    const previous = (await fetch(`${fleet.sandbox.services.sts}/.well-known/jwks.json?zone_id=${zone}`).then((r) => r.json())) as { keys: { kid: string }[] };
    const { kid } = await rotateZoneSigningKey(fleet.sandbox.services.sts, await fleet.secret('stsAdminToken'), zone);
    const good = await send('written', plan, 'deploy', { newKid: kid, previousKid: previous.keys[0]!.kid });
    expect((await verifiedOf(good)).data).toMatchObject({ phase: 'deploy', ok: true });

    const bad = await send('written', plan, 'deploy', { newKid: '01a232ad-ffff-7000-8000-000000000000', previousKid: kid });
    expect((await verifiedOf(bad)).data).toMatchObject({ ok: false });
    await expect.poll(async () => (await entriesFor(bus, runtime.streams.failed, bad.rotationId)).length, { timeout: 10_000 }).toBe(1);
    const [failed] = await entriesFor(bus, runtime.streams.failed, bad.rotationId);
    expect(failed!.data).toMatchObject({ zone_id: zone, phase: 'deploy', rolled_back: false });
    expect(failed!.data.error).toMatch(/cannot be rolled back/);
    expect(await entriesFor(bus, runtime.streams.failed, good.rotationId)).toEqual([]);
  });

  it('a rollback that verifies ends the rotation failed, rolled back', async () => {
    const plan = planFor(fleet, { material: 'CARACAL_COORDINATOR_TOKEN' });
    const kids = await fleet.rotate('caracalCoordinatorToken', newRotationId());
    await restart('coordinator');
    const sent = await send('rolled', plan, 'rollback', kids, {
      holders: [{ service: 'coordinator', ok: true, restarted_at: new Date().toISOString(), ready_at: new Date().toISOString(), attempts: 1 }],
    });
    const verified = await verifiedOf(sent);
    expect(verified.data).toMatchObject({ phase: 'rollback', ok: true });
    expect((verified.data.checks as { name: string }[]).map((c) => c.name)).toContain('holders_restarted');
    await expect.poll(async () => (await entriesFor(bus, runtime.streams.failed, sent.rotationId)).length, { timeout: 10_000 }).toBe(1);
    const [failed] = await entriesFor(bus, runtime.streams.failed, sent.rotationId);
    expect(failed!.data).toMatchObject({ phase: 'rollback', rolled_back: true, error: 'CARACAL_COORDINATOR_TOKEN was rolled back and the rollback verified' });
  });

  it('a rolled event that reports a holder down fails holders_restarted with the roller\'s error', async () => {
    const plan = planFor(fleet, { material: 'CARACAL_COORDINATOR_TOKEN' });
    const current = await fleet.secret('caracalCoordinatorToken');
    const sent = await send('rolled', plan, 'deploy', { newKid: keyIdOf(current) }, {
      holders: [{ service: 'coordinator', ok: false, restarted_at: null, ready_at: null, attempts: 2, error: 'container caracal-coordinator-1 did not start' }],
    });
    const verified = await verifiedOf(sent);
    const check = (verified.data.checks as { name: string; ok: boolean; detail: string }[]).find((c) => c.name === 'holders_restarted');
    expect(check).toMatchObject({ ok: false, detail: 'coordinator: container caracal-coordinator-1 did not start' });
    // A deploy of a restorable material does not end on failure: the secret-writer rolls it back.
    expect(await entriesFor(bus, runtime.streams.failed, sent.rotationId)).toEqual([]);
  });

  it('an event the replay guard calls superseded is not verified again', async () => {
    const plan = planFor(fleet, { material: 'GATEWAY_STS_HMAC_KEY' });
    const rotationId = newRotationId();
    superseded.add(rotationId);
    const ref = await runtime.plans.put(newRotationId(), plan);
    await roller.publish({ stream: runtime.streams.written, name: 'written', eventId: newRotationId(), rotationId, data: { material: plan.material, plan: ref, phase: 'retire', new: { kid: 'a', location: 'x' }, changed: false } });
    const marker = await send('written', plan, 'retire', { newKid: 'b', previousKid: 'c' }, { changed: false });
    await verifiedOf(marker);
    expect(await entriesFor(bus, runtime.streams.verified, rotationId)).toEqual([]);
  });
});
