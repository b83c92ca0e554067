import { ensureTestServers } from './servers.js';

/**
 * Vitest global setup: make sure Redis and Postgres answer before any test
 * file runs, and export their URLs to the workers through the environment.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const servers = await ensureTestServers();
  process.env.REDIS_URL = servers.redisUrl;
  process.env.DATABASE_URL = servers.databaseUrl;
  return servers.stop;
}
