/**
 * Runs the sandbox fleet in the foreground until SIGINT/SIGTERM:
 *   node tools/sandbox/dist/fleet.js
 * Environment: CARACAL_SECRETS_DIR (else Caracal's default location),
 * REDIS_URL, REDIS_CLUSTER_NODES (host:port,… of a Redis Cluster to use instead), SANDBOX_BASE_PORT (a port, or unset/`ephemeral` for free ports),
 * SANDBOX_CONTROL_PORT, CARACAL_NAMESPACE, SANDBOX_LOG_DIR, DATABASE_URL (sealed
 * zone secrets of API and STS; unset turns them off), SANDBOX_JWKS_PREVIOUS_WINDOW_MS.
 * Missing secrets are created first, as `caracal up` does.
 */
import { resolveSecretsDir } from '@caracal-rotation/secrets';
import { ensureSandboxSecrets } from '../ensure-secrets.js';
import { startFleet } from '../supervisor.js';

function portFromEnv(name: string): number | undefined {
  const value = process.env[name];
  if (!value || value === 'ephemeral') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`${name} must be a port number or "ephemeral"`);
    process.exit(2);
  }
  return port;
}

const secretsDir = resolveSecretsDir(process.env);
const basePort = portFromEnv('SANDBOX_BASE_PORT');
const controlPort = portFromEnv('SANDBOX_CONTROL_PORT');
const jwksWindow = process.env.SANDBOX_JWKS_PREVIOUS_WINDOW_MS;
if (jwksWindow && !/^\d+$/.test(jwksWindow)) {
  console.error('SANDBOX_JWKS_PREVIOUS_WINDOW_MS must be a whole number of milliseconds');
  process.exit(2);
}

const created = await ensureSandboxSecrets(secretsDir);
if (created.length > 0) console.error(`created missing secrets in ${secretsDir}: ${created.join(', ')}`);

const fleet = await startFleet({
  secretsDir,
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  redisClusterNodes: (process.env.REDIS_CLUSTER_NODES ?? '').split(',').map((n) => n.trim()).filter((n) => n !== ''),
  namespace: process.env.CARACAL_NAMESPACE ?? '',
  basePort: basePort ?? 'ephemeral',
  controlPort,
  logDir: process.env.SANDBOX_LOG_DIR || undefined,
  databaseUrl: process.env.DATABASE_URL || undefined,
  jwksPreviousWindowMs: jwksWindow ? Number(jwksWindow) : undefined,
}).catch((err: unknown) => {
  console.error(`sandbox fleet failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

for (const { name, url, pid } of fleet.status()) console.log(`${name.padEnd(12)} ${url}  (pid ${pid})`);
console.log(`${'control'.padEnd(12)} ${fleet.controlUrl}`);

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  fleet.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
