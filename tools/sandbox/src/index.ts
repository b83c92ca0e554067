/**
 * @caracal-rotation/sandbox: stand-ins for Caracal's services that the
 * rotation orchestrator rotates secrets against (DESIGN.md §8), and client
 * helpers that speak their signatures.
 */
export { startFleet } from './supervisor.js';
export type { Fleet, FleetMember, FleetOptions, MemberStatus, RestartResult, BootInfo } from './supervisor/types.js';
export {
  MEMBER_NAMES,
  MEMBER_SECRETS,
  SECRET_FILES,
  SECRET_ENV_NAMES,
  PREVIOUS_FILE_SUFFIX,
  CARACAL_PORTS,
  isMemberName,
  type MemberName,
  type SecretEnvName,
} from './members.js';
export { ensureSandboxSecrets } from './ensure-secrets.js';
export { STS_REVOCATION_GROUP } from './member/roles/sts.js';
export { gatewayRevocationGroup } from './member/roles/gateway.js';
export { AUDIT_GROUP, auditOutcomeKeys } from './member/audit-ingest.js';
export { MAX_SKEW_SECONDS, NONCE_TTL_SECONDS } from './member/gateway-verify.js';
export { DEFAULT_JWKS_PREVIOUS_WINDOW_MS } from './member/config.js';

// Zone signing keys on the STS.
export {
  JWKS_PATH,
  JWKS_CACHE_CONTROL,
  ZONES_PATH,
  MANDATES_PATH,
  MANDATE_VERIFY_PATH,
  STS_KEYS_GROUP,
  jwksUrlPath,
  rotateSigningKeyPath,
  retirePreviousSigningKeyPath,
  zoneKeyRedisKeys,
} from './member/zone-keys/paths.js';
export { isZoneId, type PublicZoneJwk } from './member/zone-keys/keys.js';
export { MANDATE_ISSUER, MAX_MANDATE_TTL_SECONDS, type MandateVerdict } from './member/zone-keys/mandates.js';
export { keyInvalidationFields } from '@caracal-rotation/caracal-protocol';

// ZONE_KEK: the CSS1 envelope, the sealed-secrets table and its re-seal job.
export { seal, open, kekIdOf, kekKeyring, sealedKekId, Css1Error, CSS1_MIN_BYTES, type KekKeyring, type Css1ErrorCode } from './css1.js';
export { SEALED_TABLE, ensureSealedTable, type SealedRow } from './sealed/store.js';
export { resealAll, type ResealCounts, type ResealBatch, type ResealOptions } from './sealed/reseal.js';
export { checkSealed, type SealedCheck } from './sealed/check.js';
export {
  SEALED_PATH,
  SEALED_CHECK_PATH,
  SEALED_RESEAL_PATH,
  resealProgram,
} from './sealed/paths.js';
export { seedSandbox, type SeedOptions } from './seed.js';

// Postgres roles and the Redis ACL user whose passwords rotate.
export { startSandboxPostgres, DEFAULT_PG_BIN_DIR, type SandboxPostgres, type SandboxPostgresOptions } from './stores/postgres.js';
export {
  bootstrapPostgresRoles,
  bootstrapRedisAclUser,
  dropRedisAclUser,
  type PostgresRolesOptions,
  type PostgresRolesResult,
  type RedisAclUserOptions,
} from './stores/bootstrap.js';
