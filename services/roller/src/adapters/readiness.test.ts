import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { NotReadyError, waitUntilReady } from './readiness.js';

const servers: Server[] = [];
afterAll(() => servers.forEach((s) => (s.closeAllConnections(), s.close())));

/** A service whose /ready answers 503 for the first `notReadyFor` requests, then 200. */
async function service(notReadyFor: number, prefix = ''): Promise<{ url: string; probes: string[] }> {
  const probes: string[] = [];
  const server = createServer((req, res) => {
    probes.push(req.url ?? '');
    if (req.url !== `${prefix}/ready`) return void res.writeHead(404).end();
    if (probes.length <= notReadyFor) res.writeHead(503).end('{"ok":false,"error":"redis: WRONGPASS"}');
    else res.writeHead(200).end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}`, probes };
}

describe('readiness after a restart', () => {
  it('polls /ready until it answers 200', async () => {
    const s = await service(3);
    const ready = await waitUntilReady(s.url, { deadline: Date.now() + 5_000, pollMs: 10 });
    expect(ready.answer).toBe('200 {"ok":true}');
    expect(s.probes).toEqual(['/ready', '/ready', '/ready', '/ready']);
  });

  it('keeps the path of a base URL behind a prefix', async () => {
    const s = await service(0, '/caracal-api');
    await waitUntilReady(`${s.url}/`, { deadline: Date.now() + 5_000, pollMs: 10 });
    expect(s.probes).toEqual(['/caracal-api/ready']);
  });

  it('gives up at the deadline with the last answer', async () => {
    const s = await service(Number.MAX_SAFE_INTEGER);
    const err = (await waitUntilReady(s.url, { deadline: Date.now() + 200, pollMs: 10 }).catch((e: unknown) => e)) as NotReadyError;
    expect(err).toBeInstanceOf(NotReadyError);
    expect(err.lastAnswer).toBe('503 {"ok":false,"error":"redis: WRONGPASS"}');
    expect(err.message).toBe(`${s.url}/ready did not answer 200 before the deadline; last answer: 503 {"ok":false,"error":"redis: WRONGPASS"}`);
  });

  it('says why nothing answered', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = (await waitUntilReady(`http://127.0.0.1:${port}`, { deadline: Date.now() + 100, pollMs: 10 }).catch((e: unknown) => e)) as NotReadyError;
    expect(err.lastAnswer).toBe('ECONNREFUSED');
  });
});
