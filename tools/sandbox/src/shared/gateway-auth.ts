import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The gateway → STS exchange signature (packages/core/go/sts/gateway_auth.go):
 * hex HMAC-SHA256 under GATEWAY_STS_HMAC_KEY over
 * `{unix}\n{requestID}\n{METHOD}\n{path}\n{hex sha256(body)}`.
 */
export const GATEWAY_TIMESTAMP_HEADER = 'x-caracal-gateway-timestamp';
export const GATEWAY_REQUEST_HEADER = 'x-caracal-gateway-request';
export const GATEWAY_SIGNATURE_HEADER = 'x-caracal-gateway-signature';

function payload(unix: bigint, requestId: string, method: string, path: string, body: Buffer): string {
  const digest = createHash('sha256').update(body).digest('hex');
  return `${unix}\n${requestId}\n${method.toUpperCase()}\n${path}\n${digest}`;
}

export function signGatewayExchange(key: Buffer, unixSeconds: number, requestId: string, method: string, path: string, body: Buffer): string {
  return createHmac('sha256', key).update(payload(BigInt(unixSeconds), requestId, method, path, body)).digest('hex');
}

/** corests.VerifyGatewayExchange; returns the error text, or undefined when the signature holds. */
export function verifyGatewayExchange(
  key: Buffer,
  nowMs: number,
  maxSkewSeconds: number,
  timestamp: string,
  requestId: string,
  signature: string,
  method: string,
  path: string,
  body: Buffer,
): string | undefined {
  if (key.length === 0) return 'gateway exchange key not configured';
  if (timestamp === '' || requestId === '' || signature === '') return 'gateway exchange signature headers missing';
  // strconv.ParseInt(timestamp, 10, 64)
  if (!/^[+-]?\d+$/.test(timestamp)) return 'gateway exchange timestamp invalid';
  const unix = BigInt(timestamp);
  if (unix > 9223372036854775807n || unix < -9223372036854775808n) return 'gateway exchange timestamp invalid';
  const skewMs = Number(unix) * 1000 - nowMs;
  if (Math.abs(skewMs) > maxSkewSeconds * 1000) return 'gateway exchange timestamp outside skew';
  if (signature.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(signature)) return 'gateway exchange signature invalid';
  const got = Buffer.from(signature, 'hex');
  const want = createHmac('sha256', key).update(payload(unix, requestId, method, path, body)).digest();
  if (got.length !== want.length || !timingSafeEqual(got, want)) return 'gateway exchange signature mismatch';
  return undefined;
}

/** The gateway's exchange nonce (services/gateway/internal/safety.go newExchangeNonce): 32 random bytes, hex. */
export function newExchangeNonce(): string {
  return randomBytes(32).toString('hex');
}
