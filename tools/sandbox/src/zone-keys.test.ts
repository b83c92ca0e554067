import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caracalStreams } from '@caracal-rotation/contracts';
import { fieldArgs } from '@caracal-rotation/caracal-protocol';
import { ensureSandboxSecrets } from './ensure-secrets.js';
import { keyInvalidationFields } from '@caracal-rotation/caracal-protocol';
import { JWKS_CACHE_CONTROL, STS_KEYS_GROUP, jwksUrlPath, retirePreviousSigningKeyPath, rotateSigningKeyPath } from './member/zone-keys/paths.js';
import { startFleet, type Fleet } from './supervisor.js';
import { dropNamespace, getJson, postJson, readSecretFile, streamEntries, testRedis, uniqueNamespace, waitFor } from './test-helpers.js';

const namespace = uniqueNamespace();
const streams = caracalStreams(namespace);
// Short, so the test can watch the previous key age out of the JWKS.
const PREVIOUS_WINDOW_MS = 3000;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
let tmp: string;
let secretsDir: string;
let fleet: Fleet;
let redis: Redis;
let token: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sandbox-zones-'));
  secretsDir = path.join(tmp, 'secrets');
  await ensureSandboxSecrets(secretsDir);
  token = await readSecretFile(secretsDir, 'stsAdminToken');
  redis = testRedis();
  fleet = await startFleet({ secretsDir, redisUrl: process.env.REDIS_URL as string, namespace, members: ['sts'], jwksPreviousWindowMs: PREVIOUS_WINDOW_MS });
});

