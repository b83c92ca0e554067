import { migrate } from '@caracal-rotation/projection';
import { dropSchema, testSchemaUrl } from '@caracal-rotation/testing';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { projectionReadiness } from './readiness.js';

describe('projectionReadiness', () => {
  it('is not ready until the migrations are applied', async () => {
    const { url, schema } = await testSchemaUrl('rec_ready');
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    try {
      expect(await projectionReadiness(pool)).toEqual({ ok: false, error: 'migrations not applied: 1, 2, 3', dependency: 'postgres' });
      await migrate(pool);
      expect(await projectionReadiness(pool)).toEqual({ ok: true });
    } finally {
      await pool.end();
      await dropSchema(schema);
    }
  });

  it('is not ready when Postgres does not answer', async () => {
    const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/postgres', connectionTimeoutMillis: 1_000 });
    try {
      expect(await projectionReadiness(pool)).toMatchObject({ ok: false, dependency: 'postgres' });
    } finally {
      await pool.end();
    }
  });
});
