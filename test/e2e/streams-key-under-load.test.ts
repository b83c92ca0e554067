import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { followRotation } from '@caracal-rotation/caracal-rotate';
import { caracalStreams, EVENT_NAMES } from '@caracal-rotation/contracts';
import { inspectDrain } from '@caracal-rotation/bus';
import { readStream } from '@caracal-rotation/testing';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startE2E, type E2E } from '../support/e2e-stack.js';

let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E('streamskey');
}, 120_000);
afterAll(async () => e2e?.stop(), 60_000);

/**
 * A steady flow of revocations through the API while STREAMS_HMAC_KEY
 * rotates: the API signs them, STS and Gateway verify them, and every one of
 * them restarts during the roll. A revocation counts as sent once the API
 * accepted it (202); the client retries while the API restarts.
 */
function startRevocationFlow(apiUrl: string, adminToken: string, everyMs: number) {
  const sent: string[] = [];
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      const session = `flow-${n++}`;
      for (let attempt = 0; running && attempt < 200; attempt++) {
        try {
          const res = await fetch(`${apiUrl}/v1/sessions/revoke`, {
            method: 'POST',
            headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ zone_id: 'flow', session_id: session, reason: 'steady flow' }),
            signal: AbortSignal.timeout(2000),
          });
          if (res.status === 202) {
            sent.push(((await res.json()) as { entry_id: string }).entry_id);
            break;
          }
        } catch {
          // the API is restarting; try again
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    sent,
    async stop() {
      running = false;
      await loop;
    },
  };
}

it('rotates STREAMS_HMAC_KEY under a steady flow without losing or dead-lettering a message', async () => {
  const fleet = e2e.stack.fleet!;
  const adminToken = (await readFile(join(e2e.secretsDir, 'caracalAdminToken'), 'utf8')).trim();
  const flow = startRevocationFlow(fleet.url('api'), adminToken, 40);
  await vi.waitFor(() => expect(flow.sent.length).toBeGreaterThan(10), { timeout: 10_000 });

  // Other rotation events in flight on the same bus: a dry run and a queued request.
  const streamsRotation = await e2e.operator.request({ material: 'STREAMS_HMAC_KEY', reason: 'under load', actor: 'e2e@test' });
  const dryRun = await e2e.operator.request({ material: 'AUDIT_HMAC_KEY', reason: 'plan only', actor: 'e2e@test', dry_run: true });
  const queued = await e2e.operator.request({ material: 'CARACAL_COORDINATOR_TOKEN', reason: 'behind the streams key', actor: 'e2e@test' });

  const follow = (id: string) => followRotation(e2e.redis, e2e.operator.streams, id, () => undefined, { timeoutMs: 150_000 });
  const result = await follow(streamsRotation);
  expect(result.terminal.get(streamsRotation)).toBe('completed');
  await new Promise((r) => setTimeout(r, 500));
  await flow.stop();
  expect((await follow(queued)).terminal.get(queued)).toBe('completed');
  expect(flow.sent.length).toBeGreaterThan(50);

  // Every revocation the API accepted was consumed and acknowledged by both STS and Gateway ...
  const revoke = caracalStreams(e2e.namespace).sessionsRevoke;
  const lastSent = flow.sent[flow.sent.length - 1]!;
  const groups = (await e2e.redis.xinfo('GROUPS', revoke)) as unknown[][];
  const names = groups.map((g) => String(g[g.indexOf('name') + 1]));
  expect(names).toEqual(expect.arrayContaining(['sts-revocation']));
  expect(names.some((n) => n.startsWith('gateway-revocation'))).toBe(true);
  await vi.waitFor(
    async () => {
      for (const report of await inspectDrain(e2e.redis, names.map((group) => ({ stream: revoke, group, mark: lastSent })))) {
        expect(report.drained, `${report.group}`).toBe(true);
      }
    },
    { timeout: 20_000 },
  );
  // ... and none of them was dead-lettered.
  const dead = (await readStream(e2e.redis, `${revoke}.dead`)).filter((d) => flow.sent.includes(d.fields.original_id!));
  expect(dead).toEqual([]);

  // Not one rotation event was dead-lettered, including the dry run's.
  for (const name of EVENT_NAMES) expect(await readStream(e2e.redis, `${e2e.operator.streams[name]}.dead`), name).toEqual([]);
  expect((await readStream(e2e.redis, e2e.operator.streams.planned)).some((p) => p.fields.rotation_id === dryRun)).toBe(true);
}, 240_000);
