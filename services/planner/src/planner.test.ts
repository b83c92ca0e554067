import { chmod, rm } from 'node:fs/promises';
import { Keyring, Publisher, StaticKeyringSource, type StreamConsumer } from '@caracal-rotation/bus';
import { loadConfig } from '@caracal-rotation/config';
import { DEFAULT_CATALOG, newRotationId, rotationStreams } from '@caracal-rotation/contracts';
import { createServiceRuntime, type ServiceRuntime } from '@caracal-rotation/runtime';
import { SecretStore } from '@caracal-rotation/secrets';
import { deleteKeys, readStream, tempSecretsDir, testRedis, uniqueName } from '@caracal-rotation/testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { plannerConfigSchema } from './config.js';
import { createPlanner } from './planner.js';

const prefix = uniqueName('t-planner');
const streams = rotationStreams(prefix);
const redis = testRedis();
let dir: string;
let runtime: ServiceRuntime;
let consumer: StreamConsumer;
let operator: Publisher;

const hex = (n: number) => Array.from({ length: n }, (_, i) => ((i * 7 + 3) % 16).toString(16)).join('');

beforeAll(async () => {
  dir = await tempSecretsDir({ auditHmacKey: hex(64), gatewayStsHmacKey: hex(64), caracalAdminToken: hex(64) });
  const config = loadConfig(plannerConfigSchema, {
    REDIS_URL: process.env.REDIS_URL,
    CARACAL_SECRETS_DIR: dir,
    STREAM_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    CONSUMER_BLOCK_MS: '100',
  });
  runtime = await createServiceRuntime('planner', config);
  const planner = createPlanner({ runtime, catalog: DEFAULT_CATALOG, store: new SecretStore({ dir }), caracalNamespace: '' });
  consumer = await runtime.startConsumer(planner.subscriptions);
  const key = readFileSync(join(dir, 'streamsHmacKey'), 'utf8');
  operator = new Publisher(redis, new StaticKeyringSource(Keyring.fromHex(key)), 'operator/test');
});

afterAll(async () => {
  await runtime.shutdown.shutdown('test over');
  await deleteKeys(redis, prefix);
  await deleteKeys(redis, `{${prefix}}`);
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
});

async function request(data: Record<string, unknown>): Promise<string> {
  const rotationId = newRotationId();
  await operator.publish({ stream: streams.requested, name: 'requested', eventId: newRotationId(), rotationId, data });
  return rotationId;
}

async function answerFor(rotationId: string, stream: string) {
  return vi.waitFor(
    async () => {
      const found = (await readStream(redis, stream)).filter((e) => e.fields.rotation_id === rotationId);
      expect(found.length).toBeGreaterThan(0);
      return found;
    },
    { timeout: 5000, interval: 50 },
  );
}

async function complete(rotationId: string, material: string, extra: Record<string, unknown> = {}) {
  await operator.publish({
    stream: streams.completed,
    name: 'completed',
    eventId: newRotationId(),
    rotationId,
    data: { material, new_kid: 'n', previous_kid: 'p', completed_at: new Date().toISOString(), ...extra },
  });
}

const base = { reason: 'quarterly rotation', actor: 'alice@example.com' };

