import type { Redis } from 'ioredis';
import type pg from 'pg';
import { goEncode, goMap } from '../shared/go-http.js';
import { errorMessage, type Log } from '../shared/runtime.js';
import { autoClaim, ensureGroup, goVerifyStream, readGroup, signStream, type StreamMessage } from '../shared/streams.js';
import type { GatewayMetrics } from './metrics.js';

/** services/gateway/internal/revocations.go */
export const REVOKE_STREAM = 'caracal.sessions.revoke';
export const REVOKE_GROUP_PREFIX = 'gateway-revocation';
const REVOCATION_TTL_MS = 24 * 60 * 60 * 1000;
const SNAPSHOT_POLL_MS = 30_000;
const SNAPSHOT_STALE_AFTER_MS = 2 * SNAPSHOT_POLL_MS + 10_000;
const PENDING_IDLE_MS = 30_000;
const GC_PAUSE_MS = 30 * 60 * 1000;
const FAILURE_TTL_S = 24 * 60 * 60;
const MAX_FAILURES = 5;

/** revocationStore: revoked anchors (authority records, Sessions, Delegations) for 24 h. */
export class RevocationStore {
  private authorityRecords = new Map<string, number>();
  private governedSessions = new Map<string, number>();
  private edges = new Map<string, number>();
  private snapshotUnix = 0;
  private streamGeneration = 0;

  isRevoked(id: string): boolean {
    return id !== '' && (this.authorityRecords.get(id) ?? 0) > Date.now();
  }

  isSessionRevoked(id: string): boolean {
    return id !== '' && (this.governedSessions.get(id) ?? 0) > Date.now();
  }

  isDelegationRevoked(id: string): boolean {
    return id !== '' && (this.edges.get(id) ?? 0) > Date.now();
  }

  mark(kind: 'authority' | 'session' | 'edge', id: string): void {
    const map = kind === 'authority' ? this.authorityRecords : kind === 'session' ? this.governedSessions : this.edges;
    map.set(id, Date.now() + REVOCATION_TTL_MS);
    this.streamGeneration++;
  }

  get size(): number {
    return this.authorityRecords.size + this.governedSessions.size + this.edges.size;
  }

  /** Seconds since the last successful snapshot; undefined before the first. */
  snapshotAgeMs(now = Date.now()): number | undefined {
    if (this.snapshotUnix <= 0) return undefined;
    const age = now - this.snapshotUnix * 1000;
    return age < 0 ? undefined : age;
  }

  snapshotFresh(now = Date.now()): boolean {
    const age = this.snapshotAgeMs(now);
    return age !== undefined && age <= SNAPSHOT_STALE_AFTER_MS;
  }

  prune(): void {
    const now = Date.now();
    for (const map of [this.authorityRecords, this.governedSessions, this.edges]) {
      for (const [id, until] of map) if (until <= now) map.delete(id);
    }
  }

  /** reloadRevocationSnapshot: the database's revoked anchors replace the maps; stream marks made meanwhile survive. */
  async reload(db: pg.Pool): Promise<void> {
    const generation = this.streamGeneration;
    const ttl = REVOCATION_TTL_MS / 1000;
    const ids = async (sql: string) => (await db.query<{ id: string }>(sql, [ttl])).rows.map((r) => r.id).filter((id) => id !== '');
    const authority = await ids(`SELECT id FROM authority_records WHERE status = 'revoked' AND expires_at > now() - ($1::int * interval '1 second')`);
    const sessions = await ids(`SELECT id FROM sessions WHERE status = 'terminated' AND updated_at > now() - ($1::int * interval '1 second')`);
    const edges = await ids(`SELECT id FROM delegation_edges WHERE status = 'revoked' AND revoked_at IS NOT NULL AND revoked_at > now() - ($1::int * interval '1 second')`);
    const until = Date.now() + REVOCATION_TTL_MS;
    const build = (list: string[], live: Map<string, number>) => {
      const next = new Map(list.map((id) => [id, until] as const));
      if (this.streamGeneration !== generation) for (const [id, expiry] of live) next.set(id, expiry);
      return next;
    };
    this.authorityRecords = build(authority, this.authorityRecords);
    this.governedSessions = build(sessions, this.governedSessions);
    this.edges = build(edges, this.edges);
    this.snapshotUnix = Math.floor(Date.now() / 1000);
  }
}

export interface RevocationDeps {
  conn: Redis;
  redis: Redis;
  db: pg.Pool;
  store: RevocationStore;
  metrics: GatewayMetrics;
  streamsKey: Buffer;
  published: boolean;
  host: string;
  log: Log;
}

/**
 * startRevocationConsumer: one group per host (`gateway-revocation:<hostname>`),
 * so every replica sees every revocation. Fails when the group cannot be
 * ensured: the gateway refuses to start with revocations broken.
 */
