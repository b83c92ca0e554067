import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caracalStreams } from '@caracal-rotation/contracts';
import { ensureSandboxSecrets } from './ensure-secrets.js';
import { MEMBER_NAMES, type MemberName } from './members.js';
import { GATEWAY_EXCHANGE_PATH, fieldArgs, revocationFields, signAuditEvent, signGatewayExchange } from '@caracal-rotation/caracal-protocol';
import { startFleet, type Fleet } from './supervisor.js';
import { STS_REVOCATION_GROUP } from './member/roles/sts.js';
import { dropNamespace, getJson, postJson, readSecretFile, streamEntries, testRedis, uniqueNamespace, waitFor } from './test-helpers.js';

const namespace = uniqueNamespace();
const streams = caracalStreams(namespace);
let tmp: string;
let secretsDir: string;
let fleet: Fleet;
let redis: Redis;
let adminToken: string;
let coordinatorToken: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sandbox-fleet-'));
  secretsDir = path.join(tmp, 'secrets');
  await ensureSandboxSecrets(secretsDir);
  adminToken = await readSecretFile(secretsDir, 'caracalAdminToken');
  coordinatorToken = await readSecretFile(secretsDir, 'caracalCoordinatorToken');
  redis = testRedis();
  fleet = await startFleet({ secretsDir, redisUrl: process.env.REDIS_URL as string, namespace });
});

