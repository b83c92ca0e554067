import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signGatewayExchange } from '../src/shared/gateway-auth.js';
import { signStream } from '../src/shared/streams.js';
import { bearer, metric, startTestFleet, waitFor, type TestFleet } from './support/fleet.js';

/**
 * The stream consumers and the HMAC-checked routes: the gateway's revocation
 * group (services/gateway/internal/revocations.go), the STS's three groups and
 * its gateway-signed policy status (services/sts/internal/consumer.go,
 * simulation.go), and the audit ingestor (services/audit/internal/consumer.go).
 */

let fleet: TestFleet;
let redis: Redis;
let streamsKey: Buffer;
let metricsBearer: string;

beforeAll(async () => {
  fleet = await startTestFleet({ zones: 1 });
  redis = fleet.redis();
  streamsKey = Buffer.from(await fleet.secret('streamsHmacKey'), 'hex');
  metricsBearer = await fleet.secret('metricsBearer');
}, 240_000);
afterAll(async () => {
  await fleet?.stop();
}, 120_000);

async function xaddSigned(stream: string, fields: Record<string, string>, key: Buffer = streamsKey): Promise<string> {
  return (await redis.xadd(stream, '*', ...Object.entries({ ...fields, _sig: signStream(key, stream, fields) }).flat())) as string;
}

const metrics = async (service: 'gateway' | 'audit' | 'sts') => (await fetch(`${fleet.sandbox.services[service]}/metrics`, { headers: bearer(metricsBearer) })).text();
const pending = async (stream: string, group: string) => ((await redis.xpending(stream, group)) as [number])[0];
const groupsOf = async (stream: string) => ((await redis.xinfo('GROUPS', stream)) as unknown[][]).map((g) => String(g[1]));

describe('gateway', () => {
  it('answers /health with an empty 200 and /ready with {"ok":true,"ready":true}', async () => {
    const health = await fetch(`${fleet.sandbox.services.gateway}/health`);
    expect([health.status, await health.text()]).toEqual([200, '']);
    expect(await (await fetch(`${fleet.sandbox.services.gateway}/ready`)).text()).toBe('{"ok":true,"ready":true}\n');
  });

  it('guards /metrics with METRICS_BEARER', async () => {
    const res = await fetch(`${fleet.sandbox.services.gateway}/metrics`);
    expect([res.status, await res.text()]).toEqual([401, 'unauthorized\n']);
  });

  it('counts a signed revocation as applied and a badly signed one as invalid; both are acknowledged, none dead-lettered', async () => {
    const [group] = (await groupsOf('caracal.sessions.revoke')).filter((g) => g.startsWith('gateway-revocation:'));
    expect(group).toBeDefined();
    const before = await metrics('gateway');
    await xaddSigned('caracal.sessions.revoke', { zone_id: 'z', session_id: `rotprobe-${randomUUID()}`, reason: 'probe' });
    await xaddSigned('caracal.sessions.revoke', { zone_id: 'z', session_id: `rotprobe-${randomUUID()}`, reason: 'probe' }, randomBytes(32));
    await waitFor(async () => metric(await metrics('gateway'), 'caracal_gateway_revocation_invalid_signatures_total') > metric(before, 'caracal_gateway_revocation_invalid_signatures_total'), 'invalid counted');
    await waitFor(async () => metric(await metrics('gateway'), 'caracal_gateway_revocation_messages_total') > metric(before, 'caracal_gateway_revocation_messages_total'), 'applied counted');
    const after = await metrics('gateway');
    expect(metric(after, 'caracal_gateway_revocation_messages_total') - metric(before, 'caracal_gateway_revocation_messages_total')).toBe(1);
    expect(metric(after, 'caracal_gateway_revocation_invalid_signatures_total') - metric(before, 'caracal_gateway_revocation_invalid_signatures_total')).toBe(1);
    await waitFor(async () => (await pending('caracal.sessions.revoke', group!)) === 0, 'gateway group drained');
    expect(await redis.exists('caracal.sessions.revoke.dead')).toBe(0);
  });

  it('reloads its revocation snapshot from the database for the admin token and hides the route from anyone else', async () => {
    const admin = await fleet.secret('caracalAdminToken');
    const reload = () => fetch(`${fleet.sandbox.services.gateway}/internal/revocations/reload`, { method: 'POST', headers: bearer(admin) });
    // A snapshot replaces what the stream marked (revocations.go applyRevocationSnapshot): only the database's revoked records count.
    expect(await (await reload()).json()).toEqual({ ok: true, revocations: 0 });
    const db = await fleet.admin();
    await db.query(
      `INSERT INTO authority_records (id, zone_id, session_type, status, expires_at, authenticated_at, revoked_at) VALUES ($1, $2, 'application', 'revoked', now() + interval '1 hour', now(), now())`,
      [randomUUID(), fleet.sandbox.zones[0]],
    );
    const ok = await reload();
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('{"ok":true,"revocations":1}\n');
    const wrong = await fetch(`${fleet.sandbox.services.gateway}/internal/revocations/reload`, { method: 'POST', headers: bearer('x'.repeat(64)) });
    expect([wrong.status, await wrong.text()]).toEqual([404, 'not found\n']);
  });

  it('sends every other request to its proxy, which wants a bearer mandate', async () => {
    const res = await fetch(`${fleet.sandbox.services.gateway}/internal/revocations/reload`);
    expect(res.status).toBe(401);
    const requestId = res.headers.get('x-request-id');
    expect(await res.json()).toEqual({ error: 'invalid_token', error_description: 'missing bearer token', requestId });
  });

  it('reads revocations in a group named after its host, which a restart (a new host) changes', async () => {
    const before = (await groupsOf('caracal.sessions.revoke')).filter((g) => g.startsWith('gateway-revocation:'));
    expect(before).toHaveLength(1);
    await fleet.restart('gateway');
    const after = (await groupsOf('caracal.sessions.revoke')).filter((g) => g.startsWith('gateway-revocation:'));
    expect(after).toHaveLength(2);
    expect(after).toEqual(expect.arrayContaining(before));
    const fresh = after.find((g) => !before.includes(g))!;
    expect(fresh).toMatch(/^gateway-revocation:[0-9a-f]{12}$/);
  });
});

