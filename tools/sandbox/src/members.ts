/**
 * The sandbox fleet's membership: which stand-in services exist, which of
 * Caracal's secrets each one holds (the compose file's assignment, see
 * CARACAL-INTEROP.md "Secrets on disk"), and the file each secret lives in.
 */

export const MEMBER_NAMES = ['api', 'sts', 'gateway', 'audit', 'coordinator', 'console'] as const;
export type MemberName = (typeof MEMBER_NAMES)[number];

export function isMemberName(value: string): value is MemberName {
  return (MEMBER_NAMES as readonly string[]).includes(value);
}

/** Environment name → Caracal's camelCase file name in the secrets directory. */
export const SECRET_FILES = {
  SECRET_STORE_KEK: 'secretStoreKek',
  STREAMS_HMAC_KEY: 'streamsHmacKey',
  AUDIT_HMAC_KEY: 'auditHmacKey',
  GATEWAY_STS_HMAC_KEY: 'gatewayStsHmacKey',
  CARACAL_ADMIN_TOKEN: 'caracalAdminToken',
  CARACAL_COORDINATOR_TOKEN: 'caracalCoordinatorToken',
  /** Bearer of the STS's /internal endpoints (zone signing-key rotation). */
  STS_ADMIN_TOKEN: 'stsAdminToken',
} as const;
export type SecretEnvName = keyof typeof SECRET_FILES;
export const SECRET_ENV_NAMES = Object.keys(SECRET_FILES) as SecretEnvName[];

/** Suffix of the overlap file (`streamsHmacKeyPrevious`), as DESIGN §4 names it. */
export const PREVIOUS_FILE_SUFFIX = 'Previous';

export const MEMBER_SECRETS: Readonly<Record<MemberName, readonly SecretEnvName[]>> = {
  api: ['SECRET_STORE_KEK', 'STREAMS_HMAC_KEY', 'GATEWAY_STS_HMAC_KEY', 'CARACAL_ADMIN_TOKEN', 'AUDIT_HMAC_KEY'],
  sts: ['SECRET_STORE_KEK', 'AUDIT_HMAC_KEY', 'STREAMS_HMAC_KEY', 'GATEWAY_STS_HMAC_KEY', 'STS_ADMIN_TOKEN'],
  gateway: ['STREAMS_HMAC_KEY', 'AUDIT_HMAC_KEY', 'GATEWAY_STS_HMAC_KEY', 'CARACAL_ADMIN_TOKEN'],
  audit: ['AUDIT_HMAC_KEY'],
  coordinator: ['STREAMS_HMAC_KEY', 'CARACAL_COORDINATOR_TOKEN'],
  console: ['CARACAL_ADMIN_TOKEN', 'CARACAL_COORDINATOR_TOKEN'],
};

/** Caracal's own ports; used when a member runs alone without PORT. */
export const CARACAL_PORTS: Readonly<Record<MemberName, number>> = {
  api: 3000,
  sts: 8080,
  gateway: 8081,
  audit: 9090,
  coordinator: 4000,
  console: 3001,
};
