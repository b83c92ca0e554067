import { gatewaySignedHeaders } from './gateway-signature.js';
import { caracalRequest, routeUrl, unexpectedAnswer } from './http.js';

export type PolicyStatus = { status: 200; loaded: boolean } | { status: 401; loaded: undefined };

/**
 * The STS's `GET /internal/policy/status/{zone}`, signed as the gateway signs
 * (services/sts/internal/simulation.go handlePolicyStatus): 200
 * `{"zone_id","loaded"}` when the signature holds under the STS's
 * GATEWAY_STS_HMAC_KEY, 401 `access_denied` when it does not. It changes
 * nothing in the STS but the nonce it burns (120 s).
 */
export async function fetchPolicyStatus(stsUrl: string, gatewayKeyHex: string, zoneId: string, opts: { signal?: AbortSignal } = {}): Promise<PolicyStatus> {
  const path = routeUrl('policyStatus', { baseUrl: stsUrl, params: { zone: zoneId } }).pathname;
  const res = await caracalRequest('policyStatus', { baseUrl: stsUrl, params: { zone: zoneId }, headers: gatewaySignedHeaders(gatewayKeyHex, 'GET', path), signal: opts.signal });
  if (res.status === 401) return { status: 401, loaded: undefined };
  const loaded = (res.json as { loaded?: unknown } | undefined)?.loaded;
  if (res.status !== 200 || typeof loaded !== 'boolean') throw unexpectedAnswer('policyStatus', res);
  return { status: 200, loaded };
}