afterAll(async () => {
  await fleet?.stop();
  if (redis) {
    await dropNamespace(redis, namespace);
    await redis.quit();
  }
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const sts = (p: string) => `${fleet.url('sts')}${p}`;
const jwksKids = async (zone: string) => ((await getJson(sts(jwksUrlPath(zone)))).body.keys as { kid: string }[]).map((k) => k.kid);
const rotate = async (zone: string) => (await postJson(sts(rotateSigningKeyPath(zone)), {}, token)).body;
const mandate = async (zone: string) => (await postJson(sts('/internal/mandates'), { zone_id: zone, subject: 'agent-1', ttl_seconds: 600 }, token)).body.mandate as string;
const verify = async (zone: string, m: string) => (await postJson(sts('/internal/mandates/verify'), { mandate: m, zone_id: zone })).body;

describe('STS zone signing keys', () => {
  it('guards its admin endpoints with STS_ADMIN_TOKEN only', async () => {
    const caracalAdmin = await readSecretFile(secretsDir, 'caracalAdminToken');
    expect((await postJson(sts('/internal/zones'), { zone_ids: ['z'] })).status).toBe(401);
    expect((await postJson(sts('/internal/zones'), { zone_ids: ['z'] }, caracalAdmin)).status).toBe(401);
    expect((await getJson(sts('/internal/zones'))).status).toBe(401);
    expect((await postJson(sts(rotateSigningKeyPath('z')), {})).status).toBe(401);
    expect((await postJson(sts('/internal/mandates'), { zone_id: 'z', subject: 's' })).status).toBe(401);
  });

  it('creates zones idempotently, lists them, and serves a Caracal-shaped JWKS', async () => {
    expect((await postJson(sts('/internal/zones'), { zone_ids: ['zone-a', 'zone-b'] }, token)).body).toEqual({ created: 2, existing: 0 });
    const kidA = (await jwksKids('zone-a'))[0];
    expect((await postJson(sts('/internal/zones'), { zone_ids: ['zone-a', 'zone-c'] }, token)).body).toEqual({ created: 1, existing: 1 });
    expect(await jwksKids('zone-a')).toEqual([kidA]);
    expect((await postJson(sts('/internal/zones'), { zone_ids: ['*'] }, token)).status).toBe(400);
    expect((await getJson(sts('/internal/zones'), { headers: { authorization: `Bearer ${token}` } })).body).toEqual({ zones: ['zone-a', 'zone-b', 'zone-c'] });

    expect((await getJson(sts('/.well-known/jwks.json'))).status).toBe(400);
    expect((await getJson(sts(jwksUrlPath('no-such-zone')))).status).toBe(404);
    const res = await fetch(sts(jwksUrlPath('zone-a')));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe(JWKS_CACHE_CONTROL);
    const { keys } = (await res.json()) as { keys: Record<string, string>[] };
    expect(keys).toHaveLength(1);
    expect(Object.keys(keys[0] as object)).toEqual(['kty', 'crv', 'use', 'alg', 'kid', 'x', 'y']);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'sig', alg: 'ES256', kid: expect.stringMatching(UUID_V7) });
  });

  it('rotates with overlap: old mandates verify until the previous key is retired, then are refused', async () => {
    const [kidA] = await jwksKids('zone-a');
    const oldMandate = await mandate('zone-a');
    expect(decodeProtectedHeader(oldMandate)).toMatchObject({ alg: 'ES256', kid: kidA });
    // A relying party's own check, over the JWKS as served.
    const jwks = (await getJson(sts(jwksUrlPath('zone-a')))).body as unknown as JSONWebKeySet;
    expect((await jwtVerify(oldMandate, createLocalJWKSet(jwks))).payload).toMatchObject({ sub: 'agent-1', zone_id: 'zone-a' });

    const rotated = await rotate('zone-a');
    expect(rotated).toEqual({ rotated: true, zone_id: 'zone-a', kid: expect.stringMatching(UUID_V7) });
    const kidB = rotated.kid as string;
    expect(await jwksKids('zone-a')).toEqual([kidB, kidA]);
    expect(await verify('zone-a', oldMandate)).toEqual({ valid: true, kid: kidA });
    const newMandate = await mandate('zone-a');
    expect(decodeProtectedHeader(newMandate).kid).toBe(kidB);
    expect(await verify('zone-a', newMandate)).toEqual({ valid: true, kid: kidB });
    expect(await verify('zone-b', newMandate)).toMatchObject({ valid: false, error: 'ERR_JWKS_NO_MATCHING_KEY' });

    const retire = (body: unknown) => postJson(sts(retirePreviousSigningKeyPath('zone-a')), body, token);
    expect((await retire({ kid: kidB })).status).toBe(409);
    expect((await retire({ kid: kidA })).body).toEqual({ retired: true, zone_id: 'zone-a', kid: kidA });
    expect(await jwksKids('zone-a')).toEqual([kidB]);
    expect(await verify('zone-a', oldMandate)).toEqual({ valid: false, kid: kidA, error: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect((await retire({})).body).toEqual({ retired: false, zone_id: 'zone-a', kid: null });
    expect((await postJson(sts(retirePreviousSigningKeyPath('no-such-zone')), {}, token)).status).toBe(404);

    // Rotating a zone without a key creates its first one.
    const first = await rotate('zone-new');
    expect(await jwksKids('zone-new')).toEqual([first.kid]);
  });

  it('drops the previous key from the JWKS once the active key is older than the window', async () => {
    const { kid } = await rotate('zone-b');
    expect(await jwksKids('zone-b')).toHaveLength(2);
    await waitFor(async () => (await jwksKids('zone-b')).length === 1, 'previous key ages out', PREVIOUS_WINDOW_MS + 5000);
    expect(await jwksKids('zone-b')).toEqual([kid]);
  });

  it('keeps zone keys across an STS restart', async () => {
    const before = await jwksKids('zone-c');
    const signedBefore = await mandate('zone-c');
    await fleet.restart('sts');
    expect(await jwksKids('zone-c')).toEqual(before);
    expect(await verify('zone-c', signedBefore)).toEqual({ valid: true, kid: before[0] });
  });

  it('consumes caracal.keys.invalidate as sts-keys, dead-lettering a forged message', async () => {
    const key = await readSecretFile(secretsDir, 'streamsHmacKey');
    await redis.xadd(streams.keysInvalidate, '*', ...fieldArgs(keyInvalidationFields(streams.keysInvalidate, key, 'zone-a')));
    await waitFor(async () => ((await getJson(sts('/internal/stats'))).body.keys_invalidated as number) >= 1, 'invalidation applied');
    const forged = keyInvalidationFields(streams.keysInvalidate, randomBytes(32).toString('hex'), 'zone-a');
    const forgedId = await redis.xadd(streams.keysInvalidate, '*', ...fieldArgs(forged));
    const dead = await waitFor(
      async () => (await streamEntries(redis, `${streams.keysInvalidate}.dead`)).find((e) => e.fields.original_id === forgedId),
      'forged invalidation dead-lettered',
    );
    expect(dead.fields.error).toBe('invalid_signature');
    await waitFor(async () => (await redis.xpending(streams.keysInvalidate, STS_KEYS_GROUP, '-', '+', 10)).length === 0, 'both acknowledged');
  });

  it('keeps every zone of thousands, and rotates any of them (speed is measured by the benchmark, not here)', async () => {
    const zoneIds = Array.from({ length: 3000 }, (_, i) => `bulk-${i}`);
    expect((await postJson(sts('/internal/zones'), { zone_ids: zoneIds }, token)).body).toEqual({ created: 3000, existing: 0 });
    const rotated = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const result = await rotate(`bulk-${(i * 29) % 3000}`);
      expect(result.rotated).toBe(true);
      rotated.add(result.kid as string);
    }
    expect(rotated.size).toBe(100);
    expect(((await getJson(sts('/internal/zones'), { headers: { authorization: `Bearer ${token}` } })).body.zones as string[]).length).toBeGreaterThanOrEqual(3000);
  });
});
