import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';

/**
 * What Caracal's Node services (apps/api, apps/coordinator) share: Fastify
 * with their request-id rule, their error handler's CaracalError body, the
 * env helpers of packages/serverCore/ts/src/config.ts and the Redis clock
 * their per-minute rate buckets use.
 */

export function mustGetenv(key: string, env: NodeJS.ProcessEnv = process.env): string {
  const v = env[key];
  if (!v) throw new Error(`Required env var missing: ${key}`);
  return v;
}

export function intEnv(key: string, fallback: number, min = 0, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = parseInt(raw, 10);
  if (!Number.isFinite(n) || n < min) throw new Error(`Invalid integer env var ${key}: ${raw}`);
  return n;
}

/** packages/serverCore isPublished: CARACAL_MODE rc or stable. */
export function isPublished(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CARACAL_MODE === 'rc' || env.CARACAL_MODE === 'stable';
}

/** packages/serverCore loadStreamsHmacKey: null when unset, at least 32 bytes of hex otherwise. */
export function loadStreamsHmacKey(env: NodeJS.ProcessEnv = process.env): Buffer | null {
  const raw = env.STREAMS_HMAC_KEY;
  if (!raw) return null;
  const key = Buffer.from(raw, 'hex');
  if (key.length < 32) throw new Error('STREAMS_HMAC_KEY must be hex-encoded with at least 32 bytes');
  return key;
}

/** redisMinuteBucket: the minute of Redis's own clock, so every replica shares buckets. */
export async function redisMinuteBucket(redis: Redis): Promise<number> {
  const [seconds, micro] = await redis.time();
  return Math.floor((Number(seconds) * 1000 + Math.floor(Number(micro) / 1000)) / 60_000);
}

/** INCR with a 90 s expiry on the first hit; the count. */
export async function tick(redis: Redis, key: string): Promise<number> {
  const n = await redis.incr(key);
  if (n === 1) await redis.expire(key, 90);
  return n;
}

export function caracalErrorBody(code: string, description: string, requestId?: string): Record<string, unknown> {
  return { error: code, error_description: description, ...(requestId ? { requestId } : {}) };
}

/** Fastify as both apps build it: the x-request-id rule and the catch-all error handler. */
export function createNodeApp(service: string, opts: { bodyLimit: number; trustProxy?: boolean }): FastifyInstance {
  const app = Fastify({
    logger: { level: process.env.LOG_LEVEL || 'info', base: { service, pid: process.pid }, messageKey: 'msg' },
    bodyLimit: opts.bodyLimit,
    requestTimeout: 30_000,
    keepAliveTimeout: 75_000,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      const value = Array.isArray(incoming) ? incoming[0] : incoming;
      return value && /^[A-Za-z0-9_.\-:]{1,128}$/.test(value) ? value : randomUUID();
    },
    requestIdHeader: 'x-request-id',
    trustProxy: opts.trustProxy ?? false,
  });
  app.setErrorHandler((err, req, reply) => {
    req.log.error({ err }, 'unhandled route error');
    const status = (err as { statusCode?: number }).statusCode;
    const code = typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
    void reply.code(code).send(caracalErrorBody('internal_error', 'The service failed to process the request', req.id));
  });
  return app;
}
