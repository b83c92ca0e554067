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
