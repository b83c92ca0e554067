import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRotation } from '@caracal-rotation/projection';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startE2E, type E2E } from '../support/e2e-stack.js';

// A real browser (Debian's Chromium, driven by playwright-core) on the
// recorder's status page, while a real stack rotates real material.

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOTS = join(import.meta.dirname, 'screenshots');
// What an operator may type as a reason: it must show as text, never run.
const EVIL_REASON = `quarterly <script>window.__pwned = 1; alert("pwned")</script><img src=x onerror="window.__pwned = 2"> & "done"`;
// The operator's name in operators.json is recorded as the actor: markup in it is text too.
const ACTOR = `ops <b>bold</b>`;

let e2e: E2E;
let profileDir: string;
let context: BrowserContext;
const dialogs: string[] = [];
const consoleErrors: string[] = [];

beforeAll(async () => {
  await access(CHROMIUM).catch(() => {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`);
  });
  // AUDIT_HMAC_KEY waits out a safety window of 6 s between deploy and
  // retirement, so the page is certain to see it in flight.
  e2e = await startE2E('browser', { sandboxWindowMs: 6_000, operator: ACTOR });
  profileDir = await mkdtemp(join(tmpdir(), 'caracal-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1500, height: 1100 },
  });
}, 120_000);

afterAll(async () => {
  await context?.close();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
  await e2e?.stop();
}, 60_000);

async function openPage(url: string): Promise<Page> {
  const page = await context.newPage();
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  const res = await page.goto(url, { waitUntil: 'load' });
  expect(res?.status()).toBe(200);
  return page;
}

/** Reads from a page that may be reloading itself (meta refresh): retried until it answers and passes. */
async function eventually<T>(read: () => Promise<T>, check: (value: T) => void, timeout = 30_000): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await read();
      check(value);
      return value;
    },
    { timeout, interval: 250 },
  );
}

describe('status page in a browser', () => {
  it('shows a rotation in flight with its timeline, renders the operator reason as text, then shows it in history', async () => {
    const recorderUrl = e2e.stack.instances('recorder')[0]!.url;
    const id = await e2e.operator.request({ material: 'AUDIT_HMAC_KEY', reason: EVIL_REASON, ticket: 'SEC-42' });
    // In flight: deployed, waiting out its safety window.
    await vi.waitFor(async () => expect((await getRotation(e2e.pool, id))?.state).toBe('waiting_retirement'), { timeout: 60_000, interval: 100 });

    // The live page, refreshing itself every 2 s.
    const live = await openPage(`${recorderUrl}/status`);
    expect(await live.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe('2');

    // A still copy of it for the checks and the screenshot.
    const page = await openPage(`${recorderUrl}/status?refresh=0`);
    const rotation = page.locator(`#in-flight article[data-rotation-id="${id}"]`);
    await expect.poll(() => rotation.count()).toBe(1);
    expect(await page.title()).toBe('Caracal rotation status');

    // The material table lists every catalog material; this one is rotating.
    expect(await page.locator('table#materials tbody tr').count()).toBeGreaterThanOrEqual(9);
    const audit = page.locator('table#materials tbody tr[data-material="AUDIT_HMAC_KEY"]');
    expect(await audit.locator('td').last().textContent()).toBe('rotating');

    // Its timeline: done steps with times, the current one waiting for retirement, those ahead pending.
    const steps = rotation.locator('ol.timeline > li');
    const keys = await steps.evaluateAll((lis) => lis.map((li) => `${li.getAttribute('data-step')}:${li.className.replace('step step-', '')}`));
    expect(keys.slice(0, 2)).toEqual(['requested:done', 'planned:done']);
    expect(keys).toContain('verified:deploy:done');
    expect(keys).toContain('retiring:current');
    expect(keys.at(-1)).toBe('completed:pending');
    expect(await rotation.locator('li.step-done time').count()).toBeGreaterThanOrEqual(5);
    expect(await rotation.locator('li.step-current .step-note').textContent()).toMatch(/safety window ends|drain gate/);

    // Operator input is text: shown verbatim, nothing injected, nothing run.
    expect(await rotation.locator('.reason').textContent()).toBe(EVIL_REASON);
    expect(await rotation.locator('.actor').textContent()).toBe(ACTOR);
    expect(await page.locator('script, img, b').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();

    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'status-page.png'), fullPage: true });

    // The live page shows the end by refreshing itself: no reload from here.
    const row = live.locator(`table#history tbody tr[data-rotation-id="${id}"]`);
    await eventually(
      () => row.getAttribute('data-state', { timeout: 1_000 }).catch(() => null),
      (state) => expect(state).toBe('completed'),
      90_000,
    );
    await eventually(
      () => live.locator(`#in-flight article[data-rotation-id="${id}"]`).count(),
      (n) => expect(n).toBe(0),
    );
    const completed = (await getRotation(e2e.pool, id))!;
    expect(completed.state).toBe('completed');
    await eventually(
      () => live.locator('table#materials tbody tr[data-material="AUDIT_HMAC_KEY"] code.kid').textContent({ timeout: 1_000 }).catch(() => null),
      (kid) => expect(kid).toBe(completed.newKid),
    );
    expect(await row.locator('td.reason').textContent({ timeout: 5_000 })).toBe(EVIL_REASON);
    await live.screenshot({ path: join(SCREENSHOTS, 'status-page-completed.png'), fullPage: true }).catch(() => undefined);

    expect(dialogs).toEqual([]);
    expect(consoleErrors).toEqual([]);
  }, 180_000);
});