afterAll(async () => {
  await fleet?.stop();
  if (redis) {
    await dropNamespace(redis, namespace);
    await redis.quit();
  }
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const revoked = async (member: MemberName, zoneId: string, sessionId: string) =>
  (await getJson(`${fleet.url(member)}/internal/sessions/revoked?zone_id=${zoneId}&session_id=${sessionId}`)).body.revoked;

describe('sandbox fleet', () => {
  it('brings every member ready, in its Caracal /ready shape, with /health proving the process', async () => {
    const expected: Record<MemberName, Record<string, unknown>> = {
      api: { ok: true },
      coordinator: { ok: true },
      console: { ok: true },
      sts: { ok: true, ready: true },
      gateway: { ok: true, ready: true },
      audit: { ready: true },
    };
    for (const name of MEMBER_NAMES) {
      const ready = await waitFor(async () => {
        const r = await getJson(`${fleet.url(name)}/ready`);
        return r.status === 200 && r.body;
      }, `${name} ready`);
      expect(ready).toEqual(expected[name]);
      const health = await getJson(`${fleet.url(name)}/health`);
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ ok: true, service: name, pid: expect.any(Number) });
      expect(health.body.started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(health.body.boot_id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('applies a revocation published through the API in STS and Gateway', async () => {
    const sessionId = `s-${randomUUID()}`;
    const published = await postJson(`${fleet.url('api')}/v1/sessions/revoke`, { zone_id: 'z1', session_id: sessionId, reason: 'test' }, adminToken);
    expect(published.status).toBe(202);
    expect(published.body.entry_id).toMatch(/^\d+-\d+$/);
    await waitFor(async () => (await revoked('sts', 'z1', sessionId)) === true, 'STS applies the revocation');
    await waitFor(async () => (await revoked('gateway', 'z1', sessionId)) === true, 'Gateway applies the revocation');
    expect(await revoked('sts', 'z1', 'some-other-session')).toBe(false);
  });

  it('dead-letters a revocation with one tampered field and does not apply it', async () => {
    const key = await readSecretFile(secretsDir, 'streamsHmacKey');
    const sessionId = `s-${randomUUID()}`;
    const fields = revocationFields(streams.sessionsRevoke, key, { zone_id: 'z1', session_id: sessionId, reason: 'test' });
    const entryId = (await redis.xadd(streams.sessionsRevoke, '*', ...fieldArgs({ ...fields, reason: 'tampered' }))) as string;
    const dead = await waitFor(async () => {
      const entries = (await streamEntries(redis, `${streams.sessionsRevoke}.dead`)).filter((e) => e.fields.original_id === entryId);
      return entries.length === 2 && entries;
    }, 'both consumers dead-letter the entry');
    for (const { fields: d } of dead) {
      expect(d.error).toBe('invalid_signature');
      expect(JSON.parse(d.values as string)).toMatchObject({ session_id: sessionId, reason: 'tampered' });
    }
    expect(await revoked('sts', 'z1', sessionId)).toBe(false);
    expect(await revoked('gateway', 'z1', sessionId)).toBe(false);
    expect((await getJson(`${fleet.url('sts')}/internal/stats`)).body.invalid_signature).toBeGreaterThanOrEqual(1);
  });

  it('ingests an audit event sent through the API and dead-letters one with a wrong sig', async () => {
    const accepted = await postJson(`${fleet.url('api')}/v1/audit/events`, { event: { action: 'test.ok', n: 1 } }, adminToken);
    expect(accepted.status).toBe(202);
    const goodId = accepted.body.id as string;
    const outcome = (id: string) => getJson(`${fleet.url('audit')}/internal/audit/events/${id}`).then((r) => r.body);
    await waitFor(async () => (await outcome(goodId)).ingested === true, 'audit ingests the event');
    expect((await outcome(goodId)).dead_lettered).toBe(false);

    const badId = randomUUID();
    const data = JSON.stringify({ action: 'test.forged' });
    const entryId = await redis.xadd(streams.auditEvents, '*', 'id', badId, 'data', data, 'sig', signAuditEvent(randomBytes(32).toString('hex'), data));
    await waitFor(async () => (await outcome(badId)).dead_lettered === true, 'audit dead-letters the forged event');
    expect((await outcome(badId)).ingested).toBe(false);
    const dlq = (await streamEntries(redis, streams.auditDlq)).find((e) => e.fields.original_id === entryId);
    expect(dlq?.fields).toMatchObject({ reason: 'hmac_verify_failed', id: badId, data });
  });

  it('completes a gateway exchange and refuses a foreign key, a replayed nonce and a stale timestamp', async () => {
    const viaGateway = await postJson(`${fleet.url('gateway')}/internal/exchange`, {}, adminToken);
    expect(viaGateway).toEqual({ status: 200, body: { status: 200, ok: true } });

    const body = 'grant_type=test';
    const exchange = (headers: Record<string, string>) => getJson(`${fleet.url('sts')}${GATEWAY_EXCHANGE_PATH}`, { method: 'POST', headers, body });
    const sign = (key: string, extra: { nonce?: string; now?: number } = {}) => signGatewayExchange(key, { method: 'POST', path: GATEWAY_EXCHANGE_PATH, body, ...extra });

    const foreign = await exchange(sign(randomBytes(32).toString('hex')));
    expect(foreign).toEqual({ status: 401, body: { error: 'invalid gateway exchange signature' } });

    const key = await readSecretFile(secretsDir, 'gatewayStsHmacKey');
    const nonce = randomBytes(32).toString('hex');
    const first = await exchange(sign(key, { nonce }));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ token_type: 'Bearer', expires_in: 300, access_token: expect.any(String) });
    expect((await exchange(sign(key, { nonce }))).status).toBe(401);
    expect((await exchange(sign(key, { now: Date.now() - 120_000 }))).status).toBe(401);
  });

  it('accepts the current admin and coordinator tokens and refuses others', async () => {
    const get = (url: string, token?: string) => getJson(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    expect((await get(`${fleet.url('api')}/v1/admin/whoami`, adminToken)).status).toBe(200);
    expect((await get(`${fleet.url('api')}/v1/admin/whoami`, coordinatorToken)).status).toBe(401);
    expect((await get(`${fleet.url('api')}/v1/admin/whoami`)).status).toBe(401);
    expect(await get(`${fleet.url('coordinator')}/v1/agents`, coordinatorToken)).toEqual({ status: 200, body: { agents: [] } });
    expect((await get(`${fleet.url('coordinator')}/v1/agents`, adminToken)).status).toBe(401);
    expect((await get(`${fleet.url('console')}/internal/session`)).body).toEqual({ api: 200, coordinator: 200 });
  });

  it('turns the sealed-secret endpoints off without a database, even with DATABASE_URL in the environment', async () => {
    expect(process.env.DATABASE_URL).toBeTruthy();
    const check = await getJson(`${fleet.url('api')}/internal/sealed/check`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(check).toEqual({ status: 503, body: { error: 'DATABASE_URL is not configured' } });
    expect((await getJson(`${fleet.url('api')}/ready`)).status).toBe(200);
  });

  it('stops a member quickly on SIGTERM and has it re-read its own pending entries on start', async () => {
    const startedStop = Date.now();
    const stopped = await fleet.stopMember('sts');
    expect(Date.now() - startedStop).toBeLessThan(1500);
    expect(stopped.before?.pid).toEqual(expect.any(Number));

    const sessionId = `s-${randomUUID()}`;
    const published = await postJson(`${fleet.url('api')}/v1/sessions/revoke`, { zone_id: 'z1', session_id: sessionId, reason: 'pending' }, adminToken);
    // Deliver the entry to STS's consumer without acknowledging it, as if STS
    // had crashed between reading and applying it.
    await redis.xreadgroup('GROUP', STS_REVOCATION_GROUP, 'sts-sandbox', 'COUNT', 100, 'STREAMS', streams.sessionsRevoke, '>');
    const pendingBefore = (await redis.xpending(streams.sessionsRevoke, STS_REVOCATION_GROUP, '-', '+', 100)) as [string][];
    expect(pendingBefore.map(([id]) => id)).toContain(published.body.entry_id);

    await fleet.startMember('sts');
    await waitFor(async () => (await revoked('sts', 'z1', sessionId)) === true, 'STS applies its pending entry');
    // The entry is applied first and acknowledged right after.
    await waitFor(async () => (await redis.xpending(streams.sessionsRevoke, STS_REVOCATION_GROUP, '-', '+', 100)).length === 0, 'STS acknowledges it');
  });

  it('restarts a member through the control API with a new boot id and pid', async () => {
    const res = await getJson(`${fleet.controlUrl}/members/coordinator/restart`, { method: 'POST' });
    expect(res.status).toBe(200);
    const { before, after } = res.body as { before: { pid: number; boot_id: string }; after: { pid: number; boot_id: string } };
    expect(after.boot_id).not.toBe(before.boot_id);
    expect(after.pid).not.toBe(before.pid);
    const listed = (await getJson(`${fleet.controlUrl}/members`)).body.members as { name: string; pid: number; boot_id: string }[];
    expect(listed.find((m) => m.name === 'coordinator')).toMatchObject({ pid: after.pid, boot_id: after.boot_id });
    expect((await getJson(`${fleet.url('coordinator')}/health`)).body.boot_id).toBe(after.boot_id);

    const direct = await fleet.restart('sts');
    expect(direct.before?.boot_id).not.toBe(direct.after.boot_id);
    await waitFor(async () => (await getJson(`${fleet.url('sts')}/ready`)).status === 200, 'STS ready after restart');
  });
});
