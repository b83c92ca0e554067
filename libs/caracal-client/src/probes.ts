/**
 * Every request to Caracal that is not HTTP: entries on Caracal's streams,
 * reads of its stream groups, logins to its Postgres and Redis, SQL as its
 * admin role, and its KEK re-seal job. Each is sent by one function of this
 * library, named here with the Caracal source that answers it and the trace
 * it leaves (Caracal's counters cannot be reset).
 */
export interface CaracalProbe {
  kind: 'stream' | 'stream-read' | 'postgres' | 'redis' | 'job';
  /** The command and its target, as sent. */
  request: string;
  /** The function of this library that sends it. */
  sender: string;
  source: string;
  relies: string;
  /** What stays behind in Caracal, or `none`. */
  traces: string;
}

export const CARACAL_PROBES = {
  auditKeyProbe: {
    kind: 'stream',
    request: 'XADD caracal.audit.events * id rotprobe-<uuid> data {"id":"rotprobe-<uuid>"} sig <hex HMAC-SHA256(AUDIT key, data)>; then XRANGE caracal.audit.events.dlq and XDEL of the probe\'s own DLQ entry',
    sender: 'auditKeyProbe',
    source: 'services/audit/internal/consumer.go processOnce, toDLQ, verifyHMAC, unmarshalEvent; packages/core/go/audit/client.go (the message layout)',
    relies:
      'the Audit consumer dead-letters the probe on caracal.audit.events.dlq with src_id = the probe id: reason `json_parse_error:required fields missing (id, zone_id, occurred_at)` when the HMAC verified (the key is accepted), `hmac_verify_failed` when it did not (refused); nothing reaches audit_events',
    traces:
      'the probe entry stays in caracal.audit.events (acknowledged); caracal_audit_dlq_total +1 and caracal_audit_parse_errors_total +1 (accepted) or caracal_audit_hmac_failures_total +1 (refused); the DLQ entry is deleted by the probe',
  },
  auditBacklog: {
    kind: 'stream-read',
    request: 'XPENDING caracal.audit.events audit-ingestor; XRANGE caracal.audit.events.dlq <since> +',
    sender: 'auditBacklog',
    source: 'services/audit/internal/consumer.go (stream caracal.audit.events, group audit-ingestor, DLQ caracal.audit.events.dlq); infra/redis/provision-streams.sh',
    relies: 'the group\'s pending count falls back to 0 while the consumer keeps up; DLQ entries carry `reason` and `src_id`',
    traces: 'none',
  },
  revocationProbe: {
    kind: 'stream',
    request: 'XADD caracal.sessions.revoke * zone_id rotprobe-<uuid> agent_session_id rotprobe-<uuid> reason rotation-probe _sig <streams signature>',
    sender: 'publishRevocationProbe',
    source:
      'services/gateway/internal/revocations.go processRevocationMessage (group gateway-revocation:<hostname>, one per replica); services/sts/internal/consumer.go handleRevocation (group sts-revocation); packages/core/go/crypto/streamsig.go',
    relies:
      'each gateway replica counts a verified message in caracal_gateway_revocation_messages_total and a bad signature in caracal_gateway_revocation_invalid_signatures_total; the STS acknowledges a message without session_id and revokes nothing; the probe names only an agent session id no real session has',
    traces:
      'the entry stays in caracal.sessions.revoke; each gateway replica keeps the probe\'s session id in its in-memory revocation set for 24 h and counts it; a refused probe raises the invalid-signature counter instead',
  },
  policyInvalidationProbe: {
    kind: 'stream',
    request: 'XADD caracal.policy.invalidate * zone_id rotprobe-<uuid> _sig <streams signature>',
    sender: 'publishPolicyInvalidation',
    source: 'services/sts/internal/consumer.go handlePolicyInvalidation (group opa-engine), services/sts/internal/opa.go Reload, loadZone, storeFallback',
    relies:
      'a verified message makes the STS replica that takes it load the zone: no policy set is bound to the probe zone, so it installs the deny-all fallback and the signed policy-status answers loaded:true; a bad signature is acknowledged and dropped (loaded stays false)',
    traces:
      'the entry stays in caracal.policy.invalidate; the accepting STS replica keeps a deny-all entry for the probe zone in memory (reloaded by its 60 s policy poll) until it restarts',
  },
  streamGroupProgress: {
    kind: 'stream-read',
    request: 'XINFO GROUPS <stream>; XPENDING <stream> <group> <id> <id> 1',
    sender: 'groupHasProcessed',
    source: 'services/sts/internal/consumer.go processMessage (every message, good or bad, is acknowledged once handled)',
    relies: 'a group whose last-delivered-id is at or past an entry that is not pending has handled it',
    traces: 'none',
  },
  postgresLogin: {
    kind: 'postgres',
    request: 'a connection as the role of <role>DatabaseUrl with a given password, then SELECT 1',
    sender: 'postgresLogin',
    source: 'infra/postgres/scripts/migrate.sh (ALTER ROLE caracal<svc> WITH LOGIN PASSWORD), infra/postgres/Dockerfile (scram-sha-256 host auth)',
    relies: 'the right password logs in (or reaches 3D000 when the role\'s database does not exist yet); a wrong one fails with SQLSTATE 28P01',
    traces: 'a failed login is logged by Postgres (role name only)',
  },
  kekRowsNotOnKek: {
    kind: 'postgres',
    request: 'SELECT count(*) … WHERE substring(<envelope column> from 5 for 8) <> <KEK id>, per sealed table, as the admin role',
    sender: 'countRowsNotOnKek, countSealedRows',
    source: 'apps/api/scripts/rotate-secret-store-kek.mjs (the tables, columns and filters it re-seals), packages/serverCore/ts/src/secretStore/envelope.ts (CSS1 | kekId(8) | …, kekId = SHA-256(KEK)[0:8])',
    relies: 'the admin role bypasses the row-level security that hides sealed rows from the service roles; every CSS1 envelope names its KEK in bytes 5–12',
    traces: 'none',
  },
  redisAuth: {
    kind: 'redis',
    request: 'AUTH <password> on a fresh connection to the host of Caracal\'s redisUrl, then PING',
    sender: 'redisAuth',
    source: 'infra/redis/entrypoint.sh (requirepass from the password file, no ACL users)',
    relies: 'the current password → OK; a password the default user no longer has → WRONGPASS',
    traces: 'none (Redis counts failed AUTHs in its own stats)',
  },
  kekReseal: {
    kind: 'job',
    request: 'the holders file\'s kek_reseal.command with DATABASE_URL(_FILE) of the admin role and SECRET_STORE_KEK(_PREVIOUS)_FILE',
    sender: 'runKekReseal',
    source: 'apps/api/scripts/rotate-secret-store-kek.mjs',
    relies:
      'text on stdout: one `<table>: N rows examined` line per table, then `re-seal complete: R resealed, S already current, X rewritten by live services, F failed`; exit 1 when F > 0; as a role that row-level security hides rows from it examines 0 rows and exits 0',
    traces: 're-sealed rows (the point of it); nothing else',
  },
} as const satisfies Record<string, CaracalProbe>;

export type CaracalProbeName = keyof typeof CARACAL_PROBES;
