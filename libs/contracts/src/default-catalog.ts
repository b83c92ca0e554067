import { catalogSchema, safetyWindowOf, type Catalog } from './catalog.js';
import type { HolderStep } from './plan.js';
import { ORCHESTRATOR_SERVICES } from './streams.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

/** Holders listed in roll order, one after another. */
const inOrder = (...services: string[]): HolderStep[] => services.map((service, roll_group) => ({ service, roll_group }));
/** Holders that must switch in the same instant: each accepts exactly one value. */
const together = (...services: string[]): HolderStep[] => services.map((service) => ({ service, roll_group: 0 }));

const RESTORE = 'the previous value is put back and every holder restarts with it';

/**
 * The built-in catalog. Holders and overlap follow what Caracal reads
 * (Caracal's infra/docker/runtime-compose.yml and infra/helm/caracal):
 * only SECRET_STORE_KEK has a `_PREVIOUS` variable among these materials
 * (packages/core/go/secretstore/envelope.go LoadKeyring); every other HMAC
 * key and token accepts exactly one value, so its holders switch together.
 */
export const DEFAULT_CATALOG: Catalog = catalogSchema.parse({
  version: 2,
  materials: [
    {
      material: 'ZONE_KEK',
      env: 'SECRET_STORE_KEK',
      file: 'secretStoreKek',
      format: 'kek32',
      overlap: 'dual',
      writer: 'file',
      previous_at_rest: 'copy',
      holders: inOrder('api', 'sts'),
      rollback: 'restore',
      rollback_why: 'the old KEK becomes current again and the new one stays previous, so values already sealed under it still open; the re-seal moves them back',
      checks: { deploy: ['kek_reseal', 'kek_rows_on_new_kek', 'kek_zone_keys_open'], retire: ['kek_zone_keys_open'] },
      safety_window_ms: 1 * H,
      warnings: [
        'api and sts must read SECRET_STORE_KEK_PREVIOUS_FILE (compose: the override file in deploy/compose; Helm: secrets.kekRotation=true), or the stage phase cannot take effect',
      ],
      max_age_ms: 365 * D,
    },
    {
      material: 'ZONE_SIGNING_KEY',
      env: 'ZONE_SIGNING_KEY',
      file: null,
      format: 'es256',
      overlap: 'none',
      writer: 'sts-zone-key',
      needs: 'zone',
      holders: [],
      rollback: 'none',
      rollback_why: 'Caracal has no route that makes a previous zone key active again; the STS keeps listing it in the JWKS for 24 h, so mandates it signed keep verifying',
      checks: { deploy: ['jwks_new_kid', 'jwks_keys_valid'], retire: ['jwks_new_kid', 'jwks_keys_valid'] },
      safety_window_ms: 0,
      // The STS keeps the previous key in the JWKS while the active key is under 24 h old
      // (services/sts/internal/db.go GetZoneSigningKeySecrets), then drops it by itself.
      window_parts: { jwks_max_age_ms: 300 * S, sts_public_key_cache_ms: 15 * M, sdk_verifier_cache_ms: 5 * M, mandate_ttl_ms: 1 * H },
      warnings: ['a second rotation of the same zone within 24 h drops the first previous key early; it is refused unless emergency'],
      max_age_ms: 90 * D,
    },
    {
      material: 'AUDIT_HMAC_KEY',
      env: 'AUDIT_HMAC_KEY',
      file: 'auditHmacKey',
      format: 'key32',
      overlap: 'none',
      writer: 'file',
      holders: together('api', 'sts', 'gateway', 'audit', 'coordinator'),
      rollback: 'restore',
      rollback_why: RESTORE,
      checks: { deploy: ['audit_new_key_accepted', 'audit_old_key_refused'], retire: ['audit_new_key_accepted', 'audit_old_key_refused'] },
      safety_window_ms: 24 * H,
      drain: [{ stream: 'caracal.audit.events', group: '*' }],
      warnings: [
        "Caracal's tamper sweep re-checks stored audit rows with the current key only (services/audit/internal/tamper.go): every row written before this rotation will be reported as tampered at the next Audit start. The old key stays in the orchestrator's version history for offline verification.",
      ],
      max_age_ms: 90 * D,
    },
    {
      material: 'STREAMS_HMAC_KEY',
      env: 'STREAMS_HMAC_KEY',
      file: 'streamsHmacKey',
      format: 'key32',
      overlap: 'none',
      writer: 'file',
      holders: together('api', 'sts', 'gateway', 'coordinator'),
      rollback: 'restore',
      rollback_why: RESTORE,
      checks: { deploy: ['streams_new_key_accepted', 'streams_old_key_refused'], retire: ['streams_new_key_accepted', 'streams_old_key_refused'] },
      safety_window_ms: 1 * H,
      drain: [{ stream: 'caracal.*', group: '*' }],
      drain_before_switch: true,
      warnings: ["Caracal's stream consumers drop (and acknowledge) a message signed with the other key: messages published between the drain and the restart of their consumer are lost"],
      max_age_ms: 90 * D,
    },
    {
      material: 'GATEWAY_STS_HMAC_KEY',
      env: 'GATEWAY_STS_HMAC_KEY',
      file: 'gatewayStsHmacKey',
      format: 'key32',
      overlap: 'none',
      writer: 'file',
      holders: together('api', 'sts', 'gateway'),
      rollback: 'restore',
      rollback_why: RESTORE,
      checks: { deploy: ['gateway_new_key_accepted', 'gateway_old_key_refused'], retire: ['gateway_old_key_refused'] },
      safety_window_ms: 0,
      window_parts: { nonce_ttl_ms: 120 * S, clock_skew_ms: 60 * S },
      max_age_ms: 90 * D,
    },
    {
      material: 'CARACAL_ADMIN_TOKEN',
      env: 'CARACAL_ADMIN_TOKEN',
      file: 'caracalAdminToken',
      format: 'token32',
      overlap: 'none',
      writer: 'file',
      holders: together('api', 'gateway', 'web'),
      rollback: 'forward',
      rollback_why:
        'Caracal revokes every older bootstrap token when an API replica starts with a new one and never un-revokes it (apps/api/src/auth.ts), so the old token cannot come back: a rollback writes a fresh token',
      checks: { deploy: ['admin_token_accepted', 'admin_token_old_refused'], retire: ['admin_token_old_refused'] },
      safety_window_ms: 0,
      max_age_ms: 90 * D,
    },
    {
      material: 'CARACAL_COORDINATOR_TOKEN',
      env: 'CARACAL_COORDINATOR_TOKEN',
      file: 'caracalCoordinatorToken',
      format: 'token32',
      overlap: 'none',
      writer: 'file',
      holders: together('coordinator', 'web'),
      rollback: 'restore',
      rollback_why: RESTORE,
      checks: { deploy: ['coordinator_token_accepted', 'coordinator_token_old_refused'], retire: ['coordinator_token_old_refused'] },
      safety_window_ms: 0,
      max_age_ms: 90 * D,
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
      roles: {
        api: { db_role: 'caracalapi', holders: together('api') },
        sts: { db_role: 'caracalsts', holders: together('sts') },
        gateway: { db_role: 'caracalgateway', holders: together('gateway') },
        audit: { db_role: 'caracalaudit', holders: together('audit') },
        coordinator: { db_role: 'caracalcoordinator', holders: together('coordinator') },
        auth: { db_role: 'caracalauth', holders: together('web') },
      },
      rollback: 'restore',
      rollback_why: 'the role gets its old password back and its services restart with it',
      checks: { deploy: ['postgres_login_new', 'postgres_login_old_refused'], retire: ['postgres_login_old_refused'] },
      derived: ['{role}DatabaseUrl'],
      safety_window_ms: 30 * M,
      warnings: ['existing connections survive ALTER ROLE; the role\'s services restart right after it so that no new connection is attempted with the old password'],
      max_age_ms: 180 * D,
    },
    {
      material: 'REDIS_PASSWORD',
      env: 'REDIS_PASSWORD',
      file: 'redisPassword',
      format: 'password24',
      overlap: 'none',
      writer: 'redis-password',
      holders: together('api', 'sts', 'gateway', 'audit', 'coordinator'),
      rollback: 'restore',
      rollback_why: 'the new password is removed from the server and the files restored; the old one never stopped working during the overlap',
      checks: { deploy: ['redis_auth_new'], retire: ['redis_auth_new', 'redis_auth_old_refused'] },
      derived: ['redisUrl'],
      safety_window_ms: 5 * M,
      max_age_ms: 180 * D,
    },
    {
      material: 'ROTATION_BUS_KEY',
      env: 'ROTATION_BUS_KEY',
      file: 'busKey',
      format: 'key32',
      overlap: 'dual',
      writer: 'file',
      store: 'rotation',
      holders: together(...ORCHESTRATOR_SERVICES),
      rollback: 'restore',
      rollback_why: RESTORE,
      checks: { deploy: ['bus_key_loaded'], retire: ['bus_key_loaded'] },
      safety_window_ms: 1 * M,
      drain: [{ stream: '{rotation}.*', group: '*' }],
      max_age_ms: 90 * D,
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
