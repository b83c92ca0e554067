import { DEFAULT_CATALOG } from '@caracal-rotation/contracts';
import { RotationFixture, dualPlan, singleValuePlan } from '@caracal-rotation/projection/testing';
import { rotationEvents } from '@caracal-rotation/projection';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { escapeHtml, html } from './status/html.js';
import { formatSeconds } from './status/render.js';
import { statusRoutes } from './status/routes.js';
import { capPerMaterial, type MaterialView, type StatusSnapshot } from './status/snapshot.js';
import { createTestEnvironment, startTestRecorder, waitForRotation, type RunningRecorder, type TestEnvironment } from '../testing/helpers.js';

// Real Redis and Postgres; the page is read over the recorder's real HTTP server.
let env: TestEnvironment;
let rec: RunningRecorder;

const EVIL = `<script>alert("x")</script><img src=x onerror=alert(1)> & 'quoted'`;
// The actor is the operator the planner authenticated, as its `planned` says.
const inFlight = new RotationFixture({ plan: dualPlan({ requested: { actor: 'mallory<b>', reason: EVIL, ticket: 'SEC-<9>', requested_at: new Date().toISOString() } }), actor: 'mallory<b>' });
const done = new RotationFixture({ plan: singleValuePlan() });
const failed = new RotationFixture({ plan: singleValuePlan({ material: 'GATEWAY_STS_HMAC_KEY' }) });
const waiting = new RotationFixture({ plan: singleValuePlan({ material: 'CARACAL_COORDINATOR_TOKEN', safety_window_ms: 3_600_000 }) });

/** Waits until the projection holds `count` events of the rotation (so its timeline and checks are whole). */
const projected = (rotationId: string, count: number) =>
  vi.waitFor(async () => expect(await rotationEvents(rec.pool, rotationId)).toHaveLength(count), { timeout: 10_000, interval: 50 });

beforeAll(async () => {
  env = await createTestEnvironment('rec-status');
  rec = await startTestRecorder(env, 'rec-status', { STATUS_CACHE_MS: '0' }, { serveHttp: true });
  const failing = [failed.requested(), failed.planned(), ...failed.phase('deploy', false), ...failed.phase('rollback'), failed.failed('deploy', true)];
  await env.publish(done, done.untilRetirement());
  await env.publish(failed, failing);
  await waitForRotation(rec.pool, done.rotationId, (r) => r.state === 'retiring');
  const retired = done.afterRetiring();
  await env.publish(done, retired);
  // Up to the deploy roll: in flight, verifying.
  const flying = [inFlight.requested(), inFlight.planned(), ...inFlight.phase('stage'), inFlight.written('deploy'), inFlight.rolled('deploy')];
  await env.publish(inFlight, flying);
  await env.publish(waiting, waiting.untilRetirement());
  await projected(waiting.rotationId, waiting.untilRetirement().length);
  // Everything published, plus the recorder's own `retiring`.
  await projected(done.rotationId, done.untilRetirement().length + 1 + retired.length);
  await projected(failed.rotationId, failing.length);
  await projected(inFlight.rotationId, flying.length);
});

afterAll(async () => {
  await rec?.stop();
  await env?.cleanup();
});

