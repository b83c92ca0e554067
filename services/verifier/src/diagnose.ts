import type { CheckName, CheckResult } from '@caracal-rotation/contracts';

/**
 * Caracal's symptom table, keyed by the check that shows the symptom: what
 * an operator should look at when it fails, with the Caracal code that
 * explains it.
 */
export const SYMPTOMS: Readonly<Record<CheckName, string>> = {
  holders_ready: 'A holder is not ready: read the reason its /ready gives (a secret file it could not read is fatal at start; packages/core/go/config/config.go, packages/serverCore/ts/src/config.ts).',
  audit_ingest: 'Audit DLQ grows: producer and Audit AUDIT_HMAC_KEY mismatch, or the Audit consumer is stuck (services/audit/internal/consumer.go).',
  revocation_propagation: 'Stream consumers reject messages: producer and consumer STREAMS_HMAC_KEY mismatch (services/gateway/internal/revocations.go counts invalid signatures).',
  gateway_exchange: 'Gateway exchange fails: GATEWAY_STS_HMAC_KEY mismatch between Gateway and STS (packages/core/go/sts/gateway_auth.go).',
  holders_restarted: 'A holder was not restarted after the write, so it still runs with the value it read at start: see the roller\'s error for that holder.',
  audit_new_key_accepted: 'Audit DLQ grows: producer and Audit AUDIT_HMAC_KEY mismatch; the Audit service did not load the new key (restart it with the others).',
  audit_old_key_refused: 'The old AUDIT_HMAC_KEY is still accepted: the Audit service still runs with it (it reads the key only at start).',
  streams_new_key_accepted: 'Stream consumers reject messages: producer and consumer STREAMS_HMAC_KEY mismatch; the STS did not load the new key (services/sts/internal/consumer.go drops what it cannot verify).',
  streams_old_key_refused: 'The old STREAMS_HMAC_KEY is still accepted: a consumer (STS or gateway) still runs with it.',
  gateway_new_key_accepted: 'Gateway exchange fails: GATEWAY_STS_HMAC_KEY mismatch between Gateway and STS; the STS did not load the new key.',
  gateway_old_key_refused: 'The old GATEWAY_STS_HMAC_KEY is still accepted by the STS: it still runs with it.',
  admin_token_accepted: 'The new CARACAL_ADMIN_TOKEN is refused: the API did not load it, or an API replica restarted with the old value and revoked it (apps/api/src/auth.ts revokes older bootstrap tokens at boot and never un-revokes): restart every API replica with the new file.',
  admin_token_old_refused: 'The old CARACAL_ADMIN_TOKEN still authenticates: an API replica still runs with it, or the token is also minted as a non-bootstrap admin token.',
  coordinator_token_accepted: 'Agent and delegation views fail: the Coordinator did not load the new CARACAL_COORDINATOR_TOKEN.',
  coordinator_token_old_refused: 'The old CARACAL_COORDINATOR_TOKEN still authenticates: the Coordinator still runs with it.',
  jwks_new_kid: 'JWKS clients reject mandates after rotation: check the issuer URL, JWKS cache age, key overlap window and STS JWKS health.',
  jwks_keys_valid: 'JWKS clients reject mandates after rotation: the STS publishes a key relying parties cannot import; check STS JWKS health.',
  kek_reseal: 'Secret store values do not move to the new SECRET_STORE_KEK: the re-seal job failed rows or ran as a role row-level security hides them from (apps/api/scripts/rotate-secret-store-kek.mjs must run as the admin role).',
  kek_rows_on_new_kek: 'Rows are still sealed under the old SECRET_STORE_KEK: removing SECRET_STORE_KEK_PREVIOUS now would make them unreadable; run the re-seal job again as the admin role.',
  kek_zone_keys_open: 'Signing key decryption fails: the STS cannot open zone signing keys with its SECRET_STORE_KEK(_PREVIOUS) (services/sts/internal/server.go handleJWKS answers 500).',
  postgres_login_new: 'The role cannot log in with its new password: ALTER ROLE did not take, or the role\'s URL file was not rewritten.',
  postgres_login_old_refused: 'The old Postgres password still logs in: ALTER ROLE did not take effect.',
  redis_auth_new: 'Redis refuses the new password: ACL SETUSER default did not add it, or redisUrl was not rewritten.',
  redis_auth_old_refused: 'Redis still accepts the old password: it was not removed from the default user.',
  bus_key_loaded: 'An orchestrator instance did not reload the bus key: it cannot verify events signed with the new key (its keyring re-reads the file every half second).',
};

/** One line per failed check: the symptom and what the check saw. */
export function diagnose(results: readonly CheckResult[]): string | undefined {
  const lines = results.filter((r) => !r.ok).map((r) => `${r.name}: ${SYMPTOMS[r.name as CheckName] ?? 'check failed'} (${r.detail})`);
  return lines.length ? [...new Set(lines)].join('\n').slice(0, 4000) : undefined;
}
