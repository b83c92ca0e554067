import type { CheckName, CheckResult } from '@caracal-rotation/contracts';

/**
 * The seed's symptom table, keyed by the check that shows the symptom: what
 * an operator should look at when it fails.
 */
const SYMPTOMS: Partial<Record<CheckName, string>> = {
  audit_ingest: 'Audit DLQ grows: producer and Audit AUDIT_HMAC_KEY mismatch.',
  audit_new_key_accepted: 'Audit DLQ grows: producer and Audit AUDIT_HMAC_KEY mismatch.',
  audit_mismatch_rejected: 'Audit accepts events it should reject: the Audit verifier is not checking AUDIT_HMAC_KEY signatures.',
  audit_old_key_refused: 'The old AUDIT_HMAC_KEY is still accepted: a holder still loads it (check *_PREVIOUS files and restarts).',
  revocation_propagation: 'Stream consumers reject messages: producer and consumer STREAMS_HMAC_KEY mismatch.',
  streams_new_key_accepted: 'Stream consumers reject messages: producer and consumer STREAMS_HMAC_KEY mismatch.',
  streams_old_key_refused: 'The old STREAMS_HMAC_KEY is still accepted: a consumer still loads it.',
  gateway_exchange: 'Gateway exchange fails: GATEWAY_STS_HMAC_KEY mismatch between Gateway and STS.',
  gateway_bad_hmac_denied: 'STS accepts a bad Gateway HMAC: the exchange signature is not enforced.',
  gateway_old_key_refused: 'The old GATEWAY_STS_HMAC_KEY is still accepted by the STS.',
  admin_token_accepted: 'The new CARACAL_ADMIN_TOKEN is refused: the API did not load it (restart the API and the console together).',
  admin_token_old_refused: 'The old CARACAL_ADMIN_TOKEN still authenticates: the API did not revoke it at boot.',
  coordinator_token_accepted: 'Agent/delegation views fail: the Coordinator did not load the new CARACAL_COORDINATOR_TOKEN.',
  coordinator_token_old_refused: 'The old CARACAL_COORDINATOR_TOKEN still authenticates.',
  jwks_new_kid: 'JWKS clients reject mandates after rotation: check the issuer URL, JWKS cache age, key overlap window and STS JWKS health.',
  jwks_old_mandate_verifies: 'JWKS clients reject mandates after rotation: check the issuer URL, JWKS cache age, key overlap window and STS JWKS health.',
};

export function diagnose(results: readonly CheckResult[]): string | undefined {
  const failed = results.filter((r) => !r.ok);
  if (failed.length === 0) return undefined;
  const lines = failed.map((r) => {
    if (r.name === 'holders_ready') return `A holder did not come ready: ${r.detail}`;
    return `${r.name}: ${SYMPTOMS[r.name as CheckName] ?? 'check failed'} (${r.detail})`;
  });
  return [...new Set(lines)].join('\n').slice(0, 4000);
}
