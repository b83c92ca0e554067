import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HoldersConfig, Plan } from '@caracal-rotation/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { rollPlan } from './roll-plan.js';

/** A small stand-in holder: /health shows a boot id that a restart hook changes. */
interface TestHolder {
  url: string;
  restarts: number;
  /** When false the hook answers 200 but nothing restarts. */
  honest: boolean;
  ready: boolean;
  server: Server;
}

const servers: Server[] = [];
async function startHolder(opts: Partial<Pick<TestHolder, 'honest' | 'ready'>> = {}): Promise<TestHolder> {
  let bootId = randomUUID();
  const holder = { restarts: 0, honest: true, ready: true, ...opts } as TestHolder;
  holder.server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/restart') {
      holder.restarts += 1;
      if (holder.honest) setTimeout(() => (bootId = randomUUID()), 30);
      res.writeHead(202).end('{}');
    } else if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, boot_id: bootId }));
    } else if (req.url === '/ready') {
      res.writeHead(holder.ready ? 200 : 503).end(JSON.stringify(holder.ready ? { ok: true } : { ok: false, error: 'key mismatch' }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => holder.server.listen(0, '127.0.0.1', r));
  servers.push(holder.server);
  holder.url = `http://127.0.0.1:${(holder.server.address() as AddressInfo).port}`;
  return holder;
}
afterAll(() => servers.forEach((s) => s.close()));

const plan = (holders: [string, number][]): Plan =>
  ({ holders: holders.map(([service, roll_group]) => ({ service, roll_group })) }) as unknown as Plan;
const config = (entries: Record<string, TestHolder>, adapter: 'http' | 'exec' = 'http'): HoldersConfig => ({
  version: 1,
  caracal_namespace: '',
  holders: Object.fromEntries(
    Object.entries(entries).map(([name, h]) => [
      name,
      {
        url: h.url,
        ready_timeout_ms: 1500,
        restart:
          adapter === 'http'
            ? { adapter: 'http' as const, url: `${h.url}/restart` }
            : { adapter: 'exec' as const, command: [process.execPath, '-e', `fetch('${h.url}/restart',{method:'POST'}).then(r=>process.exit(r.ok?0:1))`] },
      },
    ]),
  ),
});
const opts = { pollMs: 20, restartAttempts: 2 };

describe('rolling holders', () => {
  it('restarts every holder in group order and proves each restart', async () => {
    const api = await startHolder();
    const sts = await startHolder();
    const rolled = await rollPlan(plan([['api', 0], ['sts', 1]]), 'deploy', config({ api, sts }), opts);
    expect(rolled.map((r) => [r.service, r.ok])).toEqual([['api', true], ['sts', true]]);
    for (const r of rolled) {
      expect(r.proof!.before).not.toBe(r.proof!.after);
      expect(r.restarted_at).not.toBeNull();
      expect(r.ready_at).not.toBeNull();
    }
    expect(api.restarts).toBe(1);
  });

  it('restarts through an exec command', async () => {
    const coordinator = await startHolder();
    const [rolled] = await rollPlan(plan([['coordinator', 0]]), 'deploy', config({ coordinator }, 'exec'), opts);
    expect(rolled!.ok).toBe(true);
    expect(coordinator.restarts).toBe(1);
  });

  it('treats an accepted restart that left the same process running as a failure', async () => {
    const liar = await startHolder({ honest: false });
    const [rolled] = await rollPlan(plan([['gateway', 0]]), 'deploy', config({ gateway: liar }), opts);
    expect(rolled).toMatchObject({ ok: false, restarted_at: null });
    expect(rolled!.error).toMatch(/restart did not happen/);
  });

  it('reports a holder that cannot come ready and rolls no later group', async () => {
    const api = await startHolder({ ready: false });
    const sts = await startHolder();
    const rolled = await rollPlan(plan([['api', 0], ['sts', 1]]), 'deploy', config({ api, sts }), opts);
    expect(rolled[0]).toMatchObject({ service: 'api', ok: false });
    expect(rolled[0]!.error).toMatch(/not ready within 1500 ms: 503/);
    expect(rolled[1]).toMatchObject({ service: 'sts', ok: false, error: 'not rolled: an earlier holder failed' });
    expect(sts.restarts).toBe(0);
  });

  it('rolls every holder during a rollback even after a failure', async () => {
    const api = await startHolder({ ready: false });
    const sts = await startHolder();
    const rolled = await rollPlan(plan([['api', 0], ['sts', 1]]), 'rollback', config({ api, sts }), opts);
    expect(rolled.map((r) => r.ok)).toEqual([false, true]);
    expect(sts.restarts).toBe(1);
  });

  it('fails a holder with no restart adapter configured', async () => {
    const [rolled] = await rollPlan(plan([['audit', 0]]), 'deploy', config({}), opts);
    expect(rolled).toMatchObject({ ok: false, attempts: 0 });
    expect(rolled!.error).toMatch(/no restart adapter/);
  });
});
