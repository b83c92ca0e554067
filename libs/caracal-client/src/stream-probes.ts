import { randomUUID } from 'node:crypto';
import { decodeHexKey, signFields, SIGNATURE_FIELD, type RedisClient } from '@caracal-rotation/bus';
import type { CaracalStreams } from '@caracal-rotation/contracts';
import { noteCaracalRequest } from './observe.js';
import { compareStreamIds, PROBE_PREFIX } from './stream-ids.js';

/** Appends fields signed with Caracal's stream signature (packages/core/go/crypto/streamsig.go: no key id). */
async function signedXadd(redis: RedisClient, stream: string, fields: Record<string, string>, keyHex: string): Promise<string> {
  const signed = { ...fields, [SIGNATURE_FIELD]: signFields(stream, fields, decodeHexKey(keyHex)) };
  const id = await redis.xadd(stream, '*', ...Object.entries(signed).flat());
  if (!id) throw new Error(`XADD to ${stream} returned no id`);
  return id;
}

/** A fresh id for a probe: nothing real is ever called that. */
export const probeId = (): string => `${PROBE_PREFIX}${randomUUID()}`;

/**
 * A revocation that revokes nothing real, on caracal.sessions.revoke: it
 * names only an agent session id that no session has. Every gateway
 * replica reads it in its own group and counts it
 * (services/gateway/internal/revocations.go processRevocationMessage:
 * caracal_gateway_revocation_messages_total when the signature verifies,
 * caracal_gateway_revocation_invalid_signatures_total when not); the STS
 * acknowledges it without a database write, since it has no session_id
 * (services/sts/internal/consumer.go handleRevocation).
 */
export async function publishRevocationProbe(redis: RedisClient, streams: CaracalStreams, keyHex: string): Promise<{ entryId: string; sessionId: string }> {
  noteCaracalRequest('revocationProbe');
  const sessionId = probeId();
  const entryId = await signedXadd(redis, streams.sessionsRevoke, { zone_id: sessionId, agent_session_id: sessionId, reason: 'rotation-probe' }, keyHex);
  return { entryId, sessionId };
}

/**
 * Asks the STS to reload the policy of a zone no policy set is bound to
 * (services/sts/internal/consumer.go handlePolicyInvalidation → opa.go
 * loadZone → storeFallback): the replica that takes it reports the zone
 * loaded (deny-all); a message whose signature fails is dropped.
 */
export async function publishPolicyInvalidation(redis: RedisClient, streams: CaracalStreams, keyHex: string, zoneId: string): Promise<string> {
  noteCaracalRequest('policyInvalidationProbe');
  return signedXadd(redis, streams.policyInvalidate, { zone_id: zoneId }, keyHex);
}

/**
 * Whether a consumer group has handled an entry: delivered (its
 * last-delivered-id is at or past it) and no longer pending. Caracal's STS
 * acknowledges every message it handled, good or bad
 * (services/sts/internal/consumer.go processMessage). Undefined when the
 * group does not exist.
 */
export async function groupHasProcessed(redis: RedisClient, stream: string, group: string, entryId: string): Promise<boolean | undefined> {
  noteCaracalRequest('streamGroupProgress');
  const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  const info = groups.map((flat) => Object.fromEntries(chunk(flat))).find((g) => g.name === group);
  if (!info) return undefined;
  if (compareStreamIds(String(info['last-delivered-id']), entryId) < 0) return false;
  const pending = (await redis.xpending(stream, group, entryId, entryId, 1)) as unknown[];
  return pending.length === 0;
}

function chunk(flat: unknown[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1]]);
  return out;
}
