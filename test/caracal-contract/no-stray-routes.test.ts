import path from 'node:path';
import { CARACAL_ROUTES } from '@caracal-rotation/caracal-client';
import { describe, expect, it } from 'vitest';
import { isCaracalRouteLiteral, productFiles, ROOT, stringLiterals } from './product-code.js';

/**
 * libs/caracal-client is the only code that builds a request to Caracal, so
 * that the contract suite sees every one. Product code elsewhere that holds
 * a literal of a Caracal route would be a request the suite does not list.
 */
const ROUTE_PATHS = Object.values(CARACAL_ROUTES).map((r) => r.path);

/** Files that serve routes of the same names for the orchestrator itself (its own /ready and /metrics), and why. */
const SERVES_ITS_OWN = new Map([[path.join('libs', 'observability', 'src', 'http', 'server.ts'), "the orchestrator's own /health, /ready and /metrics"]]);

describe('the detector', () => {
  it('reads the relative path of new URL() as a path of its base', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const dir = await mkdtemp(path.join((await import('node:os')).tmpdir(), 'stray-'));
    const file = path.join(dir, 'probe.ts');
    await writeFile(file, "export const u = (base: string) => new URL('ready', base);\n// GET /v1/zones in a comment is prose\n");
    const literals = stringLiterals(file);
    await rm(dir, { recursive: true, force: true });
    expect(literals.filter((l) => isCaracalRouteLiteral(l.text, ROUTE_PATHS))).toEqual([{ text: '/ready', line: 1 }]);
  });

  it('finds route literals built as Caracal URLs, and passes prose and other APIs', () => {
    for (const text of ['/v1/zones', '/ready', '/metrics', '/stats', 'http://api:3000/v1/zones?limit=1', '/internal/policy/status/', '/.well-known/jwks.json', '/internal/zones/']) {
      expect(isCaracalRouteLiteral(text, ROUTE_PATHS), text).toBe(true);
    }
    for (const text of ['ready', '/apis/apps/v1/namespaces/', '/api/v1/namespaces/', 'services/audit/internal/consumer.go', 'A holder is not ready: read the reason its /ready gives', '/readyz', './metrics.js']) {
      expect(isCaracalRouteLiteral(text, ROUTE_PATHS), text).toBe(false);
    }
  });
});

it('no product code outside libs/caracal-client builds a request to a Caracal route', () => {
  const found: string[] = [];
  for (const file of productFiles()) {
    const relative = path.relative(ROOT, file);
    if (SERVES_ITS_OWN.has(relative)) continue;
    for (const literal of stringLiterals(file)) if (isCaracalRouteLiteral(literal.text, ROUTE_PATHS)) found.push(`${relative}:${literal.line} ${JSON.stringify(literal.text)}`);
  }
  expect(found, 'send it through libs/caracal-client (and list it in CARACAL_ROUTES)').toEqual([]);
});
