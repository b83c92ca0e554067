import { caracalRequest, unexpectedAnswer } from './http.js';

/** Caracal's API caps a page at 500 (apps/api/src/routes/list-pagination.ts MAX_LIST_LIMIT). */
export const MAX_ZONE_PAGE = 500;

export interface ZonePage {
  zones: string[];
  /** Where the next page starts; null on the last page. */
  next: string | null;
}

/**
 * One page of the zones Caracal's API lists: every non-archived zone but the
 * reserved system zone (apps/api/src/routes/zones.ts). A read-capability
 * admin token is enough.
 */
export async function listZonesPage(apiUrl: string, token: string, cursor: string | null, limit = MAX_ZONE_PAGE, opts: { signal?: AbortSignal } = {}): Promise<ZonePage> {
  const res = await caracalRequest('listZones', {
    baseUrl: apiUrl,
    query: { limit: Math.min(limit, MAX_ZONE_PAGE), cursor: cursor ?? undefined },
    headers: { authorization: `Bearer ${token}` },
    signal: opts.signal,
  });
  if (res.status !== 200) throw unexpectedAnswer('listZones', res);
  const body = res.json as { items?: { id?: unknown }[]; next_cursor?: unknown } | undefined;
  if (!body || !Array.isArray(body.items)) throw new Error('GET /v1/zones answered 200 without an items list');
  const zones = body.items.map((z) => z.id).filter((id): id is string => typeof id === 'string');
  return { zones, next: typeof body.next_cursor === 'string' && body.next_cursor !== '' ? body.next_cursor : null };
}
