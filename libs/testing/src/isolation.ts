import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from './servers.js';

/** A name no other test file will pick, so files can run in parallel. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** A Redis connection for a test; the caller quits it. */
export function testRedis(): Redis {
  return new Redis(process.env.REDIS_URL ?? DEFAULT_REDIS_URL, { protocol: 2, maxRetriesPerRequest: 3, lazyConnect: false });
}

/**
 * A DATABASE_URL whose connections use their own schema (created here), so
 * each test file owns its tables.
 */
export async function testSchemaUrl(prefix: string): Promise<{ url: string; schema: string }> {
  const base = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const schema = uniqueName(prefix).replace(/[^a-z0-9_]/g, '_');
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA "${schema}"`);
  } finally {
    await client.end();
  }
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { url: url.toString(), schema };
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
