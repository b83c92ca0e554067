import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring, PlanStore, Publisher, StaticKeyringSource } from '@caracal-rotation/bus';
import { loadConfig } from '@caracal-rotation/config';
import { DEFAULT_CATALOG, holdersConfigSchema, newRotationId, rotationStreams, stageEventId, type Plan, type PlanRef } from '@caracal-rotation/contracts';
import { buildPlan, validateRequest } from '@caracal-rotation/planning';
import { createServiceRuntime, initRotationDir, type ServiceRuntime } from '@caracal-rotation/runtime';
import { FileSecretStore, keyIdOf } from '@caracal-rotation/secrets';
import { deleteKeys, readStream, tempSecretsDir, testRedis, uniqueName } from '@caracal-rotation/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { secretWriterConfigSchema } from './config.js';
import { createSecretWriter } from './secret-writer.js';
import { buildWriters } from './writers/registry.js';

const prefix = uniqueName('t-writer');
const streams = rotationStreams(prefix);
const redis = testRedis();
const holders = holdersConfigSchema.parse({
  version: 2,
  services: Object.fromEntries(['api', 'sts', 'gateway', 'audit', 'coordinator'].map((s) => [s, { url: `http://127.0.0.1:9/${s}`, restart: { adapter: 'docker', container: `caracal-${s}-1` } }])),
});
const hex = (byte: string) => byte.repeat(32);

let secretsDir: string;
let rotationDir: string;
let runtime: ServiceRuntime;
let bus: Publisher;
let plans: PlanStore;
let caracal: FileSecretStore;

beforeAll(async () => {
  secretsDir = await tempSecretsDir({ auditHmacKey: hex('a1'), secretStoreKek: hex('5e'), secretStoreKekPrevious: hex('5e'), caracalAdminToken: hex('c3'), gatewayStsHmacKey: hex('9d') });
  rotationDir = await mkdtemp(join(tmpdir(), 'writer-rotation-'));
  await initRotationDir({ rotationDir, secretsDir, operator: 'alice@ops' });
  const config = loadConfig(secretWriterConfigSchema, {
    REDIS_URL: process.env.REDIS_URL,
    CARACAL_SECRETS_DIR: secretsDir,
    CARACAL_ROTATION_DIR: rotationDir,
    CARACAL_HOLDERS: '/unused',
    STREAM_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    CONSUMER_BLOCK_MS: '100',
  });
  runtime = await createServiceRuntime('secret-writer', config, { failsRotationsOnDeadLetter: true });
  caracal = new FileSecretStore({ dir: secretsDir });
  const rotation = new FileSecretStore({ dir: rotationDir });
  await runtime.startConsumer(createSecretWriter({ runtime, catalog: DEFAULT_CATALOG, writers: { caracal: buildWriters(caracal, holders), rotation: buildWriters(rotation, holders) }, stores: { caracal, rotation } }));
  bus = new Publisher(redis, new StaticKeyringSource(Keyring.fromHex((await readFile(join(rotationDir, 'busKey'), 'utf8')).trim())), 'planner/test');
  plans = new PlanStore(redis, prefix);
});

afterAll(async () => {
  await runtime.shutdown.shutdown('test over');
  await deleteKeys(redis, prefix);
  await deleteKeys(redis, `{${prefix}}`);
  redis.disconnect();
  await rm(secretsDir, { recursive: true, force: true });
  await rm(rotationDir, { recursive: true, force: true });
});

const read = async (name: string) => (await readFile(join(secretsDir, name), 'utf8').catch(() => undefined))?.trim();

/** A planned rotation as the planner would publish it. */
async function plan(material: string, extra: Record<string, unknown> = {}): Promise<{ id: string; ref: PlanRef; plan: Plan; subject: Record<string, unknown> }> {
  const verdict = validateRequest({ material, reason: 'test', ...extra }, DEFAULT_CATALOG);
  if (!verdict.ok) throw new Error(verdict.message);
  const id = newRotationId();
  const p = buildPlan(verdict.request, { requestedAt: new Date().toISOString(), actor: 'alice@ops', streamPrefix: prefix, holders });
  const ref = await plans.put(id, p);
  const subject = { material: p.material, role: p.role, zone_id: p.zone_id, plan: ref };
  await bus.publish({ stream: streams.planned, name: 'planned', eventId: stageEventId(id, 'planner', 'plan'), rotationId: id, data: { ...subject, actor: 'alice@ops', dry_run: false } });
  return { id, ref, plan: p, subject };
}

