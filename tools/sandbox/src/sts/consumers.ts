import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { goEncode, goMap } from '../shared/go-http.js';
import { errorMessage, type Log } from '../shared/runtime.js';
import { autoClaim, ensureGroup, goVerifyStream, readGroup, signStream, type StreamMessage } from '../shared/streams.js';
import type { PolicyEngine } from './policy-engine.js';

/** services/sts/internal/consumer.go: the three streams the STS reads, each a group shared by every replica. */
export const STS_STREAMS = [
  { stream: 'caracal.sessions.revoke', group: 'sts-revocation', name: 'revocations' },
  { stream: 'caracal.policy.invalidate', group: 'opa-engine', name: 'policy' },
  { stream: 'caracal.keys.invalidate', group: 'sts-keys', name: 'keys' },
] as const;

const PENDING_IDLE_MS = 30_000;
const FAILURE_TTL_S = 24 * 60 * 60;
const MAX_FAILURES = 5;

export interface ConsumerDeps {
  redis: Redis;
  /** Opens a dedicated connection for a blocking reader. */
  duplicate: () => Redis;
  db: pg.Pool;
  policy: PolicyEngine;
  streamsKey: Buffer;
  published: boolean;
  log: Log;
}

type Handler = (msg: StreamMessage) => Promise<void>;

/**
 * startConsumers: ensures the three groups (retrying every second), then
 * reads each stream on its own connection. Resolves once the groups exist,
 * which is what /ready waits for.
 */
