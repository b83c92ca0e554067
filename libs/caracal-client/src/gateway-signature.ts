import { createHash, createHmac, randomBytes } from 'node:crypto';
import { decodeHexKey } from '@caracal-rotation/bus';

/** packages/core/go/sts/gateway_auth.go: the three headers of a gateway-signed request. */
export const GATEWAY_TIMESTAMP_HEADER = 'X-Caracal-Gateway-Timestamp';
export const GATEWAY_REQUEST_HEADER = 'X-Caracal-Gateway-Request';
export const GATEWAY_SIGNATURE_HEADER = 'X-Caracal-Gateway-Signature';

/**
 * Signs a request the way Caracal's gateway signs what it sends the STS
 * (packages/core/go/sts/gateway_auth.go SignGatewayExchange): hex
 * HMAC-SHA256, keyed with the hex-decoded GATEWAY_STS_HMAC_KEY, over
 * `{unix}\n{nonce}\n{METHOD}\n{escaped path}\n{hex sha256(body)}`. The STS
 * allows 60 s of skew and burns each nonce once it verified
 * (services/sts/internal/gateway_nonce.go), so every request gets a fresh one.
 */
export function gatewaySignedHeaders(keyHex: string, method: string, escapedPath: string, body: string | Uint8Array = '', now = Date.now()): Record<string, string> {
  const unix = String(Math.floor(now / 1000));
  const nonce = randomBytes(16).toString('hex');
  const digest = createHash('sha256').update(body).digest('hex');
  const signature = createHmac('sha256', decodeHexKey(keyHex)).update(`${unix}\n${nonce}\n${method.toUpperCase()}\n${escapedPath}\n${digest}`, 'utf8').digest('hex');
  return { [GATEWAY_TIMESTAMP_HEADER]: unix, [GATEWAY_REQUEST_HEADER]: nonce, [GATEWAY_SIGNATURE_HEADER]: signature };
}
