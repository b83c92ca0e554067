import { caracalRequest, unexpectedAnswer } from './http.js';

/** Caracal's API caps a page at 500 (apps/api/src/routes/list-pagination.ts MAX_LIST_LIMIT). */
export const MAX_ZONE_PAGE = 500;

export interface ZonePage {
  zones: string[];
  /** Where the next page starts (this library's cursor, opaque to callers); null on the last page. */
  next: string | null;
}

/**
 * Caracal pages zones by (created_at, id) descending, and its cursor is
 * base64url JSON `{ts, id}` of a page's last row (apps/api/src/routes/
 * list-pagination.ts encodeCursor, listPage, appendKeysetCondition). `ts`
 * is that row's created_at cut to milliseconds by toISOString, while
 * zones.created_at keeps microseconds (infra/postgres/migrations/
 * 0001_baseline.up.sql): the next page, `(created_at, id) < (ts, id)`, skips
 * every zone created in the same millisecond after the cut. Following
 * Caracal's own next_cursor, a `--zone '*'` batch silently misses zones
 * (7 of 10,000 created by eight concurrent clients, measured).
 *
 * So the listing makes its own cursor: `ts` one millisecond past the last
 * row's, and the nil UUID as `id`, which takes that whole millisecond again;
 * the zones of it already returned are left out. The cursor it hands its
 * caller carries those ids.
 */
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

interface ListCursor {
  /** The millisecond (ISO) whose zones the next page starts with. */
  ms: string;
  /** Zones of that millisecond already returned. */
  seen: string[];
}

const encode = (cursor: ListCursor): string => Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');

function decode(raw: string): ListCursor {
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<ListCursor>;
    if (typeof parsed.ms === 'string' && Array.isArray(parsed.seen)) return { ms: parsed.ms, seen: parsed.seen.map(String) };
  } catch {
    // reported below
  }
  throw new Error('not a zone listing cursor of this library');
}

/** Caracal's cursor format (list-pagination.ts encodeCursor). */
const caracalCursor = (ts: string, id: string): string => Buffer.from(JSON.stringify({ ts, id }), 'utf8').toString('base64url');

/**
 * One page of the zones Caracal's API lists: every non-archived zone but the
 * reserved system zone (apps/api/src/routes/zones.ts). A read-capability
 * admin token is enough. Fails, rather than skip or repeat zones, when more
 * zones than a page holds were created in one millisecond.
 */
export async function listZonesPage(apiUrl: string, token: string, cursor: string | null, limit = MAX_ZONE_PAGE, opts: { signal?: AbortSignal } = {}): Promise<ZonePage> {
  const from = cursor === null ? undefined : decode(cursor);
  const pageLimit = Math.min(limit, MAX_ZONE_PAGE);
  const page = await readPage(apiUrl, token, from, pageLimit, opts.signal);
  // A millisecond holding more zones than a page: once more with the largest page Caracal gives.
  if (page.full && page.fresh.length === 0 && pageLimit < MAX_ZONE_PAGE) return pageFrom(from, await readPage(apiUrl, token, from, MAX_ZONE_PAGE, opts.signal));
  return pageFrom(from, page);
}

interface ReadPage {
  rows: { id: string; ms: string }[];
  /** The rows not returned before. */
  fresh: { id: string; ms: string }[];
  /** Caracal filled the page: there may be more. */
  full: boolean;
}

async function readPage(apiUrl: string, token: string, from: ListCursor | undefined, limit: number, signal: AbortSignal | undefined): Promise<ReadPage> {
  const res = await caracalRequest('listZones', {
    baseUrl: apiUrl,
    query: { limit, cursor: from ? caracalCursor(new Date(Date.parse(from.ms) + 1).toISOString(), NIL_UUID) : undefined },
    headers: { authorization: `Bearer ${token}` },
    signal,
  });
  if (res.status !== 200) throw unexpectedAnswer('listZones', res);
  const body = res.json as { items?: { id?: unknown; created_at?: unknown }[] } | undefined;
  if (!body || !Array.isArray(body.items)) throw new Error('GET /v1/zones answered 200 without an items list');
  const rows = body.items.map((z) => {
    const ms = typeof z.created_at === 'string' ? Date.parse(z.created_at) : NaN;
    if (typeof z.id !== 'string' || !Number.isFinite(ms)) throw new Error('GET /v1/zones answered an item without an id and a created_at');
    return { id: z.id, ms: new Date(ms).toISOString() };
  });
  const seen = new Set(from?.seen);
  return { rows, fresh: rows.filter((r) => !(r.ms === from?.ms && seen.has(r.id))), full: rows.length === limit };
}

function pageFrom(from: ListCursor | undefined, { rows, fresh, full }: ReadPage): ZonePage {
  if (!full) return { zones: fresh.map((r) => r.id), next: null };
  if (fresh.length === 0) {
    throw new Error(`more than ${MAX_ZONE_PAGE} zones were created at ${from!.ms}: Caracal's API cannot page past them (its cursor has millisecond precision), so the listing stops rather than miss zones`);
  }
  const last = rows[rows.length - 1]!;
  const sameMs = rows.filter((r) => r.ms === last.ms).map((r) => r.id);
  const carried = last.ms === from?.ms ? [...new Set([...from.seen, ...sameMs])] : sameMs;
  return { zones: fresh.map((r) => r.id), next: encode({ ms: last.ms, seen: carried }) };
}