const verified = (id: string, subject: Record<string, unknown>, phase: string, ok = true) =>
  bus.publish({ stream: streams.verified, name: 'verified', eventId: stageEventId(id, 'verifier', phase), rotationId: id, data: { ...subject, phase, ok, checks: [] } });
const retiring = (id: string, subject: Record<string, unknown>) =>
  bus.publish({ stream: streams.retiring, name: 'retiring', eventId: stageEventId(id, 'recorder', 'retire'), rotationId: id, data: { ...subject, drain: [], window_ended_at: new Date().toISOString() } });
const rollback = (id: string, subject: Record<string, unknown>) =>
  bus.publish({ stream: streams.rollback, name: 'rollback', eventId: newRotationId(), rotationId: id, data: { ...subject, actor: 'alice@ops', reason: 'test' } });

async function outputs(stream: string, id: string, count = 1) {
  return vi.waitFor(
    async () => {
      const found = (await readStream(redis, stream)).filter((e) => e.fields.rotation_id === id).map((e) => JSON.parse(e.fields.data!) as Record<string, unknown>);
      expect(found.length).toBeGreaterThanOrEqual(count);
      return found;
    },
    { timeout: 8000, interval: 50 },
  );
}
const writtenPhases = async (id: string) => (await readStream(redis, streams.written)).filter((e) => e.fields.rotation_id === id).map((e) => JSON.parse(e.fields.data!).phase as string);
const settle = () => new Promise((r) => setTimeout(r, 600));