describe('html escaping', () => {
  it('escapes every interpolated value and only those', () => {
    expect(escapeHtml(`<a href="x">'&'</a>\``)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;&#96;');
    expect(html`<p title="${'"><script>'}">${EVIL}</p>`.text).toBe(
      `<p title="&quot;&gt;&lt;script&gt;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &#39;quoted&#39;</p>`,
    );
    expect(html`<ul>${['<a>', html`<li>${'<b>'}</li>`]}</ul>`.text).toBe('<ul>&lt;a&gt;<li>&lt;b&gt;</li></ul>');
  });

  it('lists at most 50 rows of a material with thousands of zones, those needing attention first', () => {
    const zone = (i: number, extra: Partial<MaterialView> = {}): MaterialView => ({
      material: 'ZONE_SIGNING_KEY', zone_id: `z${i}`, role: null, current_kid: 'k', current_rotation_id: null, current_since: null, age_seconds: i,
      max_age_seconds: 100, rotation_due_at: null, overdue: false, latest_rotation_id: null, latest_state: 'completed', in_flight: false, never_rotated: false, ...extra,
    });
    const rows = [zone(0, { in_flight: true }), ...Array.from({ length: 3000 }, (_, i) => zone(i + 1, { overdue: i === 7 }))];
    const { kept, omitted } = capPerMaterial([...rows, { ...zone(0), material: 'ZONE_KEK', zone_id: null }], 50);
    expect(omitted).toEqual({ ZONE_SIGNING_KEY: 2951 });
    expect(kept.filter((k) => k.material === 'ZONE_SIGNING_KEY')).toHaveLength(50);
    expect(kept.slice(0, 3).map((k) => k.zone_id)).toEqual(['z0', 'z8', 'z2953']);
    expect(kept.at(-1)!.material).toBe('ZONE_KEK');
  });

  it('formats durations for people', () => {
    expect([0.35, 4.25, 200, 3 * 3600 + 120, 3 * 86_400 + 7200, null].map(formatSeconds)).toEqual(['350 ms', '4.3 s', '3 m 20 s', '3 h 2 m', '3 d 2 h', '—']);
    expect([90 * 86_400, 7200, 120].map(formatSeconds)).toEqual(['90 d', '2 h', '2 m']);
  });
});

describe('status page', () => {
  it('serves the snapshot as JSON: materials, in flight with a timeline, history, failures', async () => {
    const res = await fetch(`${rec.url}/status.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const s = (await res.json()) as StatusSnapshot;

    const kek = s.materials.filter((m) => m.material === 'ZONE_KEK');
    expect(kek).toEqual([expect.objectContaining({ in_flight: true, latest_rotation_id: inFlight.rotationId, latest_state: 'verifying', never_rotated: true })]);
    expect(s.materials.find((m) => m.material === 'CARACAL_ADMIN_TOKEN')).toMatchObject({
      current_kid: done.newKid,
      current_rotation_id: done.rotationId,
      never_rotated: false,
      overdue: false,
      max_age_seconds: 90 * 86_400,
    });
    // Every catalog material is listed, rotated here or not.
    expect(s.materials.find((m) => m.material === 'REDIS_PASSWORD')).toMatchObject({ never_rotated: true, current_kid: null, age_seconds: null });

    const flight = s.in_flight.find((r) => r.rotation_id === inFlight.rotationId);
    expect(flight).toMatchObject({ rotation_id: inFlight.rotationId, state: 'verifying', reason: EVIL, actor: 'mallory<b>' });
    expect(flight!.timeline.map((t) => `${t.key}:${t.status}`)).toEqual([
      'requested:done',
      'planned:done',
      'written:stage:done',
      'rolled:stage:done',
      'verified:stage:done',
      'written:deploy:done',
      'rolled:deploy:done',
      'verified:deploy:current',
      'retiring:pending',
      'written:retire:pending',
      'rolled:retire:pending',
      'verified:retire:pending',
      'completed:pending',
    ]);
    expect(flight!.timeline[0]).toMatchObject({ at: expect.any(String), seconds: null });
    expect(flight!.timeline[1]!.seconds).toBeGreaterThanOrEqual(0);
    expect(flight!.timeline[7]!.seconds).toBeGreaterThanOrEqual(0);

    expect(s.history.map((h) => [h.rotation_id, h.state])).toEqual(
      expect.arrayContaining([
        [done.rotationId, 'completed'],
        [failed.rotationId, 'failed'],
      ]),
    );
    expect(s.history.find((h) => h.rotation_id === done.rotationId)!.timeline.at(-1)).toMatchObject({ key: 'completed', status: 'done' });
    const [failure] = s.failures;
    expect(failure).toMatchObject({
      rotation_id: failed.rotationId,
      state: 'failed',
      rolled_back: true,
      failure: 'deploy verification failed',
      diagnosis: 'api did not become ready: check the new key file is readable',
    });
    expect(failure!.failed_checks.length).toBeGreaterThan(0);
    expect(failure!.timeline.some((t) => t.status === 'failed')).toBe(true);
  });

  it('shows what a rotation waiting out its rollback window waits for, and who does each step', async () => {
    const s = (await (await fetch(`${rec.url}/status.json`)).json()) as StatusSnapshot;
    const view = s.in_flight.find((r) => r.rotation_id === waiting.rotationId)!;
    expect(view.state).toBe('waiting_retirement');
    const current = view.timeline.find((t) => t.status === 'current')!;
    expect(current).toMatchObject({ key: 'retiring', note: 'safety window ends', due_at: view.retire_after, by: 'recorder' });
    expect(view.timeline.map((t) => `${t.key}:${t.by}`)).toEqual([
      'requested:caracal-rotate/test',
      'planned:planner',
      'written:deploy:secret-writer',
      'rolled:deploy:roller',
      'verified:deploy:verifier',
      'retiring:recorder',
      'written:retire:secret-writer',
      'verified:retire:verifier',
      'completed:null',
    ]);
  });

  it('renders HTML with every value escaped, a strict CSP and a 2 s refresh', async () => {
    const res = await fetch(`${rec.url}/status`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const page = await res.text();
    for (const marker of ['id="materials"', 'id="in-flight"', 'class="timeline"', 'id="history"', 'id="failures"', '<meta http-equiv="refresh" content="2">']) {
      expect(page).toContain(marker);
    }
    expect(page).not.toMatch(/<script|<img|onerror=alert\(1\)>/i);
    expect(page).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &#39;quoted&#39;');
    expect(page).toContain('mallory&lt;b&gt;');
    expect(page).toContain(`data-rotation-id="${inFlight.rotationId}"`);
    expect(page).toContain('title="never rotated by this system: its age is unknown here">not rotated yet</span>');
    expect(await (await fetch(`${rec.url}/status?refresh=0`)).text()).not.toContain('http-equiv="refresh"');
  });

  it('answers 503 and keeps refreshing when the projection cannot be read', async () => {
    const broken = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', connectionTimeoutMillis: 1000 });
    const routes = statusRoutes({ pool: broken, catalog: DEFAULT_CATALOG, logger: { warn: () => undefined }, cacheMs: 0 });
    const server = await import('node:http').then(({ createServer }) => createServer((req, res) => void routes[new URL(req.url!, 'http://x').pathname]!(req, res)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      const page = await fetch(`http://127.0.0.1:${port}/status`);
      expect(page.status).toBe(503);
      expect(await page.text()).toContain('id="unavailable"');
      const json = await fetch(`http://127.0.0.1:${port}/status.json`);
      expect(json.status).toBe(503);
      expect(await json.json()).toEqual({ ok: false, error: 'the projection cannot be read right now' });
    } finally {
      server.close();
      await broken.end();
    }
  });
});
