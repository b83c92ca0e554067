/**
 * The names Caracal gives the secrets the baseline checks present
 * (packages/engine/src/secrets.ts SECRET_FILES): the current value of each
 * is what the fleet must accept whatever rotates.
 */
export const CARACAL_FILES = {
  auditKey: 'auditHmacKey',
  streamsKey: 'streamsHmacKey',
  gatewayKey: 'gatewayStsHmacKey',
  adminToken: 'caracalAdminToken',
} as const;