describe('planner', () => {
  it('rejects an unknown material with unknown_material', async () => {
    const id = await request({ ...base, material: 'MOON_KEY' });
    const [answer] = await answerFor(id, streams.rejected);
    expect(answer!.data).toMatchObject({ reason_code: 'unknown_material', material: 'MOON_KEY' });
  });

  it('rejects a request without a reason with invalid_request', async () => {
    const id = await request({ material: 'AUDIT_HMAC_KEY', actor: 'alice' });
    const [answer] = await answerFor(id, streams.rejected);
    expect(answer!.data.reason_code).toBe('invalid_request');
    expect(answer!.data.message).toMatch(/reason/);
  });

  it('plans a dual-overlap key with a stage phase, baseline checks and holders in roll order', async () => {
    const id = await request({ ...base, material: 'AUDIT_HMAC_KEY' });
    const [planned] = await answerFor(id, streams.planned);
    const plan = planned!.data.plan as Record<string, unknown>;
    expect(plan.phases).toEqual(['stage', 'deploy', 'retire']);
    expect((plan.holders as { service: string }[]).map((h) => h.service)).toEqual(['api', 'sts', 'gateway', 'audit', 'console']);
    expect((plan.checks as { deploy: string[] }).deploy).toEqual(
      expect.arrayContaining(['holders_ready', 'audit_ingest', 'revocation_propagation', 'gateway_exchange', 'audit_mismatch_rejected']),
    );
    expect(plan.requested).toMatchObject({ actor: 'alice@example.com', reason: 'quarterly rotation' });

    // A second request for the same material is a duplicate while the first is in flight.
    const dup = await request({ ...base, material: 'AUDIT_HMAC_KEY' });
    const [rejected] = await answerFor(dup, streams.rejected);
    expect(rejected!.data.reason_code).toBe('duplicate_in_flight');

    // Another class waits in the queue, then is planned when the first completes.
    const other = await request({ ...base, material: 'GATEWAY_STS_HMAC_KEY' });
    const [queued] = await answerFor(other, streams.queued);
    expect(queued!.data).toMatchObject({ material: 'GATEWAY_STS_HMAC_KEY', waiting_for: 'AUDIT_HMAC_KEY', position: 1 });
    expect((await readStream(redis, streams.planned)).some((e) => e.fields.rotation_id === other)).toBe(false);

    await complete(id, 'AUDIT_HMAC_KEY');
    const [plannedLater] = await answerFor(other, streams.planned);
    expect(plannedLater!.data.material).toBe('GATEWAY_STS_HMAC_KEY');
    await complete(other, 'GATEWAY_STS_HMAC_KEY');
  });

  it('fans a zone batch out into one rotation per zone and lets other zones join the class', async () => {
    const batch = await request({ ...base, material: 'ZONE_SIGNING_KEY', zone_ids: ['zone_a', 'zone_b'] });
    const planned = await vi.waitFor(async () => {
      const rows = (await readStream(redis, streams.planned)).filter((e) => e.data.batch_id === batch);
      expect(rows).toHaveLength(2);
      return rows;
    });
    expect(new Set(planned.map((p) => p.data.zone_id))).toEqual(new Set(['zone_a', 'zone_b']));
    expect(new Set(planned.map((p) => p.fields.rotation_id)).size).toBe(2);
    expect(planned.every((p) => p.fields.rotation_id !== batch)).toBe(true);

    const again = await request({ ...base, material: 'ZONE_SIGNING_KEY', zone_id: 'zone_a' });
    expect((await answerFor(again, streams.rejected))[0]!.data.reason_code).toBe('duplicate_in_flight');
    const joiner = await request({ ...base, material: 'ZONE_SIGNING_KEY', zone_id: 'zone_c' });
    expect((await answerFor(joiner, streams.planned))[0]!.data.zone_id).toBe('zone_c');

    for (const p of planned) await complete(p.fields.rotation_id!, 'ZONE_SIGNING_KEY', { zone_id: p.data.zone_id });
    await complete(joiner, 'ZONE_SIGNING_KEY', { zone_id: 'zone_c' });
  });

  it('plans a dry run without taking the lock', async () => {
    const dry = await request({ ...base, material: 'CARACAL_ADMIN_TOKEN', dry_run: true });
    const [planned] = await answerFor(dry, streams.planned);
    expect((planned!.data.plan as { dry_run: boolean }).dry_run).toBe(true);
    expect((planned!.data.plan as { warnings: string[] }).warnings.join()).toMatch(/restarts together/);
    const real = await request({ ...base, material: 'CARACAL_ADMIN_TOKEN' });
    expect((await answerFor(real, streams.planned))[0]!.data.material).toBe('CARACAL_ADMIN_TOKEN');
    await complete(real, 'CARACAL_ADMIN_TOKEN');
  });

  it('refuses a missing key-encryption key instead of regenerating it', async () => {
    const id = await request({ ...base, material: 'SECRET_STORE_KEK' });
    const [answer] = await answerFor(id, streams.rejected);
    expect(answer!.data).toMatchObject({ reason_code: 'material_missing' });
    expect(answer!.data.message).toMatch(/never regenerated/);
  });

  it('refuses to plan against a group- or world-readable secrets directory', async () => {
    await chmod(dir, 0o755);
    try {
      const id = await request({ ...base, material: 'GATEWAY_STS_HMAC_KEY' });
      const [answer] = await answerFor(id, streams.rejected);
      expect(answer!.data.reason_code).toBe('unsafe_store');
    } finally {
      await chmod(dir, 0o700);
    }
  });

  it('keeps no pending entries behind', async () => {
    await vi.waitFor(async () => expect(consumer.inFlightCount).toBe(0));
    const pending = (await redis.xpending(streams.requested, 'planner')) as [number];
    expect(pending[0]).toBe(0);
  });
});
