import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabaseIfMissing } from './create-database.js';

const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `proj_createdb_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;

afterAll(async () => {
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${name}"`);
  await client.end();
});

describe('createDatabaseIfMissing', () => {
  it('creates the database once, even when replicas race', async () => {
    const url = new URL(base);
    url.pathname = `/${name}`;
    const results = await Promise.all([createDatabaseIfMissing(url.toString()), createDatabaseIfMissing(url.toString())]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await createDatabaseIfMissing(url.toString())).toBe(false);
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    expect((await client.query('SELECT current_database() AS db')).rows[0].db).toBe(name);
    await client.end();
  });
});
