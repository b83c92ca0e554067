import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What Caracal's Go services answer with, on node:http: Go 1.22's ServeMux
 * routing (method patterns, `{name}` wildcards, 405 with Allow, the
 * "404 page not found" text), encoding/json's encoder output and net/http's
 * http.Error.
 */

export type GoHandler = (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => void | Promise<void>;

interface Route {
  method: string | undefined;
  segments: string[];
  /** A pattern ending in `/` matches its whole subtree. */
  subtree: boolean;
  handler: GoHandler;
  literalSegments: number;
}

export class GoMux {
  private readonly routes: Route[] = [];

  /** `GET /health`, `/ready`, `POST /internal/zones/{zoneID}/signing-key/rotate`, `/` (everything). */
  handle(pattern: string, handler: GoHandler): this {
    const [first, second] = pattern.split(' ');
    const method = second === undefined ? undefined : first;
    const path = second ?? first!;
    const subtree = path.endsWith('/');
    const segments = path.split('/').slice(1, subtree ? -1 : undefined);
    this.routes.push({ method, segments, subtree, handler, literalSegments: segments.filter((s) => !s.startsWith('{')).length });
    return this;
  }

  private match(route: Route, parts: string[]): Record<string, string> | undefined {
    if (route.subtree ? parts.length < route.segments.length : parts.length !== route.segments.length) return undefined;
    const params: Record<string, string> = {};
    for (let i = 0; i < route.segments.length; i++) {
      const want = route.segments[i]!;
      const got = parts[i]!;
      if (want.startsWith('{')) {
        if (got === '') return undefined;
        params[want.slice(1, -1)] = got;
      } else if (want !== got) {
        return undefined;
      }
    }
    return params;
  }

  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const rawPath = new URL(req.url ?? '/', 'http://go').pathname;
    const parts = rawPath
      .split('/')
      .slice(1)
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      });
    const candidates = this.routes
      .map((route) => ({ route, params: this.match(route, parts) }))
      .filter((c): c is { route: Route; params: Record<string, string> } => c.params !== undefined)
      // The most specific pattern wins: an exact path over a wildcard, a wildcard over a subtree.
      .sort((a, b) => Number(a.route.subtree) - Number(b.route.subtree) || b.route.literalSegments - a.route.literalSegments);
    const allows = (r: Route) => r.method === undefined || r.method === method || (r.method === 'GET' && method === 'HEAD');
    const chosen = candidates.find((c) => allows(c.route));
    if (chosen) {
      await chosen.route.handler(req, res, chosen.params);
      return;
    }
    if (candidates.length > 0) {
      const methods = new Set<string>();
      for (const c of candidates) {
        if (c.route.method) methods.add(c.route.method);
        if (c.route.method === 'GET') methods.add('HEAD');
      }
      res.setHeader('Allow', [...methods].sort().join(', '));
      goError(res, 405, 'Method Not Allowed');
      return;
    }
    goNotFound(res);
  }
}

/** encoding/json's Encoder.Encode: HTML-safe escapes and a trailing newline. */
export function goEncode(value: unknown): string {
  return `${JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029')}\n`;
}

/** A Go map[string]any marshals with its keys sorted. */
export function goMap(entries: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entries).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function goJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(goEncode(value));
}

/** net/http's http.Error. */
export function goError(res: ServerResponse, status: number, text: string): void {
  res.removeHeader('Content-Length');
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(`${text}\n`);
}

export function goNotFound(res: ServerResponse): void {
  goError(res, 404, '404 page not found');
}

/** packages/core/go/errors CaracalError, written by the services' writeError. */
export function caracalError(res: ServerResponse, status: number, code: string, description: string, requestId?: string): void {
  const body: Record<string, string> = { error: code };
  if (description) body.error_description = description;
  if (requestId) body.requestId = requestId;
  goJson(res, status, body);
}

/** The `ready`-shaped failure every Go service writes (writeReadyFailure). */
export function writeReadyFailure(res: ServerResponse, reason: string): void {
  goJson(res, 503, goMap({ ok: false, ready: false, reason }));
}

/** The 2 s bound the Go services' ready handlers put on each dependency (context.WithTimeout). */
export async function withinReadyTimeout<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), 2000)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Postgres, then Redis, as the STS and Audit ready handlers check them: the reason of the first that fails. */
export async function storesUnreachable(db: { query(sql: string): Promise<unknown> }, redis: { ping(): Promise<unknown> }): Promise<string | undefined> {
  try {
    await withinReadyTimeout(db.query('SELECT 1'));
  } catch {
    return 'postgres_unreachable';
  }
  try {
    await withinReadyTimeout(redis.ping());
  } catch {
    return 'redis_unreachable';
  }
  return undefined;
}

/** Reads a request body up to `limit` bytes. */
export async function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('http: request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A Bearer comparison of the whole header, as the Go services' adminAuthorized does. */
export function headerEquals(actual: string | undefined, expected: string): boolean {
  if (actual === undefined || actual.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < actual.length; i++) diff |= actual.charCodeAt(i) ^ expected.charCodeAt(i);
  return diff === 0;
}

export interface GoServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:port; a panic in a handler gives telemetry.HTTPHandler's clean 500. */
export async function listenGo(mux: GoMux, port: number, onError: (err: unknown) => void): Promise<GoServer> {
  const server = createServer((req, res) => {
    mux.serve(req, res).catch((err: unknown) => {
      onError(err);
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end('{"error":"internal_error"}');
      } else {
        res.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
