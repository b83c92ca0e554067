import { z } from 'zod';

/**
 * The seed asks to verify /ready, audit ingestion, revocation propagation and
 * the Gateway exchange after every rotation, whatever the material.
 */
export const BASELINE_CHECKS = ['holders_ready', 'audit_ingest', 'revocation_propagation', 'gateway_exchange'] as const;

/** Checks of one material, each against a probe real Caracal answers (docs/caracal-contract.md). */
export const MATERIAL_CHECKS = [
  'holders_restarted',
  'audit_new_key_accepted',
  'audit_old_key_refused',
  'streams_new_key_accepted',
  'streams_old_key_refused',
  'gateway_new_key_accepted',
  'gateway_old_key_refused',
  'admin_token_accepted',
  'admin_token_old_refused',
  'coordinator_token_accepted',
  'coordinator_token_old_refused',
  'jwks_new_kid',
  'jwks_keys_valid',
  'kek_reseal',
  'kek_rows_on_new_kek',
  'kek_zone_keys_open',
  'postgres_login_new',
  'postgres_login_old_refused',
  'redis_auth_new',
  'redis_auth_old_refused',
  'bus_key_loaded',
] as const;

export const CHECK_NAMES = [...BASELINE_CHECKS, ...MATERIAL_CHECKS] as const;
export const checkNameSchema = z.enum(CHECK_NAMES);
export type CheckName = z.infer<typeof checkNameSchema>;

/**
 * What a check needs from the holders file to run: Caracal services it probes
 * and writer targets it uses. A check whose needs are missing is left out of
 * the plan, which says why.
 */
export type CheckNeed = { service: 'api' | 'sts' | 'gateway' | 'audit' | 'coordinator' } | { section: 'postgres' | 'redis' | 'kek_reseal' | 'zones' };
const svc = (service: 'api' | 'sts' | 'gateway' | 'audit' | 'coordinator'): CheckNeed => ({ service });
export const CHECK_NEEDS: Readonly<Record<CheckName, readonly CheckNeed[]>> = {
  holders_ready: [],
  audit_ingest: [svc('audit')],
  revocation_propagation: [svc('gateway')],
  gateway_exchange: [svc('sts')],
  holders_restarted: [],
  audit_new_key_accepted: [svc('audit')],
  audit_old_key_refused: [svc('audit')],
  streams_new_key_accepted: [svc('sts')],
  streams_old_key_refused: [svc('sts')],
  gateway_new_key_accepted: [svc('sts')],
  gateway_old_key_refused: [svc('sts')],
  admin_token_accepted: [svc('api')],
  admin_token_old_refused: [svc('api')],
  coordinator_token_accepted: [svc('coordinator')],
  coordinator_token_old_refused: [svc('coordinator')],
  jwks_new_kid: [svc('sts')],
  jwks_keys_valid: [svc('sts')],
  kek_reseal: [{ section: 'kek_reseal' }],
  kek_rows_on_new_kek: [{ section: 'postgres' }],
  kek_zone_keys_open: [svc('sts'), svc('api')],
  postgres_login_new: [],
  postgres_login_old_refused: [],
  redis_auth_new: [{ section: 'redis' }],
  redis_auth_old_refused: [{ section: 'redis' }],
  bus_key_loaded: [],
};