export async function startRevocationConsumer(deps: RevocationDeps, stopped: () => boolean): Promise<{ stop(): void }> {
  const group = `${REVOKE_GROUP_PREFIX}:${deps.host}`;
  const consumer = `gateway-${deps.host}-${process.pid}`;
  try {
    await ensureGroup(deps.redis, REVOKE_STREAM, group);
  } catch (err) {
    throw new Error(`revocation consumer ensure group: ${errorMessage(err)}`);
  }
  const replay = () => replayPending(deps, group, consumer);
  void (async () => {
    await replay();
    while (!stopped()) {
      let messages: StreamMessage[];
      try {
        messages = await readGroup(deps.conn, group, consumer, REVOKE_STREAM, 50, 0);
      } catch (err) {
        if (stopped()) return;
        deps.log('error', 'revocation consumer read failed', { error: errorMessage(err) });
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      for (const msg of messages) await processMessage(deps, group, msg);
    }
  })();
  const reaper = setInterval(() => void replay(), PENDING_IDLE_MS);
  const gc = setInterval(() => deps.store.prune(), GC_PAUSE_MS);
  const snapshot = setInterval(() => {
    deps.store.reload(deps.db).then(
      () => deps.metrics.inc('revocationReloads'),
      (err: unknown) => {
        deps.metrics.inc('revocationReloadErrors');
        deps.log('error', 'revocation snapshot reload failed', { error: errorMessage(err) });
      },
    );
  }, SNAPSHOT_POLL_MS);
  return {
    stop() {
      clearInterval(reaper);
      clearInterval(gc);
      clearInterval(snapshot);
      deps.conn.disconnect();
    },
  };
}

async function replayPending(deps: RevocationDeps, group: string, consumer: string): Promise<void> {
  let next = '0-0';
  for (;;) {
    let claimed: { next: string; messages: StreamMessage[] };
    try {
      claimed = await autoClaim(deps.redis, REVOKE_STREAM, group, consumer, PENDING_IDLE_MS, next, 25);
    } catch (err) {
      deps.log('error', 'revocation claim pending failed', { error: errorMessage(err) });
      return;
    }
    if (claimed.messages.length === 0) return;
    deps.metrics.inc('revocationPendingReplayed', claimed.messages.length);
    for (const msg of claimed.messages) await processMessage(deps, group, msg);
    next = claimed.next;
  }
}

/** processRevocationMessage */
async function processMessage(deps: RevocationDeps, group: string, msg: StreamMessage): Promise<void> {
  const verified = !deps.published && deps.streamsKey.length === 0 ? true : goVerifyStream(deps.streamsKey, REVOKE_STREAM, msg.fields);
  if (!verified) {
    deps.log('warn', 'dropping revocation message with invalid origin signature', { id: msg.id });
    deps.metrics.inc('revocationInvalidSignatures');
    await deps.redis.xack(REVOKE_STREAM, group, msg.id).catch((err: unknown) => deps.log('error', 'revocation xack invalid message failed', { id: msg.id, error: errorMessage(err) }));
    return;
  }
  const authority = msg.fields.session_id ?? '';
  const session = msg.fields.agent_session_id ?? '';
  const edge = msg.fields.delegation_edge_id || msg.fields.edge_id || '';
  if (authority === '' && session === '' && edge === '') {
    await trackFailure(deps, group, msg, 'missing session_id, agent_session_id, or delegation_edge_id');
    return;
  }
  if (authority) deps.store.mark('authority', authority);
  if (session) deps.store.mark('session', session);
  if (edge) deps.store.mark('edge', edge);
  await deps.redis.xack(REVOKE_STREAM, group, msg.id).catch((err: unknown) => deps.log('error', 'revocation xack failed', { id: msg.id, error: errorMessage(err) }));
  deps.metrics.inc('revocationMessages');
  const millis = Number(msg.id.split('-')[0]);
  if (Number.isFinite(millis)) deps.metrics.set('revocationPropagationSeconds', Math.max(0, Math.floor((Date.now() - millis) / 1000)));
}

async function trackFailure(deps: RevocationDeps, group: string, msg: StreamMessage, cause: string): Promise<void> {
  const key = `stream-failure:${REVOKE_STREAM}:${group}:${msg.id}`;
  let attempts: number;
  try {
    attempts = Number(await deps.redis.eval("local c = redis.call('INCR', KEYS[1])\nif c == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end\nreturn c", 1, key, FAILURE_TTL_S));
  } catch (err) {
    deps.log('error', 'track revocation failure failed', { id: msg.id, error: errorMessage(err) });
    return;
  }
  if (attempts < MAX_FAILURES) return;
  const dead = `${REVOKE_STREAM}.dead`;
  const fields: Record<string, string> = { original_id: msg.id, error: cause, values: goEncode(goMap(msg.fields)).trimEnd() };
  if (deps.streamsKey.length > 0) fields._sig = signStream(deps.streamsKey, dead, fields);
  try {
    await deps.redis.xadd(dead, '*', ...Object.entries(fields).flat());
    await deps.redis.xack(REVOKE_STREAM, group, msg.id);
    deps.metrics.inc('revocationDeadLetters');
    await deps.redis.del(key);
  } catch (err) {
    deps.log('error', 'dead-letter revocation message failed', { id: msg.id, error: errorMessage(err) });
  }
}
