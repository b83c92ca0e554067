import net from 'node:net';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestServers {
  redisUrl: string;
  databaseUrl: string;
  stop: () => Promise<void>;
}

function answers(url: string, defaultPort: number, timeoutMs = 1500): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || '127.0.0.1', port: Number(port || defaultPort) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function dockerAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds Redis and Postgres for the tests: REDIS_URL / DATABASE_URL (or the
 * local defaults) when they answer; otherwise containers, where Docker runs;
 * otherwise an error that says what to start.
 */
export async function ensureTestServers(): Promise<TestServers> {
  const redisUrl = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  const databaseUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const [redisUp, pgUp] = await Promise.all([answers(redisUrl, 6379), answers(databaseUrl, 5432)]);
  if (redisUp && pgUp) return { redisUrl, databaseUrl, stop: async () => {} };

  if (!(await dockerAvailable())) {
    const missing = [
      !redisUp && `Redis at ${redisUrl} (start it: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no)`,
      !pgUp && `PostgreSQL at ${databaseUrl} (start it: pg_ctlcluster --skip-systemctl-redirect 15 main start)`,
    ].filter(Boolean);
    throw new Error(`Tests need real servers and none is running, nor Docker to start one: ${missing.join('; ')}. Or set REDIS_URL / DATABASE_URL.`);
  }

  const { GenericContainer, Wait } = await import('testcontainers');
  const stops: Array<() => Promise<unknown>> = [];
  let resolvedRedis = redisUrl;
  let resolvedPg = databaseUrl;
  if (!redisUp) {
    const redis = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
    stops.push(() => redis.stop());
    resolvedRedis = `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`;
  }
  if (!pgUp) {
    const pg = await new GenericContainer('postgres:15-alpine')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    stops.push(() => pg.stop());
    resolvedPg = `postgres://postgres@${pg.getHost()}:${pg.getMappedPort(5432)}/postgres`;
  }
  return {
    redisUrl: resolvedRedis,
    databaseUrl: resolvedPg,
    stop: async () => {
      await Promise.allSettled(stops.map((s) => s()));
    },
  };
}
