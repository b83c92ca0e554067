import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

/** One JSON log line on stderr, shaped like the services' zerolog/pino lines. Never given secret values. */
export type Log = (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

export function createLog(service: string): Log {
  return (level, message, fields = {}) => {
    process.stderr.write(`${JSON.stringify({ level, service, time: new Date().toISOString(), pid: process.pid, message, ...fields })}\n`);
  };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The host name a replica uses for its per-host names (the gateway's
 * consumer group). A container gets it from the platform through HOSTNAME; a
 * process started without one behaves like a freshly scheduled pod and gets
 * a new one (the sandbox's engine starts the gateway so).
 */
export function replicaHostname(): string {
  return process.env.HOSTNAME || randomBytes(6).toString('hex');
}

/** A Redis client for a service; commands fail fast while Redis is down instead of queueing forever. */
export function connectRedis(url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false, retryStrategy: (n) => Math.min(n * 100, 1000) });
  redis.on('error', () => undefined);
  return redis;
}

/**
 * A pool for a Go service: pgx with `caracal.zone_id=*` as a runtime
 * parameter of every connection (the RLS sentinel the Go services set).
 */
export function goPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, options: '-c caracal.zone_id=*', connectionTimeoutMillis: 10_000 });
  pool.on('error', () => undefined);
  return pool;
}

/** Runs `op` every `ms` until stop() (a ticker that never overlaps itself). */
export function every(ms: number, op: () => Promise<void>): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = async () => {
    try {
      await op();
    } finally {
      if (!stopped) timer = setTimeout(() => void tick(), ms);
    }
  };
  timer = setTimeout(() => void tick(), ms);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Resolves on SIGTERM or SIGINT (compose stops containers with SIGTERM). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
}
