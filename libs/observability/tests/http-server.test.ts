import type { ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, startHttpServer, type Readiness, type RunningHttpServer } from '../src/index.js';

const running: RunningHttpServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(readiness: () => Promise<Readiness>, registry: Registry = createMetrics('roller').registry, extra = {}) {
  const server = await startHttpServer({
    service: 'roller',
    instance: 'host-1',
    host: '127.0.0.1',
    port: 0,
    registry,
    readiness,
    readinessTimeoutMs: 200,
    extraRoutes: extra,
  });
  running.push(server);
  return server;
}

const ready = async (): Promise<Readiness> => ({ ok: true });

describe('startHttpServer', () => {
  it('listens on an ephemeral port when asked for 0', async () => {
    const server = await start(ready);
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
  });

  it('GET /health answers with service, instance, pid and start time', async () => {
    const server = await start(ready);
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ ok: true, service: 'roller', instance: 'host-1', pid: process.pid });
    expect(new Date(String(body.started_at)).toISOString()).toBe(body.started_at);
  });

  it('GET /ready answers 200 {ok:true} when ready', async () => {
    const server = await start(ready);
    const res = await fetch(`${server.url}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('GET /ready answers 503 in Caracal shape when not ready', async () => {
    const server = await start(async () => ({ ok: false, error: 'connection refused', dependency: 'redis' }));
    const res = await fetch(`${server.url}/ready`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ok: false, error: 'connection refused', dependency: 'redis' });
  });

  it('GET /ready answers 503 when the probe throws or hangs', async () => {
    const throwing = await start(async () => {
      throw new Error('pg down');
    });
    const res = await fetch(`${throwing.url}/ready`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ok: false, error: 'pg down' });

    const hanging = await start(() => new Promise<Readiness>(() => {}));
    const slow = await fetch(`${hanging.url}/ready`);
    expect(slow.status).toBe(503);
    expect(((await slow.json()) as { error: string }).error).toMatch(/timed out/);
  });

  it('GET /metrics serves Prometheus text', async () => {
    const metrics = createMetrics('roller');
    metrics.inProgress.set({ material: 'REDIS_PASSWORD' }, 1);
    const server = await start(ready, metrics.registry);
    const res = await fetch(`${server.url}/metrics?x=1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(metrics.registry.contentType);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toContain('caracal_rotation_in_progress{material="REDIS_PASSWORD",service="roller"} 1');
  });

  it('answers 404 JSON for unknown paths and 405 for other methods', async () => {
    const server = await start(ready);
    const missing = await fetch(`${server.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ ok: false, error: 'not found' });
    const post = await fetch(`${server.url}/health`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('serves extra GET routes and turns their errors into 500', async () => {
    const server = await start(ready, undefined, {
      '/status': async (_req: unknown, res: ServerResponse) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('fine');
      },
      '/broken': async () => {
        throw new Error('boom');
      },
    });
    expect(await (await fetch(`${server.url}/status`)).text()).toBe('fine');
    const broken = await fetch(`${server.url}/broken`);
    expect(broken.status).toBe(500);
    expect(await broken.json()).toEqual({ ok: false, error: 'internal error' });
  });

  it('refuses an extra route that would replace a built-in one', async () => {
    await expect(start(ready, undefined, { '/health': async () => {} })).rejects.toThrow(/built-in route \/health/);
  });

  it('rejects when the port is taken, and close() stops listening', async () => {
    const first = await start(ready);
    await expect(
      startHttpServer({ service: 's', instance: 'i', host: '127.0.0.1', port: first.port, registry: createMetrics('s').registry, readiness: ready }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const { url } = first;
    await first.close();
    await first.close();
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});
