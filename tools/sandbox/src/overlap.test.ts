import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHexKey, keyIdOf } from '@caracal-rotation/bus';
import { caracalStreams } from '@caracal-rotation/contracts';
import { ensureSandboxSecrets } from './ensure-secrets.js';
import { fieldArgs, revocationFields } from '@caracal-rotation/caracal-protocol';
import { startFleet, type Fleet } from './supervisor.js';
import { dropNamespace, getJson, readSecretFile, streamEntries, testRedis, uniqueNamespace, waitFor, writeSecretFile } from './test-helpers.js';

/**
 * Holders read new material only when restarted, accept `_PREVIOUS` during an
 * overlap window unless told not to, and a pinned holder cannot come ready.
 */
const namespace = uniqueNamespace();
const streams = caracalStreams(namespace);
let tmp: string;
let secretsDir: string;
let fleet: Fleet;
let redis: Redis;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sandbox-overlap-'));
  secretsDir = path.join(tmp, 'secrets');
  await ensureSandboxSecrets(secretsDir);
  redis = testRedis();
  fleet = await startFleet({ secretsDir, redisUrl: process.env.REDIS_URL as string, namespace, members: ['sts', 'audit'], logDir: path.join(tmp, 'logs') });
});

afterAll(async () => {
  await fleet?.stop();
  if (redis) {
    await dropNamespace(redis, namespace);
    await redis.quit();
  }
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const kidOf = (hex: string) => keyIdOf(decodeHexKey(hex));
const revoked = async (sessionId: string) =>
  (await getJson(`${fleet.url('sts')}/internal/sessions/revoked?zone_id=z1&session_id=${sessionId}`)).body.revoked;
const publish = (keyHex: string, sessionId: string) =>
  redis.xadd(streams.sessionsRevoke, '*', ...fieldArgs(revocationFields(streams.sessionsRevoke, keyHex, { zone_id: 'z1', session_id: sessionId, reason: 'overlap' })));
const stsReady = () => waitFor(async () => (await getJson(`${fleet.url('sts')}/ready`)).status === 200, 'STS ready');

describe('overlap and readiness faults', () => {
  it('applies a revocation signed with the previous streams key during overlap, and refuses it without', async () => {
    const oldKey = await readSecretFile(secretsDir, 'streamsHmacKey');
    const newKey = randomBytes(32).toString('hex');
    await writeSecretFile(secretsDir, 'streamsHmacKeyPrevious', oldKey);
    await writeSecretFile(secretsDir, 'streamsHmacKey', newKey);

    await fleet.restart('sts');
    const health = (await getJson(`${fleet.url('sts')}/health`)).body;
    expect(health.kids).toMatchObject({ STREAMS_HMAC_KEY: kidOf(newKey) });
    expect(health.previous_kids).toMatchObject({ STREAMS_HMAC_KEY: kidOf(oldKey) });
    await stsReady();

    const signedOld = `s-${randomUUID()}`;
    const signedNew = `s-${randomUUID()}`;
    await publish(oldKey, signedOld);
    await publish(newKey, signedNew);
    await waitFor(async () => (await revoked(signedOld)) === true, 'old-key revocation applied during overlap');
    await waitFor(async () => (await revoked(signedNew)) === true, 'new-key revocation applied');

    fleet.setAcceptPrevious('sts', false);
    await fleet.restart('sts');
    expect((await getJson(`${fleet.url('sts')}/health`)).body.previous_kids).toEqual({});
    await stsReady();
    const refused = `s-${randomUUID()}`;
    const entryId = await publish(oldKey, refused);
    const dead = await waitFor(
      async () => (await streamEntries(redis, `${streams.sessionsRevoke}.dead`)).find((e) => e.fields.original_id === entryId),
      'old-key revocation dead-lettered',
    );
    expect(dead.fields.error).toBe('invalid_signature');
    expect(await revoked(refused)).toBe(false);
  });

  it('keeps a pinned holder unready with a reason until its material matches the pin', async () => {
    const kid = kidOf(await readSecretFile(secretsDir, 'auditHmacKey'));
    fleet.setPins('audit', { AUDIT_HMAC_KEY: '0123456789abcdef' });
    await fleet.restart('audit');
    const pinned = await getJson(`${fleet.url('audit')}/ready`);
    expect(pinned.status).toBe(503);
    expect(pinned.body.ready).toBe(false);
    expect(pinned.body.reason).toContain(`AUDIT_HMAC_KEY has kid ${kid}, but this holder is pinned to 0123456789abcdef`);

    fleet.setPins('audit', { AUDIT_HMAC_KEY: kid });
    await fleet.restart('audit');
    await waitFor(async () => (await getJson(`${fleet.url('audit')}/ready`)).status === 200, 'audit ready with a matching pin');
  });

  it('writes member output to the log directory and answers 404 for a member it does not run', async () => {
    const log = await fs.readFile(path.join(tmp, 'logs', 'audit.log'), 'utf8');
    expect(log.match(/"msg":"member started"/g)?.length).toBeGreaterThanOrEqual(3);
    expect((await getJson(`${fleet.controlUrl}/members/api/restart`, { method: 'POST' })).status).toBe(404);
  });
});
