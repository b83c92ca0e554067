import { catalogSchema, safetyWindowOf, type Catalog } from './catalog.js';
import type { HolderStep } from './plan.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;

/** Holders listed in roll order, one after another (a rolling restart). */
const inOrder = (...services: string[]): HolderStep[] => services.map((service, roll_group) => ({ service, roll_group }));
/** Holders that must switch in the same instant (they accept only one value). */
const together = (...services: string[]): HolderStep[] => services.map((service) => ({ service, roll_group: 0 }));

/**
 * The built-in catalog, following the seed's table (DESIGN §5). Caracal's HMAC
 * keys and tokens accept one value today; the dual-overlap defaults assume
 * holders that read `<NAME>_PREVIOUS` (as the sandbox fleet does). Operators
 * whose holders do not should override `overlap: none`.
 */
export const DEFAULT_CATALOG: Catalog = catalogSchema.parse({
  version: 1,
  materials: [
    {
      material: 'ZONE_KEK',
      env: 'SECRET_STORE_KEK',
      file: 'secretStoreKek',
      format: 'kek32',
      overlap: 'dual',
      writer: 'file',
      holders: inOrder('api', 'sts'),
      checks: { deploy: ['kek_reseal', 'kek_zone_secrets_decrypt'], retire: ['kek_zone_secrets_decrypt'] },
      safety_window_ms: 1 * H,
      drain: [],
      max_age_ms: 365 * 24 * H,
    },
    {
      material: 'ZONE_SIGNING_KEY',
      env: 'ZONE_SIGNING_KEY',
      file: null,
      format: 'es256',
      overlap: 'dual',
      writer: 'sts-zone-key',
      needs: 'zone',
      holders: [],
      checks: { deploy: ['jwks_new_kid', 'jwks_old_mandate_verifies'], retire: ['jwks_old_mandate_refused'] },
      safety_window_ms: 0,
      window_parts: { jwks_max_age_ms: 300 * S, verifier_stale_ms: 600 * S, mandate_ttl_ms: 1 * H },
      drain: [],
      max_age_ms: 90 * 24 * H,
    },
    {
      material: 'AUDIT_HMAC_KEY',
      env: 'AUDIT_HMAC_KEY',
      file: 'auditHmacKey',
      format: 'key32',
      overlap: 'dual',
      writer: 'file',
      holders: inOrder('api', 'sts', 'gateway', 'audit', 'console'),
      checks: { deploy: ['audit_new_key_accepted', 'audit_mismatch_rejected'], retire: ['audit_new_key_accepted', 'audit_old_key_refused'] },
      safety_window_ms: 24 * H,
      drain: [{ stream: 'caracal.audit.events', group: '*' }],
      max_age_ms: 90 * 24 * H,
    },
    {
      material: 'STREAMS_HMAC_KEY',
      env: 'STREAMS_HMAC_KEY',
      file: 'streamsHmacKey',
      format: 'key32',
      overlap: 'dual',
      writer: 'file',
      holders: inOrder('api', 'sts', 'gateway', 'coordinator', 'audit'),
      checks: { deploy: ['streams_new_key_accepted'], retire: ['streams_new_key_accepted', 'streams_old_key_refused'] },
      safety_window_ms: 1 * H,
      drain: [{ stream: 'caracal.*', group: '*' }],
      max_age_ms: 90 * 24 * H,
    },
    {
      material: 'GATEWAY_STS_HMAC_KEY',
      env: 'GATEWAY_STS_HMAC_KEY',
      file: 'gatewayStsHmacKey',
      format: 'key32',
      overlap: 'dual',
      writer: 'file',
      holders: inOrder('api', 'sts', 'gateway'),
      checks: { deploy: ['gateway_bad_hmac_denied'], retire: ['gateway_old_key_refused'] },
      safety_window_ms: 0,
      window_parts: { nonce_ttl_ms: 120 * S, clock_skew_ms: 60 * S },
      drain: [],
      max_age_ms: 90 * 24 * H,
    },
    {
      material: 'CARACAL_ADMIN_TOKEN',
      env: 'CARACAL_ADMIN_TOKEN',
      file: 'caracalAdminToken',
      format: 'token32',
      overlap: 'none',
      writer: 'file',
      holders: together('api', 'gateway', 'console'),
      checks: { deploy: ['admin_token_accepted', 'admin_token_old_refused'], retire: ['admin_token_old_refused'] },
      safety_window_ms: 0,
      drain: [],
      max_age_ms: 90 * 24 * H,
    },
    {
      material: 'CARACAL_COORDINATOR_TOKEN',
      env: 'CARACAL_COORDINATOR_TOKEN',
      file: 'caracalCoordinatorToken',
      format: 'token32',
      overlap: 'none',
      writer: 'file',
      holders: together('coordinator', 'console'),
      checks: { deploy: ['coordinator_token_accepted', 'coordinator_token_old_refused'], retire: ['coordinator_token_old_refused'] },
      safety_window_ms: 0,
      drain: [],
      max_age_ms: 90 * 24 * H,
    },
    {
      material: 'POSTGRES_PASSWORD',
      env: 'DB_PASSWORD',
      file: '{role}DbPassword',
      format: 'password24',
      overlap: 'none',
      writer: 'postgres-role',
      needs: 'role',
      holders: [],
      holders_by_role: {
        api: together('api'),
        sts: together('sts'),
        gateway: together('gateway'),
        audit: together('audit'),
        coordinator: together('coordinator'),
      },
      checks: { deploy: ['postgres_login_new'], retire: ['postgres_login_old_refused'] },
      derived: ['{role}DatabaseUrl'],
      safety_window_ms: 30 * M,
      drain: [],
      max_age_ms: 180 * 24 * H,
    },
    {
      material: 'REDIS_PASSWORD',
      env: 'REDIS_PASSWORD',
      file: 'redisPassword',
      format: 'password24',
      overlap: 'dual',
      writer: 'redis-acl',
      holders: inOrder('api', 'sts', 'gateway', 'coordinator', 'audit'),
      checks: { deploy: ['redis_auth_new'], retire: ['redis_auth_old_refused'] },
      derived: ['redisUrl'],
      safety_window_ms: 5 * M,
      drain: [],
      max_age_ms: 180 * 24 * H,
    },
  ],
});

/**
 * The sandbox catalog: the same materials with safety windows of seconds, so
 * a demo or a test sees retirement without waiting hours.
 */
export function sandboxCatalog(windowMs = 1000): Catalog {
  return catalogSchema.parse({
    ...DEFAULT_CATALOG,
    materials: DEFAULT_CATALOG.materials.map((m) => ({
      ...m,
      safety_window_ms: Math.min(safetyWindowOf(m), windowMs),
      window_parts: undefined,
    })),
  });
}
