import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { withTimeout } from '../timeout.js';
import { sendJson } from './json.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** What a readiness probe reports, in Caracal's `/ready` shape. */
export type Readiness = { ok: true } | { ok: false; error: string; dependency?: string };

export interface HealthInfo {
  service: string;
  instance: string;
  startedAt: Date;
}

/** `GET /health`: the process answers. */
export function healthRoute({ service, instance, startedAt }: HealthInfo): RouteHandler {
  const body = { ok: true, service, instance, pid: process.pid, started_at: startedAt.toISOString() };
  return async (_req, res) => sendJson(res, 200, body);
}

async function probe(readiness: () => Promise<Readiness>, timeoutMs: number): Promise<Readiness> {
  try {
    return await withTimeout(readiness, timeoutMs, 'readiness check');
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** `GET /ready`: 200 `{ok:true}` or 503 `{ok:false,error,dependency}`; a throwing or slow probe is not ready. */
export function readyRoute(readiness: () => Promise<Readiness>, timeoutMs: number): RouteHandler {
  return async (_req, res) => {
    const result = await probe(readiness, timeoutMs);
    if (result.ok) return sendJson(res, 200, { ok: true });
    sendJson(res, 503, { ok: false, error: result.error, dependency: result.dependency });
  };
}

/** `GET /metrics`: the registry in Prometheus text format. */
export function metricsRoute(registry: Registry): RouteHandler {
  return async (_req, res) => {
    const text = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
    res.end(text);
  };
}