export async function startStsConsumers(deps: ConsumerDeps, stopped: () => boolean): Promise<{ close(): void }> {
  for (;;) {
    try {
      for (const s of STS_STREAMS) await ensureGroup(deps.redis, s.stream, s.group);
      break;
    } catch (err) {
      deps.log('error', 'consumer group ensure failed; will retry', { error: errorMessage(err) });
      if (stopped()) return { close() {} };
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  const handlers: Record<(typeof STS_STREAMS)[number]['name'], Handler> = {
    revocations: (msg) => handleRevocation(deps.db, msg),
    policy: async (msg) => {
      const zoneId = msg.fields.zone_id ?? '';
      if (zoneId === '') throw new Error('missing zone_id');
      await deps.policy.reload(zoneId);
    },
    // handleKeyInvalidation flushes the zone's cached signing keys; the replica caches none.
    keys: async (msg) => {
      if ((msg.fields.zone_id ?? '') === '') throw new Error('missing zone_id');
    },
  };
  // uniqueConsumerID: sts-<host>-<pid> (a container's host name is in HOSTNAME).
  const base = `sts-${process.env.HOSTNAME || hostname() || 'unknown'}-${process.pid}`;
  const connections: Redis[] = [];
  for (const s of STS_STREAMS) {
    const conn = deps.duplicate();
    connections.push(conn);
    void consumeLoop(deps, conn, s.stream, s.group, `${base}-${s.name}`, handlers[s.name], stopped);
  }
  return {
    close() {
      for (const c of connections) c.disconnect();
    },
  };
}

async function consumeLoop(deps: ConsumerDeps, conn: Redis, stream: string, group: string, consumer: string, handle: Handler, stopped: () => boolean): Promise<void> {
  await replayPending(deps, conn, stream, group, consumer, handle);
  while (!stopped()) {
    let messages: StreamMessage[];
    try {
      // XReadGroup with Block 0: the read parks until a message arrives.
      messages = await readGroup(conn, group, consumer, stream, 10, 0);
    } catch (err) {
      if (stopped()) return;
      deps.log('error', `${stream} consumer read`, { error: errorMessage(err) });
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    for (const msg of messages) await processMessage(deps, stream, group, msg, handle);
  }
}

async function replayPending(deps: ConsumerDeps, conn: Redis, stream: string, group: string, consumer: string, handle: Handler): Promise<void> {
  let next = '0-0';
  for (;;) {
    let claimed: { next: string; messages: StreamMessage[] };
    try {
      claimed = await autoClaim(conn, stream, group, consumer, PENDING_IDLE_MS, next, 25);
    } catch (err) {
      deps.log('error', 'claim pending', { stream, error: errorMessage(err) });
      return;
    }
    if (claimed.messages.length === 0) return;
    for (const msg of claimed.messages) await processMessage(deps, stream, group, msg, handle);
    next = claimed.next;
  }
}

/** processMessage: a bad origin signature is logged, acknowledged and dropped; no dead letter, no metric. */
async function processMessage(deps: ConsumerDeps, stream: string, group: string, msg: StreamMessage, handle: Handler): Promise<void> {
  const verified = !deps.published && deps.streamsKey.length === 0 ? true : goVerifyStream(deps.streamsKey, stream, msg.fields);
  if (!verified) {
    deps.log('warn', 'dropping stream message with invalid origin signature', { id: msg.id, stream });
    await deps.redis.xack(stream, group, msg.id).catch((err: unknown) => deps.log('error', 'xack unsigned message', { id: msg.id, stream, error: errorMessage(err) }));
    return;
  }
  try {
    await handle(msg);
  } catch (err) {
    deps.log('error', 'stream side effect', { id: msg.id, stream, error: errorMessage(err) });
    await trackFailure(deps, stream, group, msg, errorMessage(err));
    return;
  }
  await deps.redis.xack(stream, group, msg.id).catch((err: unknown) => deps.log('error', 'xack', { id: msg.id, stream, error: errorMessage(err) }));
}

/** trackFailure: after five failed side effects the message goes, signed, to `<stream>.dead`. */
async function trackFailure(deps: ConsumerDeps, stream: string, group: string, msg: StreamMessage, cause: string): Promise<void> {
  const key = `stream-failure:${stream}:${msg.id}`;
  let attempts: number;
  try {
    attempts = Number(await deps.redis.eval("local c = redis.call('INCR', KEYS[1])\nif c == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end\nreturn c", 1, key, FAILURE_TTL_S));
  } catch (err) {
    deps.log('error', 'track stream failure', { id: msg.id, stream, error: errorMessage(err) });
    return;
  }
  if (attempts < MAX_FAILURES) return;
  const dead = `${stream}.dead`;
  const fields: Record<string, string> = { original_id: msg.id, error: cause, values: goEncode(goMap(msg.fields)).trimEnd() };
  if (deps.streamsKey.length > 0) fields._sig = signStream(deps.streamsKey, dead, fields);
  try {
    await deps.redis.xadd(dead, '*', ...Object.entries(fields).flat());
    await deps.redis.xack(stream, group, msg.id);
    await deps.redis.del(key);
  } catch (err) {
    deps.log('error', 'dead-letter stream message', { id: msg.id, stream, error: errorMessage(err) });
  }
}

/** handleRevocation → db.go RevokeAuthorityRecord: the record and its descendants become revoked. */
async function handleRevocation(db: pg.Pool, msg: StreamMessage): Promise<void> {
  const zoneId = msg.fields.zone_id ?? '';
  const sid = msg.fields.session_id ?? '';
  const agentSessionId = msg.fields.agent_session_id ?? '';
  if (zoneId === '') throw new Error('missing zone_id');
  if (sid === '' && agentSessionId === '') throw new Error('missing session_id or agent_session_id');
  if (sid === '') return;
  const reason = msg.fields.reason || 'session_revoked';
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`delegation:${zoneId}`]);
    await client.query(
      `WITH RECURSIVE revoked_tree AS (
         SELECT id FROM authority_records WHERE id = $1 AND zone_id = $2
         UNION ALL
         SELECT a.id FROM authority_records a
         JOIN revoked_tree r ON a.parent_id = r.id
         WHERE a.zone_id = $2
       )
       UPDATE authority_records SET status = 'revoked',
         revoked_at = COALESCE(revoked_at, now()),
         revoked_reason = COALESCE(revoked_reason, $3)
       WHERE zone_id = $2 AND id IN (SELECT id FROM revoked_tree)`,
      [sid, zoneId, reason],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
