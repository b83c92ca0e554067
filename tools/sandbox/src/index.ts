/**
 * @caracal-rotation/sandbox: a replica of a `caracal up` deployment of
 * Caracal (docs/sandbox.md) for the orchestrator's demo and end-to-end tests.
 * Run it with `caracal-sandbox up`, or from code with launchSandbox().
 */
export { launchSandbox, sandboxProgram, type LaunchSandboxOptions, type LaunchedSandbox } from './launch.js';
export { parseReadyLine, type SandboxReady } from './ready.js';

// Test helpers other projects use against password-checking stores (not part of the replica).
export { startSandboxPostgres, DEFAULT_PG_BIN_DIR, type SandboxPostgres, type SandboxPostgresOptions } from './stores/postgres.js';
export {
  bootstrapPostgresRoles,
  bootstrapRedisAclUser,
  dropRedisAclUser,
  type PostgresRolesOptions,
  type PostgresRolesResult,
  type RedisAclUserOptions,
} from './stores/bootstrap.js';