describe('secret-writer', () => {
  it('deploys a single-value key, retires nothing to change, and ends the record for good', async () => {
    const before = await read('auditHmacKey');
    const r = await plan('AUDIT_HMAC_KEY');
    const [deploy] = await outputs(streams.written, r.id);
    const after = await read('auditHmacKey');
    expect(after).not.toBe(before);
    expect(deploy).toMatchObject({ phase: 'deploy', changed: true, new: { kid: keyIdOf(after!) }, previous: { kid: keyIdOf(before!) } });

    // Retirement needs a passing deploy verification first.
    await bus.publish({ stream: streams.retiring, name: 'retiring', eventId: newRotationId(), rotationId: r.id, data: { ...r.subject, drain: [], window_ended_at: new Date().toISOString() } });
    await settle();
    expect(await writtenPhases(r.id)).toEqual(['deploy']);
    await verified(r.id, r.subject, 'deploy');
    await settle();
    await retiring(r.id, r.subject);
    await vi.waitFor(async () => expect(await writtenPhases(r.id)).toEqual(['deploy', 'retire']), { timeout: 8000 });
    expect(await read('auditHmacKey')).toBe(after);

    // Anything later is a replay of an ended rotation: refused, answered only by a failed the recorder ignores.
    await deleteKeys(redis, `seen:${streams.planned}`);
    await bus.publish({ stream: streams.planned, name: 'planned', eventId: stageEventId(r.id, 'planner', 'plan'), rotationId: r.id, data: { ...r.subject, actor: 'alice@ops', dry_run: false } });
    const [refused] = await outputs(streams.failed, r.id);
    expect(refused!.error).toMatch(/refused: the rotation already ended \(retired\)/);
    expect(await read('auditHmacKey')).toBe(after);
    expect(await writtenPhases(r.id)).toEqual(['deploy', 'retire']);
  });

  it('keeps a retirement that came before its deploy verification was noted, and retires once the verification is in', async () => {
    // The recorder emits retiring after it saw verified(deploy); this writer notes that
    // verification from the verified stream, which a crashed replica may still hold.
    const r = await plan('GATEWAY_STS_HMAC_KEY');
    await outputs(streams.written, r.id);
    await retiring(r.id, r.subject);
    await settle();
    expect(await writtenPhases(r.id)).toEqual(['deploy']);
    await verified(r.id, r.subject, 'deploy');
    await vi.waitFor(async () => expect(await writtenPhases(r.id)).toEqual(['deploy', 'retire']), { timeout: 15_000, interval: 100 });
    expect((await readStream(redis, `${streams.retiring}.dead`)).filter((e) => e.fields.original_id && JSON.parse(e.fields.values!).rotation_id === r.id)).toEqual([]);
  });

  it('stages, deploys and retires the KEK, leaving a resting copy of the new KEK as previous', async () => {
    const old = await read('secretStoreKek');
    const r = await plan('ZONE_KEK');
    await outputs(streams.written, r.id);
    const next = await read('secretStoreKekPrevious');
    expect(await read('secretStoreKek')).toBe(old);
    expect(next).not.toBe(old);
    await verified(r.id, r.subject, 'stage');
    await vi.waitFor(async () => expect(await writtenPhases(r.id)).toEqual(['stage', 'deploy']), { timeout: 8000 });
    expect(await read('secretStoreKek')).toBe(next);
    expect(await read('secretStoreKekPrevious')).toBe(old);
    await verified(r.id, r.subject, 'deploy');
    await settle();
    await retiring(r.id, r.subject);
    await vi.waitFor(async () => expect(await writtenPhases(r.id)).toContain('retire'), { timeout: 8000 });
    expect(await read('secretStoreKek')).toBe(next);
    expect(await read('secretStoreKekPrevious')).toBe(next);
  });

  it('rolls the admin token forward to a fresh value: Caracal never un-revokes the old one', async () => {
    const old = await read('caracalAdminToken');
    const r = await plan('CARACAL_ADMIN_TOKEN');
    await outputs(streams.written, r.id);
    const deployed = await read('caracalAdminToken');
    await verified(r.id, r.subject, 'deploy', false);
    await vi.waitFor(async () => expect(await writtenPhases(r.id)).toEqual(['deploy', 'rollback']), { timeout: 8000 });
    const fresh = await read('caracalAdminToken');
    expect(fresh).not.toBe(old);
    expect(fresh).not.toBe(deployed);
  });

  it('applies only one of a retirement and an operator rollback that race, and tells the operator when theirs lost', async () => {
    const r = await plan('GATEWAY_STS_HMAC_KEY');
    await outputs(streams.written, r.id);
    await verified(r.id, r.subject, 'deploy');
    await settle();
    await Promise.all([retiring(r.id, r.subject), rollback(r.id, r.subject)]);
    await settle();
    await settle();
    const phases = await writtenPhases(r.id);
    expect(phases[0]).toBe('deploy');
    expect(phases.slice(1)).toHaveLength(1);
    if (phases[1] === 'retire') {
      const [refusal] = await outputs(streams.rejected, r.id);
      expect(refusal).toMatchObject({ intent: 'rollback', reason_code: 'not_rollbackable' });
      expect(String(refusal!.message)).toMatch(/retirement already began|ended \(retired\)/);
    }
  });

  it('refuses a plan that names a file its own catalog does not, and an unsafe secrets directory', async () => {
    const verdict = validateRequest({ material: 'AUDIT_HMAC_KEY', reason: 'test' }, DEFAULT_CATALOG);
    if (!verdict.ok) throw new Error(verdict.message);
    const id = newRotationId();
    const forged = buildPlan(verdict.request, { requestedAt: new Date().toISOString(), actor: 'x', streamPrefix: prefix, holders });
    const ref = await plans.put(id, { ...forged, secret: { ...forged.secret!, file: 'streamsHmacKey' } });
    await bus.publish({ stream: streams.planned, name: 'planned', eventId: stageEventId(id, 'planner', 'plan'), rotationId: id, data: { material: 'AUDIT_HMAC_KEY', plan: ref, actor: 'x', dry_run: false } });
    expect((await outputs(streams.failed, id))[0]!.error).toMatch(/catalog keeps AUDIT_HMAC_KEY in auditHmacKey/);

    await chmod(secretsDir, 0o755);
    try {
      const r = await plan('GATEWAY_STS_HMAC_KEY');
      expect((await outputs(streams.failed, r.id))[0]!.error).toMatch(/unsafe_store|accessible/);
    } finally {
      await chmod(secretsDir, 0o700);
    }
  });
});
