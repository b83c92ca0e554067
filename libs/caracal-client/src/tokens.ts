import { caracalRequest, unexpectedAnswer } from './http.js';

export type TokenVerdict = 'accepted' | 'refused' | 'rate_limited';

/**
 * Whether Caracal's API takes an admin token: `GET /v1/zones?limit=1` →
 * 200 accepted, 401 `invalid_admin_token` refused (apps/api/src/auth.ts
 * lookupAdminToken, routes/zones.ts). More than 60 refusals a minute from one
 * address answer 429, which proves nothing either way.
 */
export async function probeAdminToken(apiUrl: string, token: string, opts: { signal?: AbortSignal } = {}): Promise<{ verdict: TokenVerdict; status: number }> {
  const res = await caracalRequest('listZones', { baseUrl: apiUrl, query: { limit: 1 }, headers: { authorization: `Bearer ${token}` }, signal: opts.signal });
  if (res.status === 200) return { verdict: 'accepted', status: 200 };
  if (res.status === 401) return { verdict: 'refused', status: 401 };
  if (res.status === 429) return { verdict: 'rate_limited', status: 429 };
  throw unexpectedAnswer('listZones', res);
}

/**
 * Whether the coordinator takes its operator token: `GET /stats` → 200
 * accepted, 403 `operator_token_required` refused
 * (apps/coordinator/src/auth.ts matchesOperatorToken, OPERATOR_TOKEN_PATHS).
 */
export async function probeCoordinatorToken(coordinatorUrl: string, token: string, opts: { signal?: AbortSignal } = {}): Promise<{ verdict: Exclude<TokenVerdict, 'rate_limited'>; status: number }> {
  const res = await caracalRequest('coordinatorStats', { baseUrl: coordinatorUrl, headers: { authorization: `Bearer ${token}` }, signal: opts.signal });
  if (res.status === 200) return { verdict: 'accepted', status: 200 };
  if (res.status === 403) return { verdict: 'refused', status: 403 };
  throw unexpectedAnswer('coordinatorStats', res);
}
