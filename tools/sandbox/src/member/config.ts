import { randomUUID } from 'node:crypto';
import { isMemberName, CARACAL_PORTS, type MemberName } from '../members.js';

/** A member's settings, read once from its environment at start. */
export interface MemberConfig {
  member: MemberName;
  host: string;
  port: number;
  redisUrl: string;
  /** REDIS_CLUSTER_NODES (`host:port,…`): the streams live on a Redis Cluster; unset for a standalone Redis. */
  redisClusterNodes: string | undefined;
  namespace: string;
  acceptPrevious: boolean;
  /** ENV name → kid the loaded value must have (fault injection). */
  pins: Record<string, string>;
  /** Stable across restarts so a restarted member re-reads its own pending entries. */
  hostId: string;
  stsUrl: string | undefined;
  apiUrl: string | undefined;
  coordinatorUrl: string | undefined;
  /** Postgres of the sealed zone secrets; unset turns those endpoints off. */
  databaseUrl: string | undefined;
  /** How long the JWKS keeps serving the previous zone key after a rotation. */
  jwksPreviousWindowMs: number;
  bootId: string;
  startedAt: string;
}

const PIN_PREFIX = 'SANDBOX_PIN_';
/** Caracal serves the previous zone key while the active one is under 24 h old. */
export const DEFAULT_JWKS_PREVIOUS_WINDOW_MS = 24 * 60 * 60 * 1000;

export function memberConfigFromEnv(nameArg: string | undefined, env: NodeJS.ProcessEnv): MemberConfig {
  const member = nameArg ?? env.SANDBOX_MEMBER;
  if (!member || !isMemberName(member)) {
    throw new Error(`unknown sandbox member ${JSON.stringify(member ?? '')}`);
  }
  const port = env.PORT ? Number(env.PORT) : CARACAL_PORTS[member];
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number`);
  return {
    member,
    host: env.HOST || '127.0.0.1',
    port,
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    redisClusterNodes: env.REDIS_CLUSTER_NODES || undefined,
    namespace: env.CARACAL_NAMESPACE ?? '',
    acceptPrevious: parseBool(env.SANDBOX_ACCEPT_PREVIOUS, true),
    pins: pinsFromEnv(env),
    hostId: env.SANDBOX_HOST_ID || 'sandbox',
    stsUrl: env.STS_URL || undefined,
    apiUrl: env.API_URL || undefined,
    coordinatorUrl: env.COORDINATOR_URL || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    jwksPreviousWindowMs: parseMs(env.SANDBOX_JWKS_PREVIOUS_WINDOW_MS, DEFAULT_JWKS_PREVIOUS_WINDOW_MS, 'SANDBOX_JWKS_PREVIOUS_WINDOW_MS'),
    bootId: randomUUID(),
    startedAt: new Date().toISOString(),
  };
}

function pinsFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const pins: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith(PIN_PREFIX) && value) pins[name.slice(PIN_PREFIX.length)] = value.toLowerCase();
  }
  return pins;
}

function parseBool(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  return !['0', 'false', 'no', 'off'].includes(value.toLowerCase());
}

function parseMs(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 0) throw new Error(`${name} must be a whole number of milliseconds`);
  return ms;
}
