import { dropSchema, testSchemaUrl } from '@caracal-rotation/testing';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { migrate } from '../src/migrate.js';

/**
 * A pool over a schema of this test file's own (real Postgres, isolated by
 * search_path), migrated unless `migrated: false`; dropped after the file.
 */
export function useTestDatabase(prefix: string, options: { migrated?: boolean } = {}): { pool: () => pg.Pool; url: () => string } {
  let pool: pg.Pool | undefined;
  let schema = '';
  let url = '';
  beforeAll(async () => {
    ({ url, schema } = await testSchemaUrl(prefix));
    pool = new pg.Pool({ connectionString: url, max: 6 });
    if (options.migrated !== false) await migrate(pool);
  });
  afterAll(async () => {
    await pool?.end();
    if (schema) await dropSchema(schema);
  });
  return {
    pool: () => {
      if (!pool) throw new Error('test database not ready');
      return pool;
    },
    url: () => url,
  };
}
