import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CARACAL_ROUTES,
  fetchPolicyStatus,
  fetchZoneJwks,
  listZonesPage,
  mintReadOnlyAdminToken,
  probeAdminToken,
  probeCoordinatorToken,
  probeReady,
  readMetrics,
  rotateZoneSigningKey,
} from '@caracal-rotation/caracal-client';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { contract, startContractFleet, type ContractFleet } from './support/contract.js';

/**
 * The HTTP routes of CARACAL_ROUTES against the sandbox, a replica of a
 * `caracal up` deployment: each test sends the request as the orchestrator
 * does (through libs/caracal-client) and checks the answers it relies on.
 */
let fleet: ContractFleet;
beforeAll(async () => {
  fleet = await startContractFleet(3);
});
afterAll(async () => fleet?.close());

const wrong = () => randomBytes(32).toString('hex');

contract('ready', () => {
  // services/sts/internal/server.go handleReady, services/gateway/internal/server.go handleReady,
  // services/audit/internal/server.go handleReady, apps/api/src/app.ts, apps/coordinator/src/app.ts
  it('answers 200 on every service of a caracal up deployment, with its own body', async () => {
    const { api, sts, gateway, audit, coordinator } = fleet.sandbox.services;
    expect(await probeReady(sts)).toEqual({ ready: true, status: 200, answer: '{"ok":true,"ready":true}' });
    expect(await probeReady(gateway)).toMatchObject({ ready: true, status: 200 });
    expect(await probeReady(audit)).toEqual({ ready: true, status: 200, answer: '{"ready":true}' });
    expect(await probeReady(api)).toEqual({ ready: true, status: 200, answer: '{"ok":true}' });
    expect(await probeReady(coordinator)).toMatchObject({ ready: true, status: 200 });
  });

  it('is not ready when nothing answers', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    expect(await probeReady(`http://127.0.0.1:${port}`)).toEqual({ ready: false, status: 0, answer: 'ECONNREFUSED' });
  });
});

contract('metrics', () => {
  // services/gateway/internal/server.go handleMetrics, services/audit/internal/server.go handleMetrics,
  // services/sts/internal/server.go handleMetrics; packages/core/go/metrics Render
  it('gives every counter the checks read, with METRICS_BEARER', async () => {
    const bearer = await fleet.secret('metricsBearer');
    const gateway = await readMetrics(fleet.sandbox.services.gateway, bearer);
    for (const name of ['caracal_gateway_revocation_messages_total', 'caracal_gateway_revocation_invalid_signatures_total', 'caracal_gateway_sts_exchange_errors_total']) {
      expect(gateway.get(name), name).toBeTypeOf('number');
    }
    expect((await readMetrics(fleet.sandbox.services.audit, bearer)).get('caracal_audit_hmac_failures_total')).toBeTypeOf('number');
    expect((await readMetrics(fleet.sandbox.services.sts, bearer)).get('caracal_sts_jwks_invalid_keys_total')).toBeTypeOf('number');
  });

  it('refuses another bearer (401)', async () => {
    await expect(readMetrics(fleet.sandbox.services.gateway, wrong())).rejects.toThrow(/refused the metrics bearer \(401\)/);
  });
});

contract('listZones', () => {
  // apps/api/src/routes/zones.ts (list, without the reserved system zone), routes/list-pagination.ts, apps/api/src/auth.ts
  it('pages through the zones the API lists with the admin token', async () => {
    const api = fleet.sandbox.services.api;
    const admin = await fleet.secret('caracalAdminToken');
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await listZonesPage(api, admin, cursor, 2);
      expect(page.zones.length).toBeLessThanOrEqual(2);
      seen.push(...page.zones);
      cursor = page.next;
    } while (cursor);
    expect(seen.sort()).toEqual([...fleet.sandbox.zones].sort());
  });

  it("misses no zone created in the same millisecond as the end of a page, where following the API's own cursor does", async () => {
    // Zones created by concurrent clients share milliseconds; created_at keeps microseconds.
    const api = fleet.sandbox.services.api;
    const admin = await fleet.secret('caracalAdminToken');
    const db = new pg.Client({ connectionString: await fleet.secret('databaseUrl') });
    await db.connect();
    const burst = Array.from({ length: 5 }, (_, i) => ({ id: randomUUID(), at: `2020-01-01T00:00:00.123${String(100 + i * 100)}Z` }));
    try {
      for (const z of burst) {
        await db.query(`INSERT INTO zones (id, name, slug, created_by, created_at) VALUES ($1, $2, $2, 'contract', $3)`, [z.id, `burst-${z.id}`, z.at]);
      }
      const all = [...fleet.sandbox.zones, ...burst.map((z) => z.id)].sort();

      const ours: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof listZonesPage>> = await listZonesPage(api, admin, cursor, 2);
        ours.push(...page.zones);
        cursor = page.next;
      } while (cursor);
      expect(ours.sort()).toEqual(all);

      // The API's own next_cursor, followed as it is (apps/api/src/routes/list-pagination.ts listPage).
      const theirs: string[] = [];
      let next: string | null = null;
      do {
        const res = await fetch(`${api}/v1/zones?limit=2${next ? `&cursor=${next}` : ''}`, { headers: { authorization: `Bearer ${admin}` } });
        const body = (await res.json()) as { items: { id: string }[]; next_cursor: string | null };
        theirs.push(...body.items.map((z) => z.id));
        next = body.next_cursor;
      } while (next);
      expect(theirs.length).toBeLessThan(all.length);
    } finally {
      await db.query(`UPDATE zones SET archived_at = now() WHERE id = ANY($1::text[])`, [burst.map((z) => z.id)]);
      await db.end();
    }
  });

  it('answers the admin-token probe: 200 for the token, 401 for another', async () => {
    const api = fleet.sandbox.services.api;
    expect(await probeAdminToken(api, await fleet.secret('caracalAdminToken'))).toEqual({ verdict: 'accepted', status: 200 });
    expect(await probeAdminToken(api, wrong())).toEqual({ verdict: 'refused', status: 401 });
  });
});

