import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Catalog } from '@caracal-rotation/contracts';
import type { Logger, RouteHandler } from '@caracal-rotation/observability';
import type pg from 'pg';
import { renderStatusPage, renderUnavailablePage } from './render.js';
import { readStatus, type StatusSnapshot } from './snapshot.js';

export interface StatusRouteOptions {
  pool: pg.Pool;
  catalog: Catalog;
  logger: Pick<Logger, 'warn'>;
  /** A snapshot is reused this long, so many open pages cost Postgres one read per interval. */
  cacheMs: number;
  /** Default auto-refresh of the page, in seconds (a `?refresh=N` query overrides it; 0 turns it off). */
  refreshSeconds?: number;
}

/** The page may load nothing and run nothing: styles inline, no script, no frame, no form. */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  // `img-src data:` only for the empty inline favicon (which spares the browser a request).
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function refreshOf(req: IncomingMessage, fallback: number): number {
  const value = new URL(req.url ?? '/', 'http://localhost').searchParams.get('refresh');
  if (value === null || !/^\d{1,4}$/.test(value)) return fallback;
  return Math.min(Number(value), 3600);
}

/** Reads through a short cache with a single read in flight, however many requests arrive together. */
function cachedReader(read: () => Promise<StatusSnapshot>, cacheMs: number): () => Promise<StatusSnapshot> {
  let cached: { at: number; value: StatusSnapshot } | undefined;
  let inFlight: Promise<StatusSnapshot> | undefined;
  return () => {
    if (cached && Date.now() - cached.at < cacheMs) return Promise.resolve(cached.value);
    inFlight ??= read()
      .then((value) => {
        cached = { at: Date.now(), value };
        return value;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

/**
 * `GET /status` (HTML) and `GET /status.json` (the same snapshot as JSON),
 * for the recorder's HTTP server (`serveHttp`'s extra routes). Read-only:
 * they read the Postgres projection and nothing else.
 */
export function statusRoutes(options: StatusRouteOptions): Record<string, RouteHandler> {
  const read = cachedReader(() => readStatus(options.pool, options.catalog), options.cacheMs);
  const defaultRefresh = options.refreshSeconds ?? 2;
  const failed = (err: unknown) => options.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'status page cannot read the projection');
  return {
    '/status': async (req, res) => {
      const refresh = refreshOf(req, defaultRefresh);
      let snapshot: StatusSnapshot;
      try {
        snapshot = await read();
      } catch (err) {
        failed(err);
        return send(res, 503, PAGE_HEADERS, renderUnavailablePage(refresh));
      }
      send(res, 200, PAGE_HEADERS, renderStatusPage(snapshot, refresh));
    },
    '/status.json': async (_req, res) => {
      const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
      try {
        send(res, 200, headers, JSON.stringify(await read()));
      } catch (err) {
        failed(err);
        send(res, 503, headers, JSON.stringify({ ok: false, error: 'the projection cannot be read right now' }));
      }
    },
  };
}
