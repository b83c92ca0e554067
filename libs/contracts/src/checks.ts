import { z } from 'zod';

/**
 * The seed asks to verify /ready, audit ingestion, revocation propagation and
 * the Gateway exchange after every rotation, whatever the material.
 */
export const BASELINE_CHECKS = ['holders_ready', 'audit_ingest', 'revocation_propagation', 'gateway_exchange'] as const;

export const MATERIAL_CHECKS = [
  'audit_new_key_accepted',
  'audit_mismatch_rejected',
  'audit_old_key_refused',
  'streams_new_key_accepted',
  'streams_old_key_refused',
  'gateway_bad_hmac_denied',
  'gateway_old_key_refused',
  'admin_token_accepted',
  'admin_token_old_refused',
  'coordinator_token_accepted',
  'coordinator_token_old_refused',
  'holder_dead_letters',
  'jwks_new_kid',
  'jwks_old_mandate_verifies',
  'jwks_old_mandate_refused',
  'kek_zone_secrets_decrypt',
  'kek_reseal',
  'postgres_login_new',
  'postgres_login_old_refused',
  'redis_auth_new',
  'redis_auth_old_refused',
] as const;

/**
 * Results an operator, not the verifier, reports: `caracal-rotate rollback`
 * publishes a failing deploy verification with this check so the
 * secret-writer rolls the rotation back through the ordinary path.
 */
export const OPERATOR_CHECKS = ['operator_rollback'] as const;

export const CHECK_NAMES = [...BASELINE_CHECKS, ...MATERIAL_CHECKS, ...OPERATOR_CHECKS] as const;
export const checkNameSchema = z.enum(CHECK_NAMES);
export type CheckName = z.infer<typeof checkNameSchema>;