contract('mintAdminToken', () => {
  // apps/api/src/routes/admin-tokens.ts
  it('mints a read-capability token that lists zones', async () => {
    const api = fleet.sandbox.services.api;
    const minted = await mintReadOnlyAdminToken(api, await fleet.secret('caracalAdminToken'), 'contract-reader');
    expect(minted.id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await listZonesPage(api, minted.token, null)).zones.length).toBe(fleet.sandbox.zones.length);
  });

  it('refuses a wrong admin token', async () => {
    await expect(mintReadOnlyAdminToken(fleet.sandbox.services.api, wrong(), 'x')).rejects.toThrow(/401 invalid_admin_token/);
  });
});

contract('coordinatorStats', () => {
  // apps/coordinator/src/app.ts GET /stats; apps/coordinator/src/auth.ts matchesOperatorToken, OPERATOR_TOKEN_PATHS
  it('answers 200 to the coordinator token and 403 to another', async () => {
    const coordinator = fleet.sandbox.services.coordinator;
    expect(await probeCoordinatorToken(coordinator, await fleet.secret('caracalCoordinatorToken'))).toEqual({ verdict: 'accepted', status: 200 });
    expect(await probeCoordinatorToken(coordinator, wrong())).toEqual({ verdict: 'refused', status: 403 });
  });
});

contract('rotateZoneSigningKey', () => {
  // services/sts/internal/server.go handleRotateZoneSigningKey, services/sts/internal/jwt.go RotateZoneSigningKey
  it('makes a new active key with STS_ADMIN_TOKEN, and refuses another token', async () => {
    const sts = fleet.sandbox.services.sts;
    const zone = fleet.sandbox.zones[0]!;
    const before = await fetchZoneJwks(sts, zone);
    const { kid } = await rotateZoneSigningKey(sts, await fleet.secret('stsAdminToken'), zone);
    const after = await fetchZoneJwks(sts, zone);
    expect(after.keys.map((k) => k.kid)).toEqual([kid, before.keys[0]!.kid]);
    await expect(rotateZoneSigningKey(sts, wrong(), zone)).rejects.toThrow(/refused the admin token \(401\)/);
  });
});

contract('jwks', () => {
  // services/sts/internal/server.go handleJWKS, services/sts/internal/db.go GetZoneSigningKeySecrets
  it('lists the zone\'s active key first as an ES256 P-256 public key, cacheable for 300 s', async () => {
    const jwks = await fetchZoneJwks(fleet.sandbox.services.sts, fleet.sandbox.zones[1]!);
    expect(jwks).toMatchObject({ status: 200, cacheControl: 'public, max-age=300, must-revalidate' });
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('answers 404 for a zone without a key', async () => {
    expect(await fetchZoneJwks(fleet.sandbox.services.sts, 'rotprobe-no-such-zone')).toMatchObject({ status: 404, keys: [] });
  });
});

contract('policyStatus', () => {
  // services/sts/internal/simulation.go handlePolicyStatus; packages/core/go/sts/gateway_auth.go; services/sts/internal/gateway_nonce.go
  it('answers 200 {loaded:false} for a zone nobody loaded when signed with the gateway key, 401 with another key', async () => {
    const sts = fleet.sandbox.services.sts;
    expect(await fetchPolicyStatus(sts, await fleet.secret('gatewayStsHmacKey'), 'rotprobe-status')).toEqual({ status: 200, loaded: false });
    expect(await fetchPolicyStatus(sts, wrong(), 'rotprobe-status')).toEqual({ status: 401, loaded: undefined });
  });
});

it('describes every route with its method, path, headers, body and source', () => {
  for (const [name, route] of Object.entries(CARACAL_ROUTES)) {
    expect(route.path, name).toMatch(/^\//);
    expect(route.source, name).toMatch(/^(services|apps|packages)\//);
    for (const field of [route.headers, route.body, route.relies]) expect(field.length, name).toBeGreaterThan(0);
  }
});
