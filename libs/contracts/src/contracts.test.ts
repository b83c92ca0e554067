import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CatalogError,
  DEFAULT_CATALOG,
  MATERIALS,
  catalogEntry,
  jsonSchemaDocuments,
  normalizeMaterial,
  parseCatalog,
  requestedDataSchema,
  rotationStreams,
  safetyWindowOf,
  sandboxCatalog,
  stageEventId,
  newRotationId,
} from './index.js';

describe('materials', () => {
  it('accepts SECRET_STORE_KEK as an alias of ZONE_KEK and rejects unknown names', () => {
    expect(normalizeMaterial('SECRET_STORE_KEK')).toBe('ZONE_KEK');
    expect(normalizeMaterial('audit_hmac_key')).toBe('AUDIT_HMAC_KEY');
    expect(normalizeMaterial('NOPE_KEY')).toBeUndefined();
  });
});

describe('default catalog', () => {
  it('has exactly one entry for each of the ten materials', () => {
    expect(DEFAULT_CATALOG.materials.map((m) => m.material).sort()).toEqual([...MATERIALS].sort());
  });

  it('derives the zone signing key window from JWKS max-age, the verifier caches and the mandate TTL', () => {
    const zsk = catalogEntry(DEFAULT_CATALOG, 'ZONE_SIGNING_KEY');
    expect(zsk && safetyWindowOf(zsk)).toBe((300 + 900 + 300 + 3600) * 1000);
  });

  it('gives dual overlap only where a holder reads a previous value: the KEK and the bus key', () => {
    const dual = DEFAULT_CATALOG.materials.filter((m) => m.overlap === 'dual').map((m) => m.material);
    expect(dual.sort()).toEqual(['ROTATION_BUS_KEY', 'ZONE_KEK']);
    for (const m of DEFAULT_CATALOG.materials.filter((e) => e.overlap === 'none')) expect(new Set(m.holders.map((h) => h.roll_group)).size, m.material).toBeLessThanOrEqual(1);
    expect(catalogEntry(DEFAULT_CATALOG, 'CARACAL_ADMIN_TOKEN')?.rollback).toBe('forward');
    expect(catalogEntry(DEFAULT_CATALOG, 'ZONE_SIGNING_KEY')?.rollback).toBe('none');
  });

  it('gives the sandbox catalog windows of seconds, including windows made of parts', () => {
    const sandbox = sandboxCatalog(2000);
    for (const entry of sandbox.materials) expect(safetyWindowOf(entry)).toBeLessThanOrEqual(2000);
    expect(safetyWindowOf(catalogEntry(sandbox, 'GATEWAY_STS_HMAC_KEY')!)).toBe(2000);
    expect(safetyWindowOf(catalogEntry(sandbox, 'CARACAL_ADMIN_TOKEN')!)).toBe(0);
  });
});

describe('catalog files', () => {
  it('round-trips the default catalog through JSON', () => {
    expect(parseCatalog(JSON.stringify(DEFAULT_CATALOG), 'inline')).toEqual(DEFAULT_CATALOG);
  });

  it('lists every problem of a bad catalog with its path', () => {
    const bad = { version: 2, materials: [{ ...DEFAULT_CATALOG.materials[0], overlap: 'triple', safety_window_ms: -1 }] };
    let error: unknown;
    try {
      parseCatalog(JSON.stringify(bad), 'ops.json');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CatalogError);
    const problems = (error as CatalogError).problems.join('\n');
    expect(problems).toMatch(/materials\.0\.overlap/);
    expect(problems).toMatch(/materials\.0\.safety_window_ms/);
  });

  it('refuses text that is not JSON', () => {
    expect(() => parseCatalog('{', 'x.json')).toThrow(/x\.json is invalid:[\s\S]*not valid JSON/);
  });
});

describe('requested payload', () => {
  const base = { material: 'AUDIT_HMAC_KEY', reason: 'quarterly', ticket: 'OPS-1' };
  it('accepts a minimal request', () => {
    expect(requestedDataSchema.safeParse(base).success).toBe(true);
  });
  it.each([
    ['missing reason', { ...base, reason: undefined }],
    ['an actor (the signing key says who asks)', { ...base, actor: 'alice' }],
    ['reason too long', { ...base, reason: 'x'.repeat(501) }],
    ['control characters', { ...base, ticket: 'a\nb' }],
    ['unknown field', { ...base, sudo: true }],
    ['bad zone id', { ...base, zone_id: '../etc' }],
  ])('rejects %s', (_label, data) => {
    expect(requestedDataSchema.safeParse(data).success).toBe(false);
  });
});

describe('ids and streams', () => {
  it('derives the same event id for the same rotation, stage and phase', () => {
    const rotation = newRotationId();
    expect(stageEventId(rotation, 'roller', 'deploy')).toBe(stageEventId(rotation, 'roller', 'deploy'));
    expect(stageEventId(rotation, 'roller', 'deploy')).not.toBe(stageEventId(rotation, 'roller', 'retire'));
    expect(rotation[14]).toBe('7');
  });
  it('names streams literally', () => {
    expect(rotationStreams().completed).toBe('caracal.rotation.completed');
    expect(rotationStreams('t1.caracal.rotation').planned).toBe('t1.caracal.rotation.planned');
  });
});

describe('exported JSON Schema', () => {
  it('matches the committed files (run `npm run schemas` after changing a schema)', () => {
    const dir = join(import.meta.dirname, '..', 'json-schema');
    const docs = jsonSchemaDocuments();
    expect(readdirSync(dir).sort()).toEqual(Object.keys(docs).sort());
    for (const [file, doc] of Object.entries(docs)) {
      expect(JSON.parse(readFileSync(join(dir, file), 'utf8')), file).toEqual(doc);
    }
  });
});