describe('api outbox (apps/api/src/outbox.ts)', () => {
  it('publishes event_outbox rows signed with STREAMS_HMAC_KEY: the gateway applies the revocation', async () => {
    const before = metric(await metrics('gateway'), 'caracal_gateway_revocation_messages_total');
    const db = await fleet.admin();
    const id = randomUUID();
    await db.query(`INSERT INTO event_outbox (id, stream_name, payload_json) VALUES ($1, 'caracal.sessions.revoke', $2::jsonb)`, [id, JSON.stringify({ zone_id: 'z', session_id: `rotprobe-${id}`, reason: 'probe' })]);
    await waitFor(async () => (await db.query('SELECT dispatched_at FROM event_outbox WHERE id = $1', [id])).rows[0]?.dispatched_at !== null, 'dispatched');
    const entries = await redis.xrange('caracal.sessions.revoke', '-', '+');
    const published = entries.find(([, flat]) => flat.includes(id));
    expect(published?.[1]).toEqual(expect.arrayContaining(['outbox_id', id, '_sig']));
    await waitFor(async () => metric(await metrics('gateway'), 'caracal_gateway_revocation_messages_total') === before + 1, 'gateway applied it');
  });
});

describe('sts consumers', () => {
  it('drops and acknowledges a badly signed invalidation; a signed one reloads the zone’s policy', async () => {
    const gatewayKey = Buffer.from(await fleet.secret('gatewayStsHmacKey'), 'hex');
    const statusOf = async (zone: string) => {
      const path = `/internal/policy/status/${zone}`;
      const headers = signedHeaders(gatewayKey, 'GET', path);
      return (await (await fetch(`${fleet.sandbox.services.sts}${path}`, { headers })).json()) as Record<string, unknown>;
    };
    const bad = `rotprobe-${randomUUID()}`;
    const good = `rotprobe-${randomUUID()}`;
    await xaddSigned('caracal.policy.invalidate', { zone_id: bad }, randomBytes(32));
    await xaddSigned('caracal.policy.invalidate', { zone_id: good });
    await waitFor(async () => (await statusOf(good)).loaded === true, 'signed invalidation applied');
    const status = await statusOf(good);
    expect(status).toMatchObject({ zone_id: good, loaded: true, manifest_sha256: 'no_active_policy_set' });
    expect(status.loaded_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(await statusOf(bad)).toEqual({ zone_id: bad, loaded: false });
    await waitFor(async () => (await pending('caracal.policy.invalidate', 'opa-engine')) === 0, 'opa-engine drained');
    expect(await redis.exists('caracal.policy.invalidate.dead')).toBe(0);
  });

  it('revokes an authority record named by a signed caracal.sessions.revoke', async () => {
    const db = await fleet.admin();
    const zone = fleet.sandbox.zones[0]!;
    const id = randomUUID();
    await db.query(`INSERT INTO authority_records (id, zone_id, session_type, expires_at, authenticated_at) VALUES ($1, $2, 'application', now() + interval '1 hour', now())`, [id, zone]);
    await xaddSigned('caracal.sessions.revoke', { zone_id: zone, session_id: id, reason: 'probe' });
    await waitFor(async () => (await db.query(`SELECT status FROM authority_records WHERE id = $1`, [id])).rows[0]?.status === 'revoked', 'record revoked');
    expect((await db.query(`SELECT revoked_reason FROM authority_records WHERE id = $1`, [id])).rows[0]).toEqual({ revoked_reason: 'probe' });
  });

  it('leaves a keys.invalidate without a zone pending and tracks the failure; a good one is acknowledged', async () => {
    const broken = await xaddSigned('caracal.keys.invalidate', { reason: 'no zone' });
    await xaddSigned('caracal.keys.invalidate', { zone_id: fleet.sandbox.zones[0]! });
    await waitFor(async () => (await redis.get(`stream-failure:caracal.keys.invalidate:${broken}`)) === '1', 'failure tracked');
    await waitFor(async () => (await pending('caracal.keys.invalidate', 'sts-keys')) === 1, 'only the broken one pending');
  });
});

function signedHeaders(key: Buffer, method: string, path: string, opts: { nonce?: string; unix?: number } = {}): Record<string, string> {
  const unix = opts.unix ?? Math.floor(Date.now() / 1000);
  const nonce = opts.nonce ?? randomBytes(16).toString('hex');
  return {
    'x-caracal-gateway-timestamp': String(unix),
    'x-caracal-gateway-request': nonce,
    'x-caracal-gateway-signature': signGatewayExchange(key, unix, nonce, method, path, Buffer.alloc(0)),
  };
}

describe('sts: GET /internal/policy/status/{id} signed with GATEWAY_STS_HMAC_KEY', () => {
  const denied = { error: 'access_denied', error_description: 'invalid policy status request signature' };
  const get = async (path: string, headers: Record<string, string>) => {
    const res = await fetch(`${fleet.sandbox.services.sts}${path}`, { headers });
    return [res.status, await res.json()];
  };

  it('answers 200 for the right key and 401 for a wrong one', async () => {
    const key = Buffer.from(await fleet.secret('gatewayStsHmacKey'), 'hex');
    const path = `/internal/policy/status/rotprobe-${randomUUID()}`;
    expect(await get(path, signedHeaders(key, 'GET', path))).toEqual([200, { zone_id: path.split('/').pop(), loaded: false }]);
    expect(await get(path, signedHeaders(randomBytes(32), 'GET', path))).toEqual([401, denied]);
    expect(await get(path, {})).toEqual([401, denied]);
  });

  it('burns a nonce only once the signature holds, and refuses a timestamp 61 s off', async () => {
    const key = Buffer.from(await fleet.secret('gatewayStsHmacKey'), 'hex');
    const path = '/internal/policy/status/rotprobe-nonce';
    const nonce = randomBytes(16).toString('hex');
    expect((await get(path, signedHeaders(randomBytes(32), 'GET', path, { nonce })))[0]).toBe(401);
    expect(await redis.exists(`caracal:sts:gw-nonce:${nonce}`)).toBe(0);
    expect((await get(path, signedHeaders(key, 'GET', path, { nonce })))[0]).toBe(200);
    expect(await redis.ttl(`caracal:sts:gw-nonce:${nonce}`)).toBeGreaterThan(100);
    expect(await get(path, signedHeaders(key, 'GET', path, { nonce }))).toEqual([401, denied]);
    expect(await get(path, signedHeaders(key, 'GET', path, { unix: Math.floor(Date.now() / 1000) - 61 }))).toEqual([401, denied]);
  });
});

describe('audit ingestor', () => {
  const dlq = async () => {
    const entries = await redis.xrange('caracal.audit.events.dlq', '-', '+');
    return entries.map(([, flat]) => Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]])) as Record<string, string>);
  };
  const dlqFor = async (id: string) => (await dlq()).find((e) => e.src_id === id);
  let auditKey: Buffer;
  beforeAll(async () => {
    auditKey = Buffer.from(await fleet.secret('auditHmacKey'), 'hex');
  });
  const sign = (data: string, key = auditKey) => createHmac('sha256', key).update(data).digest('hex');

  it('answers /health with an empty 200 and /ready with {"ready":true}', async () => {
    expect(await (await fetch(`${fleet.sandbox.services.audit}/health`)).text()).toBe('');
    expect(await (await fetch(`${fleet.sandbox.services.audit}/ready`)).text()).toBe('{"ready":true}\n');
  });

  it('dead-letters a bad HMAC with Caracal’s fields and counts it', async () => {
    const before = metric(await metrics('audit'), 'caracal_audit_hmac_failures_total');
    const id = `rotprobe-${randomUUID()}`;
    const data = JSON.stringify({ id });
    const entry = (await redis.xadd('caracal.audit.events', '*', 'id', id, 'data', data, 'sig', sign(data, randomBytes(32)))) as string;
    await waitFor(async () => (await dlqFor(id)) !== undefined, 'dead letter');
    const dead = (await dlqFor(id))!;
    expect(dead).toEqual({ reason: 'hmac_verify_failed', src_id: id, received_at: expect.stringMatching(/^\d{13}$/), src_data: data, src_sig: expect.any(String) });
    expect(Number(dead.received_at)).toBeGreaterThanOrEqual(Number(entry.split('-')[0]) - 1000);
    expect(metric(await metrics('audit'), 'caracal_audit_hmac_failures_total')).toBe(before + 1);
  });

  it('dead-letters a correctly signed event without the required fields, and a missing data field', async () => {
    const id = `rotprobe-${randomUUID()}`;
    const data = JSON.stringify({ id });
    await redis.xadd('caracal.audit.events', '*', 'id', id, 'data', data, 'sig', sign(data));
    const noData = `rotprobe-${randomUUID()}`;
    await redis.xadd('caracal.audit.events', '*', 'id', noData);
    const broken = `rotprobe-${randomUUID()}`;
    await redis.xadd('caracal.audit.events', '*', 'id', broken, 'data', '{"id":', 'sig', sign('{"id":'));
    await waitFor(async () => (await dlqFor(broken)) !== undefined, 'dead letters');
    expect((await dlqFor(id))?.reason).toBe('json_parse_error:required fields missing (id, zone_id, occurred_at)');
    expect((await dlqFor(noData))?.reason).toBe('missing_data_field');
    expect((await dlqFor(broken))?.reason).toBe('json_parse_error:unexpected end of JSON input');
    await waitFor(async () => (await pending('caracal.audit.events', 'audit-ingestor')) === 0, 'ingestor drained');
  });

  it('stores a valid event in the zone’s chain, the link signed with AUDIT_HMAC_KEY', async () => {
    const zone = `rotprobe-${randomUUID()}`;
    const events = [0, 1].map((i) => ({ id: `ev-${i}-${randomUUID()}`, zone_id: zone, event_type: 'probe', occurred_at: new Date(Date.now() + i).toISOString() }));
    for (const ev of events) {
      const data = JSON.stringify(ev);
      await redis.xadd('caracal.audit.events', '*', 'id', ev.id, 'data', data, 'sig', sign(data));
    }
    const db = await fleet.admin();
    await waitFor(async () => (await db.query('SELECT 1 FROM audit_events WHERE zone_id = $1', [zone])).rows.length === 2, 'rows stored');
    const { rows } = await db.query<{ content_sha256: string; prev_content_sha256: string | null; chain_hmac: string; chain_seq: string }>(
      'SELECT content_sha256, prev_content_sha256, chain_hmac, chain_seq FROM audit_events WHERE zone_id = $1 ORDER BY chain_seq',
      [zone],
    );
    expect(rows.map((r) => r.chain_seq)).toEqual(['1', '2']);
    expect(rows[0]!.prev_content_sha256).toBeNull();
    expect(rows[1]!.prev_content_sha256).toBe(rows[0]!.content_sha256);
    for (const r of rows) expect(r.chain_hmac).toBe(createHmac('sha256', auditKey).update(r.content_sha256).update('|').update(r.prev_content_sha256 ?? '').digest('hex'));
  });

  it('re-checks stored rows with the current key only at start: after a key rotation every older row fails the tamper sweep', async () => {
    const db = await fleet.admin();
    const stored = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM audit_events')).rows[0]!.n);
    expect(stored).toBeGreaterThanOrEqual(2);
    await fleet.writeSecret('auditHmacKey', randomBytes(32).toString('hex'));
    await fleet.restart('audit');
    await waitFor(async () => metric(await metrics('audit'), 'caracal_audit_tamper_last_full_unix') > 0, 'full sweep');
    const text = await metrics('audit');
    expect(metric(text, 'caracal_audit_tamper_checked_total')).toBe(stored);
    expect(metric(text, 'caracal_audit_tamper_hmac_failures_total')).toBe(stored);
    expect(metric(text, 'caracal_audit_tamper_mismatch_total')).toBe(0);
    expect(metric(text, 'caracal_audit_tamper_chain_breaks_total')).toBe(0);
  });
});
