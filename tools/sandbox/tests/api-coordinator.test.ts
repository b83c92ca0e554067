import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStream } from '../src/shared/streams.js';
import { bearer, startTestFleet, waitFor, type TestFleet } from './support/fleet.js';

/** The API (apps/api/src) and the coordinator (apps/coordinator/src) through their routes. */

let fleet: TestFleet;
let admin: string;
let api: string;
let coordinator: string;

beforeAll(async () => {
  fleet = await startTestFleet({ zones: 2 });
  admin = await fleet.secret('caracalAdminToken');
  api = fleet.sandbox.services.api;
  coordinator = fleet.sandbox.services.coordinator;
}, 240_000);
afterAll(async () => {
  await fleet?.stop();
}, 120_000);

const json = { 'content-type': 'application/json' };
interface Page {
  items: { id: string }[];
  next_cursor: string | null;
}
const read = async <T>(res: Response | Promise<Response>): Promise<T> => (await (await res).json()) as T;

describe('api: health and readiness (apps/api/src/app.ts)', () => {
  it('answers /health and /ready with {"ok":true}', async () => {
    for (const route of ['/health', '/ready']) {
      const res = await fetch(`${api}${route}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('{"ok":true}');
    }
  });
});

describe('api: admin authentication (apps/api/src/auth.ts)', () => {
  it('refuses a missing or wrong token with 401 invalid_admin_token and the /v1 headers', async () => {
    for (const headers of [{}, bearer('not-a-token')]) {
      const res = await fetch(`${api}/v1/zones?limit=1`, { headers });
      expect(res.status).toBe(401);
      expect(await res.text()).toBe('{"error":"invalid_admin_token"}');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('authenticates before routing: an unknown /v1 route is 401 without a token, 404 with one', async () => {
    expect((await fetch(`${api}/v1/nope`)).status).toBe(401);
    const res = await fetch(`${api}/v1/nope`, { headers: bearer(admin) });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ message: 'Route GET:/v1/nope not found', error: 'Not Found', statusCode: 404 });
  });

  it('stores the bootstrap token and three derived console tokens, hashed with Argon2id', async () => {
    const db = await fleet.admin();
    const { rows } = await db.query<{ name: string; created_by: string; capability: string; token_hash: string }>(
      `SELECT name, created_by, capability, token_hash FROM admin_tokens WHERE revoked_at IS NULL ORDER BY created_at`,
    );
    expect(rows.map((r) => [r.name, r.created_by, r.capability])).toEqual([
      ['bootstrap', 'env-bootstrap', 'write'],
      ['console-read-only', 'env-derived', 'read'],
      ['console-write', 'env-derived-write', 'write'],
      ['console-approve', 'env-derived-approve', 'approve'],
    ]);
    for (const r of rows) expect(r.token_hash).toMatch(/^\$argon2id\$v=19\$m=65536,t=3,p=2\$/);
  });

  it('a derived console token needs the console’s account assertion', async () => {
    const derived = `cat_${createHmac('sha256', admin).update('caracal:console:read-only:v1').digest('base64url')}`;
    const res = await fetch(`${api}/v1/zones`, { headers: bearer(derived) });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'invalid_account_assertion' });
  });
});

describe('api: zones (apps/api/src/routes/zones.ts)', () => {
  it('lists the seeded zones with Caracal’s pagination and hides the reserved system zone', async () => {
    const first = await read<Page>(fetch(`${api}/v1/zones?limit=1`, { headers: bearer(admin) }));
    expect(first.items).toHaveLength(1);
    expect(typeof first.next_cursor).toBe('string');
    const second = await read<Page>(fetch(`${api}/v1/zones?limit=1&cursor=${first.next_cursor}`, { headers: bearer(admin) }));
    expect(second.items).toHaveLength(1);
    expect(second.items[0]?.id).not.toBe(first.items[0]?.id);
    const all = await read<Page>(fetch(`${api}/v1/zones?limit=100`, { headers: bearer(admin) }));
    expect(all.next_cursor).toBeNull();
    expect(all.items.map((z) => z.id).sort()).toEqual([...fleet.sandbox.zones].sort());
    const db = await fleet.admin();
    const system = await db.query(`SELECT name FROM zones WHERE slug = 'caracal-sys-internal'`);
    expect(system.rows).toEqual([{ name: 'caracal.sys/system' }]);
  });

  it('refuses a bad limit or cursor', async () => {
    expect(await (await fetch(`${api}/v1/zones?limit=0`, { headers: bearer(admin) })).json()).toEqual({ error: 'invalid_query' });
    expect(await (await fetch(`${api}/v1/zones?cursor=zzz`, { headers: bearer(admin) })).json()).toEqual({ error: 'invalid_cursor' });
  });

  it('creates a zone: 201 with the row, attributed to the admin token, recorded in the signed admin audit chain', async () => {
    const res = await fetch(`${api}/v1/zones`, { method: 'POST', headers: { ...bearer(admin), ...json }, body: JSON.stringify({ name: 'Created By Test' }) });
    expect(res.status).toBe(201);
    const zone = await read<Record<string, unknown> & { id: string }>(res);
    expect(Object.keys(zone)).toEqual([
      'id',
      'name',
      'slug',
      'dcr_enabled',
      'operator_coauthor_badge',
      'operator_governed',
      'created_by',
      'created_via_operator',
      'updated_by',
      'updated_via_operator',
      'created_at',
      'updated_at',
    ]);
    expect(zone).toMatchObject({ name: 'Created By Test', slug: 'created-by-test', dcr_enabled: false, created_by: expect.stringMatching(/^admin:/) });
    const db = await fleet.admin();
    const { rows } = await db.query<{ content_sha256: string; prev_content_sha256: string | null; chain_hmac: string; status_code: number }>(
      `SELECT content_sha256, prev_content_sha256, chain_hmac, status_code FROM admin_audit_events WHERE zone_id = $1 AND action = 'POST /v1/zones'`,
      [zone.id],
    );
    expect(rows).toHaveLength(1);
    const key = Buffer.from(await fleet.secret('auditHmacKey'), 'hex');
    const want = createHmac('sha256', key).update(rows[0]!.content_sha256).update('|').update(rows[0]!.prev_content_sha256 ?? '').digest('hex');
    expect(rows[0]!.chain_hmac).toBe(want);
    expect(rows[0]!.status_code).toBe(201);
  });

  it('refuses invalid bodies, the reserved namespace and a taken slug', async () => {
    const post = (body: unknown) => fetch(`${api}/v1/zones`, { method: 'POST', headers: { ...bearer(admin), ...json }, body: JSON.stringify(body) });
    expect(await (await post({ name: '' })).json()).toEqual({ error: 'invalid_zone' });
    expect(await (await post({ name: 'x', extra: 1 })).json()).toEqual({ error: 'invalid_zone' });
    const taken = await post({ name: 'a', slug: 'created-by-test' });
    expect(taken.status).toBe(409);
    expect(await taken.json()).toEqual({ error: 'zone_slug_conflict' });
  });
});

describe('api: admin tokens (apps/api/src/routes/admin-tokens.ts)', () => {
  it('mints a read token once; it reads, it may not write, and revoking it shuts it out', async () => {
    const res = await fetch(`${api}/v1/admin-tokens`, { method: 'POST', headers: { ...bearer(admin), ...json }, body: JSON.stringify({ name: 'reader', scope: 'global', capability: 'read' }) });
    expect(res.status).toBe(201);
    const minted = await read<{ id: string; token: string }>(res);
    expect(minted).toMatchObject({ name: 'reader', scope: 'global', capability: 'read', zone_id: null, token: expect.stringMatching(/^cat_[A-Za-z0-9_-]{43}$/) });
    expect((await fetch(`${api}/v1/zones`, { headers: bearer(minted.token) })).status).toBe(200);
    const write = await fetch(`${api}/v1/zones`, { method: 'POST', headers: { ...bearer(minted.token), ...json }, body: JSON.stringify({ name: 'denied' }) });
    expect(write.status).toBe(403);
    expect(await write.json()).toEqual({ error: 'admin_token_read_only' });
    expect((await fetch(`${api}/v1/admin-tokens/${minted.id}`, { method: 'DELETE', headers: bearer(admin) })).status).toBe(204);
    // Successful lookups are cached for 5 s; then the revoked token is refused.
    await waitFor(async () => (await fetch(`${api}/v1/zones`, { headers: bearer(minted.token) })).status === 401, 'revoked token refused');
  });

  it('refuses a zone token for an unknown zone and a global token with a zone', async () => {
    const mint = (body: unknown) => fetch(`${api}/v1/admin-tokens`, { method: 'POST', headers: { ...bearer(admin), ...json }, body: JSON.stringify(body) });
    expect(await (await mint({ name: 'z', scope: 'zone', zone_id: 'nope' })).json()).toEqual({ error: 'zone_not_found' });
    expect(await (await mint({ name: 'z', scope: 'global', zone_id: fleet.sandbox.zones[0] })).json()).toEqual({ error: 'zone_id_not_allowed_for_global' });
  });
});

describe('api: row-level security on the sealed tables', () => {
  it('shows the API role no sealed row unless caracal.zone_id is set', async () => {
    const role = await fleet.apiRole();
    expect((await role.query<{ n: string }>('SELECT count(*) AS n FROM secret_store')).rows[0]!.n).toBe('0');
    expect((await role.query<{ n: string }>(`SELECT count(*) AS n FROM secrets WHERE name = 'zone_signing_key'`)).rows[0]!.n).toBe('0');
    await role.query(`SET caracal.zone_id = '*'`);
    expect(Number((await role.query<{ n: string }>('SELECT count(*) AS n FROM secret_store')).rows[0]!.n)).toBeGreaterThan(0);
  });
});

describe('coordinator (apps/coordinator/src)', () => {
  it('answers /health and /ready', async () => {
    expect(await (await fetch(`${coordinator}/health`)).text()).toBe('{"ok":true}');
    expect(await (await fetch(`${coordinator}/ready`)).text()).toBe('{"ok":true}');
  });

  it('guards /stats with the coordinator token: 200 shape, 403 operator_token_required, 401 missing_token', async () => {
    const token = await fleet.secret('caracalCoordinatorToken');
    const ok = await fetch(`${coordinator}/stats`, { headers: bearer(token) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({
      invocations: {},
      outbox: {},
      idempotency: { rows: 0, oldestSeconds: 0, outcomes: { created: 0, replayed: 0, conflicts: 0, invalid: 0, expired: 0 } },
      ttl_sweeper: { runs: 0, failures: 0, terminated: 0 },
      service_lease_sweeper: { runs: 0, failures: 0, suspended: 0 },
      retention_cleaner: { runs: 0, failures: 0, expired_edges: 0, deleted_edges: 0, deleted_sessions: 0, deleted_outbox: 0, deleted_idempotency_receipts: 0 },
      log: { emitted: 0, dropped: 0, sampled: 0 },
    });
    const wrong = await fetch(`${coordinator}/stats`, { headers: bearer('f'.repeat(64)) });
    expect([wrong.status, await wrong.json()]).toEqual([403, { error: 'operator_token_required' }]);
    const none = await fetch(`${coordinator}/stats`);
    expect([none.status, await none.json()]).toEqual([401, { error: 'missing_token' }]);
  });

  it('lets the operator token list a zone’s agents; any other bearer is an invalid mandate', async () => {
    const token = await fleet.secret('caracalCoordinatorToken');
    const zone = fleet.sandbox.zones[0];
    const ok = await fetch(`${coordinator}/zones/${zone}/agents?limit=1`, { headers: bearer(token) });
    expect([ok.status, await ok.json()]).toEqual([200, { items: [], next_cursor: null }]);
    const wrong = await fetch(`${coordinator}/zones/${zone}/agents?limit=1`, { headers: bearer('f'.repeat(64)) });
    expect([wrong.status, await wrong.json()]).toEqual([401, { error: 'invalid_token' }]);
  });

  it('relays caracal.agents.lifecycle: a signed message marks its outbox_id, a badly signed one is dropped', async () => {
    const redis = fleet.redis();
    const key = Buffer.from(await fleet.secret('streamsHmacKey'), 'hex');
    const stream = 'caracal.agents.lifecycle';
    const good = randomUUID();
    const bad = randomUUID();
    const goodFields = { event: 'terminate', zone_id: 'z1', outbox_id: good };
    await redis.xadd(stream, '*', ...Object.entries({ ...goodFields, _sig: signStream(key, stream, goodFields) }).flat());
    await redis.xadd(stream, '*', ...Object.entries({ event: 'terminate', zone_id: 'z1', outbox_id: bad, _sig: 'ab'.repeat(32) }).flat());
    await waitFor(async () => (await redis.exists(`coordinator:relay_dedupe:${good}`)) === 1, 'dedupe key');
    const ttl = await redis.pttl(`coordinator:relay_dedupe:${good}`);
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
    await waitFor(async () => ((await redis.xpending(stream, 'coordinator-relay')) as [number])[0] === 0, 'both acked');
    expect(await redis.exists(`coordinator:relay_dedupe:${bad}`)).toBe(0);
  });

  it('reads the coordinator token once: after rotation and a restart the old one is refused', async () => {
    const old = await fleet.secret('caracalCoordinatorToken');
    const fresh = 'd1'.repeat(32);
    await fleet.writeSecret('caracalCoordinatorToken', fresh);
    expect((await fetch(`${coordinator}/stats`, { headers: bearer(old) })).status).toBe(200);
    await fleet.restart('coordinator');
    expect((await fetch(`${coordinator}/stats`, { headers: bearer(fresh) })).status).toBe(200);
    expect((await fetch(`${coordinator}/stats`, { headers: bearer(old) })).status).toBe(403);
  });
});

describe('api: failed-authentication budget (ADMIN_AUTH_FAIL_LIMIT_PER_MIN, default 60)', () => {
  it('answers 429 rate_limited once an address has failed 60 times in a minute', async () => {
    // The bucket is per Redis minute; a minute boundary can fall inside the loop, so up to 121 failures may come first.
    const statuses: number[] = [];
    while (statuses.length < 125 && statuses.at(-1) !== 429) statuses.push((await fetch(`${api}/v1/zones`, { headers: bearer(`wrong-${statuses.length}`) })).status);
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.slice(0, -1).every((s) => s === 401)).toBe(true);
    // Earlier tests in this file failed from the same address too; Caracal's bucket holds the count.
    const redis = fleet.redis();
    const buckets = await redis.keys('api:admin_auth_fail:*');
    const counts = await Promise.all(buckets.map(async (k) => Number(await redis.get(k))));
    expect(Math.max(...counts)).toBe(61);
    const body = await (await fetch(`${api}/v1/zones`, { headers: bearer('wrong-again') })).json();
    expect(body).toEqual({ error: 'rate_limited' });
  });
});
