import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRedisClient, decodeHexKey, signFields, SIGNATURE_FIELD, type RedisClient } from '@caracal-rotation/bus';
import {
  auditKeyProbe,
  counterOf,
  countRowsNotOnKek,
  fetchPolicyStatus,
  fetchZoneJwks,
  groupHasProcessed,
  INVALID_PASSWORD,
  postgresLogin,
  probeAdminToken,
  probeCoordinatorToken,
  probeId,
  publishPolicyInvalidation,
  publishRevocationProbe,
  readMetrics,
  redisAuth,
  type SealedCount,
  type ZoneJwk,
} from '@caracal-rotation/caracal-client';
import { caracalStreams, type CompletedData } from '@caracal-rotation/contracts';
import type { E2E } from './e2e-stack.js';

/**
 * What the sandbox replica of Caracal does with a value, seen through the
 * orchestrator's own probes of Caracal (libs/caracal-client) against the
 * replica's real endpoints and its Redis and Postgres: the tests' own eyes on
 * what the verifier claims. Every probe answers `accepted` or `refused`, or
 * throws when the answer proves neither.
 */
export type Verdict = 'accepted' | 'refused';

const STREAMS = caracalStreams('');
const PROBE_TIMEOUT_MS = 20_000;
/** The STS group that reloads zone policies (services/sts/internal/consumer.go). */
const OPA_GROUP = 'opa-engine';
const REVOCATIONS = 'caracal_gateway_revocation_messages_total';
const INVALID_REVOCATIONS = 'caracal_gateway_revocation_invalid_signatures_total';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function poll<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + PROBE_TIMEOUT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: no answer within ${PROBE_TIMEOUT_MS} ms`);
    await sleep(100);
  }
}

/** A file of Caracal's secrets directory, as Caracal reads it (trailing whitespace trimmed). */
export async function caracalSecret(e2e: E2E, name: string): Promise<string> {
  return (await readFile(join(e2e.stack.secretsDir, name), 'utf8')).trim();
}

/**
 * A connection to Caracal's Redis with the password its URL file holds now
 * (the one opened at start stops working once REDIS_PASSWORD is retired).
 */
export async function withCaracalRedis<T>(e2e: E2E, use: (redis: RedisClient) => Promise<T>): Promise<T> {
  const redis = createRedisClient({ url: await caracalSecret(e2e, 'redisUrl') }, { maxRetriesPerRequest: 2 });
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

export async function auditKeyVerdict(e2e: E2E, key: string): Promise<Verdict> {
  const answer = await withCaracalRedis(e2e, (redis) => auditKeyProbe(redis, STREAMS, key, { deadline: Date.now() + PROBE_TIMEOUT_MS }));
  if (answer.verdict === 'accepted' || answer.verdict === 'refused') return answer.verdict;
  throw new Error(`the Audit consumer gave no verdict on the probe: ${JSON.stringify(answer)}`);
}

/**
 * Both readers of Caracal's streams judge a message signed with `key`: the
 * STS (a policy invalidation it loads only when the signature holds) and the
 * gateway (a revocation it counts as a message or as an invalid signature).
 * They must agree.
 */
export async function streamsKeyVerdict(e2e: E2E, key: string): Promise<Verdict> {
  const sts = e2e.sandbox.services.sts;
  const gateway = e2e.sandbox.services.gateway;
  const bearer = await caracalSecret(e2e, 'metricsBearer');
  const gatewayKey = await caracalSecret(e2e, 'gatewayStsHmacKey');
  return withCaracalRedis(e2e, async (redis) => {
    const before = await readMetrics(gateway, bearer);
    const zone = probeId();
    const entryId = await publishPolicyInvalidation(redis, STREAMS, key, zone);
    await publishRevocationProbe(redis, STREAMS, key);
    await poll(`the STS group ${OPA_GROUP} handling ${entryId}`, async () => ((await groupHasProcessed(redis, STREAMS.policyInvalidate, OPA_GROUP, entryId)) ? true : undefined));
    const status = await fetchPolicyStatus(sts, gatewayKey, zone);
    if (status.status !== 200) throw new Error(`the STS refused the policy-status request signed with the current gateway key (${status.status})`);
    const stsVerdict: Verdict = status.loaded ? 'accepted' : 'refused';
    const gatewayVerdict: Verdict = await poll('the gateway counting the revocation probe', async () => {
      const after = await readMetrics(gateway, bearer);
      if (counterOf(after, REVOCATIONS) > counterOf(before, REVOCATIONS)) return 'accepted';
      if (counterOf(after, INVALID_REVOCATIONS) > counterOf(before, INVALID_REVOCATIONS)) return 'refused';
      return undefined;
    });
    if (stsVerdict !== gatewayVerdict) throw new Error(`the STS ${stsVerdict} the streams key but the gateway ${gatewayVerdict} it`);
    return stsVerdict;
  });
}

/** The STS's signed policy-status route: 200 when the gateway signature holds under its GATEWAY_STS_HMAC_KEY, 401 when not. */
export async function gatewayKeyVerdict(e2e: E2E, key: string): Promise<Verdict> {
  return (await fetchPolicyStatus(e2e.sandbox.services.sts, key, probeId())).status === 200 ? 'accepted' : 'refused';
}

export async function adminTokenVerdict(e2e: E2E, token: string): Promise<Verdict> {
  const { verdict } = await probeAdminToken(e2e.sandbox.services.api, token);
  if (verdict === 'rate_limited') throw new Error('the API rate-limited the admin token probe');
  return verdict;
}

export async function coordinatorTokenVerdict(e2e: E2E, token: string): Promise<Verdict> {
  return (await probeCoordinatorToken(e2e.sandbox.services.coordinator, token)).verdict;
}

/** A login to Caracal's Postgres as the role of `<role>DatabaseUrl`: 28P01 is the only refusal. */
export async function postgresPasswordVerdict(e2e: E2E, role: string, password: string): Promise<Verdict> {
  const login = await postgresLogin(await caracalSecret(e2e, `${role}DatabaseUrl`), password);
  if (login.ok) return 'accepted';
  if (login.code === INVALID_PASSWORD) return 'refused';
  throw new Error(`logging in as the ${role} role failed with ${login.code}, which proves nothing about the password`);
}

/** AUTH on Caracal's Redis: WRONGPASS is the only refusal. */
export async function redisPasswordVerdict(e2e: E2E, password: string): Promise<Verdict> {
  const auth = await redisAuth(await caracalSecret(e2e, 'redisUrl'), password);
  if (auth.ok) return 'accepted';
  if (auth.code === 'WRONGPASS') return 'refused';
  throw new Error(`AUTH on Caracal's Redis failed with ${auth.code}, which proves nothing about the password`);
}

