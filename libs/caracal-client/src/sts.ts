import { caracalRequest, unexpectedAnswer } from './http.js';

/** A public key as the STS's JWKS lists it (services/sts/internal/jwt.go). */
export interface ZoneJwk {
  kty: string;
  crv?: string;
  kid: string;
  alg?: string;
  use?: string;
  x?: string;
  y?: string;
}

export type JwksAnswer = { status: 200; keys: ZoneJwk[]; cacheControl: string | null } | { status: number; keys: []; body: string };

/** The zone's JWKS: active key first, the previous one while the active key is under 24 h old. */
export async function fetchZoneJwks(stsUrl: string, zoneId: string, opts: { signal?: AbortSignal } = {}): Promise<JwksAnswer> {
  const res = await caracalRequest('jwks', { baseUrl: stsUrl, query: { zone_id: zoneId }, signal: opts.signal });
  if (res.status !== 200) return { status: res.status, keys: [], body: res.text.slice(0, 300) };
  const keys = (res.json as { keys?: unknown } | undefined)?.keys;
  if (!Array.isArray(keys)) throw new Error(`the JWKS of zone ${zoneId} has no keys list`);
  return { status: 200, keys: keys.filter((k): k is ZoneJwk => typeof (k as ZoneJwk)?.kid === 'string'), cacheControl: res.headers.get('cache-control') };
}

/**
 * Asks the STS to make a new signing key the zone's active one. The previous
 * key stays in the JWKS for 24 h; there is no route to retire or reactivate
 * a key.
 */
export async function rotateZoneSigningKey(stsUrl: string, adminToken: string, zoneId: string): Promise<{ kid: string }> {
  const res = await caracalRequest('rotateZoneSigningKey', { baseUrl: stsUrl, params: { zone: zoneId }, headers: { authorization: `Bearer ${adminToken}` } });
  if (res.status === 404) throw new Error('the STS answered 404 to the rotate route: STS_ADMIN_TOKEN is not set on the STS (Caracal\'s compose file leaves it empty)');
  if (res.status === 401) throw new Error('the STS refused the admin token (401): the stsAdminToken in the store is not the STS\'s STS_ADMIN_TOKEN');
  const kid = (res.json as { kid?: unknown } | undefined)?.kid;
  if (res.status !== 200 || typeof kid !== 'string') throw unexpectedAnswer('rotateZoneSigningKey', res);
  return { kid };
}
