import { existsSync } from 'node:fs';
import path from 'node:path';
import { MEMBER_SECRETS, PREVIOUS_FILE_SUFFIX, SECRET_ENV_NAMES, SECRET_FILES, type MemberName } from '../members.js';

export interface MemberEnvInputs {
  name: MemberName;
  port: number;
  secretsDir: string;
  redisUrl: string;
  redisClusterNodes?: readonly string[];
  namespace: string;
  acceptPrevious: boolean;
  pins: Record<string, string>;
  peerUrls: { sts?: string; api?: string; coordinator?: string };
  databaseUrl?: string;
  jwksPreviousWindowMs?: number;
}

/**
 * The environment of one member process, evaluated at each spawn: a
 * `<NAME>_PREVIOUS_FILE` is passed only if that file exists right now, which
 * is how a rotation's overlap window reaches a restarted holder.
 */
export function memberEnv(x: MemberEnvInputs, inherited: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...withoutSandboxSettings(inherited) };
  env.SANDBOX_MEMBER = x.name;
  env.PORT = String(x.port);
  env.HOST = '127.0.0.1';
  env.REDIS_URL = x.redisUrl;
  // The fleet's options decide, not whatever the supervisor inherited.
  if (x.redisClusterNodes?.length) env.REDIS_CLUSTER_NODES = x.redisClusterNodes.join(',');
  else delete env.REDIS_CLUSTER_NODES;
  env.CARACAL_NAMESPACE = x.namespace;
  env.SANDBOX_ACCEPT_PREVIOUS = String(x.acceptPrevious);
  env.SANDBOX_EXIT_WITH_PARENT = '1';
  for (const [secret, kid] of Object.entries(x.pins)) env[`SANDBOX_PIN_${secret}`] = kid;
  for (const secret of MEMBER_SECRETS[x.name]) {
    const file = path.join(x.secretsDir, SECRET_FILES[secret]);
    env[`${secret}_FILE`] = file;
    const previous = `${file}${PREVIOUS_FILE_SUFFIX}`;
    if (existsSync(previous)) env[`${secret}_PREVIOUS_FILE`] = previous;
  }
  if (x.peerUrls.sts) env.STS_URL = x.peerUrls.sts;
  if (x.peerUrls.api) env.API_URL = x.peerUrls.api;
  if (x.peerUrls.coordinator) env.COORDINATOR_URL = x.peerUrls.coordinator;
  // Only the KEK holders keep sealed secrets, as in Caracal's compose file.
  if (x.databaseUrl && MEMBER_SECRETS[x.name].includes('SECRET_STORE_KEK')) env.DATABASE_URL = x.databaseUrl;
  if (x.jwksPreviousWindowMs !== undefined && x.name === 'sts') env.SANDBOX_JWKS_PREVIOUS_WINDOW_MS = String(x.jwksPreviousWindowMs);
  return env;
}

/**
 * Drops secrets and sandbox settings the supervisor itself may have in its
 * environment: a member must see only what the fleet gives it (and
 * `NAME` plus `NAME_FILE` together is a fatal conflict).
 */
function withoutSandboxSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const secretVars = new Set<string>();
  for (const name of [...SECRET_ENV_NAMES, 'ZONE_KEK']) {
    for (const suffix of ['', '_FILE', '_PREVIOUS', '_PREVIOUS_FILE']) secretVars.add(`${name}${suffix}`);
  }
  const drop = (key: string) =>
    secretVars.has(key) || key.startsWith('SANDBOX_') || ['STS_URL', 'API_URL', 'COORDINATOR_URL', 'DATABASE_URL'].includes(key);
  return Object.fromEntries(Object.entries(env).filter(([key]) => !drop(key)));
}
