import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { sendJson } from './json.js';
import { healthRoute, metricsRoute, readyRoute, type Readiness, type RouteHandler } from './routes.js';

export interface HttpServerOptions {
  service: string;
  instance: string;
  host: string;
  /** 0 asks for an ephemeral port; the one chosen is returned. */
  port: number;
  registry: Registry;
  readiness: () => Promise<Readiness>;
  /** More `GET` routes, by exact path; they cannot replace /health, /ready or /metrics. */
  extraRoutes?: Record<string, RouteHandler>;
  /** A readiness probe slower than this answers 503 (default 5 s). */
  readinessTimeoutMs?: number;
  /** Reported in /health as `started_at` (default: when the server starts). */
  startedAt?: Date;
  logger?: Pick<Logger, 'error'>;
}

export interface RunningHttpServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

function routeTable(options: HttpServerOptions): Map<string, RouteHandler> {
  const routes = new Map<string, RouteHandler>([
    ['/health', healthRoute({ ...options, startedAt: options.startedAt ?? new Date() })],
    ['/ready', readyRoute(options.readiness, options.readinessTimeoutMs ?? 5_000)],
    ['/metrics', metricsRoute(options.registry)],
  ]);
  for (const [path, handler] of Object.entries(options.extraRoutes ?? {})) {
    if (routes.has(path)) throw new Error(`extraRoutes cannot replace the built-in route ${path}`);
    routes.set(path, handler);
  }
  return routes;
}

function dispatcher(routes: Map<string, RouteHandler>, logger?: Pick<Logger, 'error'>) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendJson(res, 405, { ok: false, error: 'method not allowed' }, { allow: 'GET, HEAD' });
      }
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const route = routes.get(path);
      if (route === undefined) return sendJson(res, 404, { ok: false, error: 'not found' });
      await route(req, res);
    } catch (err) {
      logger?.error({ err, url: req.url }, 'http route failed');
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: 'internal error' });
      else res.destroy();
    }
  };
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Serves /health, /ready, /metrics (and any extra GET routes) with node:http. */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const handle = dispatcher(routeTable(options), options.logger);
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${hostForUrl(options.host)}:${port}`,
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
