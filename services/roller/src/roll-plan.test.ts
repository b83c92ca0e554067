import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { holdersConfigSchema, type HolderRoll, type HoldersConfig, type Phase } from '@caracal-rotation/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { rollGroups } from './roll-plan.js';

/**
 * A stand-in holder: /ready, and a process identity that a restart changes.
 * It is restarted through the exec adapter: the restart command POSTs
 * /restart, the proof command prints /identity, both real child processes.
 */
interface TestHolder {
  url: string;
  restarts: number;
  /** When false, /restart answers 200 but the identity stays. */
  honest: boolean;
  ready: boolean;
}

const servers: Server[] = [];
/** The order in which holders were restarted, across all of them. */
const restartLog: string[] = [];
afterAll(() =>
  servers.forEach((s) => {
    s.closeAllConnections();
    s.close();
  }),
);

async function startHolder(name: string, opts: Partial<Pick<TestHolder, 'honest' | 'ready'>> = {}): Promise<TestHolder> {
  let generation = 1;
  const holder = { restarts: 0, honest: true, ready: true, ...opts } as TestHolder;
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/restart') {
      holder.restarts += 1;
      restartLog.push(name);
      if (holder.honest) generation += 1;
      res.writeHead(200).end();
    } else if (req.url === '/identity') {
      res.writeHead(200).end(`${name} process ${generation}`);
    } else if (req.url === '/ready') {
      res.writeHead(holder.ready ? 200 : 503).end(JSON.stringify(holder.ready ? { ok: true } : { ok: false, error: 'key mismatch' }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  holder.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return holder;
}

/** node:http rather than fetch: a child that loads no fetch starts several times faster. */
const call = (method: string, url: string) =>
  `require('node:http').request(${JSON.stringify(url)}, { method: ${JSON.stringify(method)} }, (r) => { r.pipe(process.stdout); r.on('end', () => process.exit(r.statusCode === 200 ? 0 : 1)) }).end()`;
const exec = (h: TestHolder) => ({
  adapter: 'exec',
  command: [process.execPath, '-e', call('POST', `${h.url}/restart`)],
  proof: [process.execPath, '-e', call('GET', `${h.url}/identity`)],
  // Generous: a loaded CI machine can take over a second to start a Node child.
  timeout_ms: 15_000,
});

const config = (entries: Record<string, TestHolder>, restart: (h: TestHolder) => object = exec) =>
  holdersConfigSchema.parse({
    version: 2,
    services: Object.fromEntries(Object.entries(entries).map(([name, h]) => [name, { url: h.url, ready_timeout_ms: 600, restart: restart(h) }])),
  });
const opts = { pollMs: 20, restartAttempts: 2 };
/** No orchestrator service is among these holders, so nothing may be reloaded. */
const noReload = (services: string[]): Promise<HolderRoll[]> => Promise.reject(new Error(`unexpected reload of ${services.join(', ')}`));
const roll = (groups: string[][], phase: Phase, holders: HoldersConfig, writtenAt = new Date()) => rollGroups(groups, phase, holders, writtenAt, opts, noReload);

describe('rolling holders', () => {
  it('restarts the groups one after another and proves each restart from the platform', async () => {
    const api = await startHolder('api');
    const sts = await startHolder('sts');
    const writtenAt = new Date();
    const rolled = await roll([['api'], ['sts']], 'deploy', config({ api, sts }), writtenAt);
    expect(rolled.map((r) => [r.service, r.ok, r.attempts])).toEqual([
      ['api', true, 1],
      ['sts', true, 1],
    ]);
    expect(restartLog.filter((n) => n === 'api' || n === 'sts')).toEqual(['api', 'sts']);
    expect(rolled[0]!.proof).toEqual({ before: 'api process 1', after: 'api process 2', detail: 'the proof output changed across the restart' });
    for (const r of rolled) {
      expect(Date.parse(r.restarted_at!)).toBeGreaterThanOrEqual(writtenAt.getTime());
      expect(Date.parse(r.ready_at!)).toBeGreaterThanOrEqual(Date.parse(r.restarted_at!));
    }
  });

  it('treats an accepted restart that left the same process running as a failure, after retrying', async () => {
    const liar = await startHolder('gateway', { honest: false });
    // A short command bound: the proof is taken again until it passes, and this one never changes.
    const [rolled] = await roll([['gateway']], 'deploy', config({ gateway: liar }, (h) => ({ ...exec(h), timeout_ms: 3_000 })));
    expect(rolled).toMatchObject({ ok: false, restarted_at: null, ready_at: null, attempts: 2, proof: { before: 'gateway process 1', after: 'gateway process 1' } });
    expect(rolled!.error).toMatch(/^exec .*: the command succeeded but the proof output did not change \(still "gateway process 1"\): no restart is proven$/);
    expect(liar.restarts).toBe(2);
  });

  it('reports a holder that cannot come ready and rolls no later group', async () => {
    const api = await startHolder('api', { ready: false });
    const sts = await startHolder('sts');
    const rolled = await roll([['api'], ['sts']], 'deploy', config({ api, sts }));
    expect(rolled[0]).toMatchObject({ service: 'api', ok: false, ready_at: null, proof: { before: 'api process 1', after: 'api process 2' } });
    expect(rolled[0]!.restarted_at).not.toBeNull();
    expect(rolled[0]!.error).toMatch(/^restarted \(the proof output changed across the restart\) but not ready within 600 ms: 503 \{"ok":false,"error":"key mismatch"\}$/);
    expect(rolled[1]).toMatchObject({ service: 'sts', ok: false, error: 'not rolled: an earlier holder failed' });
    expect(sts.restarts).toBe(0);
  });

  it('rolls every holder during a rollback even after a failure', async () => {
    const api = await startHolder('api', { ready: false });
    const sts = await startHolder('sts');
    const rolled = await roll([['api'], ['sts']], 'rollback', config({ api, sts }));
    expect(rolled.map((r) => r.ok)).toEqual([false, true]);
    expect(sts.restarts).toBe(1);
  });

  it('restarts nothing for a holder that re-reads its material, and still checks it is ready', async () => {
    const web = await startHolder('web');
    const [rolled] = await roll([['web']], 'deploy', config({ web }, () => ({ adapter: 'none', why: 're-reads the token files on every request' })));
    expect(rolled).toMatchObject({ ok: true, restarted_at: null, attempts: 1, proof: { before: null, after: null } });
    expect(rolled!.ready_at).not.toBeNull();
    expect(web.restarts).toBe(0);
  });

  it('does not retry a restart the holders file makes impossible', async () => {
    const audit = await startHolder('audit');
    const [rolled] = await roll([['audit']], 'deploy', config({ audit }, () => ({ adapter: 'exec', command: ['/nonexistent/systemctl', 'restart', 'audit'], proof: ['true'] })));
    expect(rolled).toMatchObject({ ok: false, attempts: 1 });
    expect(rolled!.error).toBe('exec /nonexistent/systemctl restart audit: restart command /nonexistent/systemctl restart audit cannot be run (ENOENT)');
  });

  it('fails a holder that the holders file does not list', async () => {
    const [rolled] = await roll([['coordinator']], 'deploy', config({}));
    expect(rolled).toMatchObject({ ok: false, attempts: 0 });
    expect(rolled!.error).toBe('coordinator is not in the services of the holders file (CARACAL_HOLDERS): it cannot be restarted');
  });
});