/** packages/serverCore/ts/src/secretStore/envelope.ts kekId: the first 8 bytes of SHA-256 over the KEK. */
export const kekIdOf = (kekHex: string): Buffer => createHash('sha256').update(Buffer.from(kekHex, 'hex')).digest().subarray(0, 8);

/** Sealed rows per column that are not under `kekHex`, counted as Caracal's admin role. */
export async function rowsNotOnKek(e2e: E2E, kekHex: string): Promise<SealedCount[]> {
  return countRowsNotOnKek(await caracalSecret(e2e, 'databaseUrl'), kekIdOf(kekHex));
}

/** Each zone's JWKS as the STS serves it. */
export async function zoneJwks(e2e: E2E, zones: readonly string[] = e2e.sandbox.zones): Promise<Map<string, { status: number; keys: ZoneJwk[] }>> {
  const out = new Map<string, { status: number; keys: ZoneJwk[] }>();
  for (const zone of zones) {
    const answer = await fetchZoneJwks(e2e.sandbox.services.sts, zone);
    out.set(zone, { status: answer.status, keys: answer.keys });
  }
  return out;
}

export interface Announcement {
  fields: Record<string, string>;
  data: CompletedData;
  /** Whether `_sig` holds under the STREAMS_HMAC_KEY Caracal's services read now (packages/core/go/crypto/streamsig.go). */
  signedWithStreamsKey: boolean;
}

/** The `completed` announcements of a rotation, as Caracal's services find them on Caracal's Redis. */
export async function announcementsOf(e2e: E2E, rotationId: string): Promise<Announcement[]> {
  const stream = e2e.operator.streams.completed;
  const key = decodeHexKey(await caracalSecret(e2e, 'streamsHmacKey'));
  const entries = await withCaracalRedis(e2e, (redis) => redis.xrange(stream, '-', '+'));
  return entries
    .map(([, flat]) => Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]!]] : []))) as Record<string, string>)
    .filter((fields) => fields.rotation_id === rotationId)
    .map((fields) => ({ fields, data: JSON.parse(fields.data ?? '{}') as CompletedData, signedWithStreamsKey: fields[SIGNATURE_FIELD] === signFields(stream, fields, key) }));
}
