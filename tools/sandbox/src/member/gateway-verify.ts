import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { GATEWAY_HEADERS, gatewaySignature, gatewaySignatureBase } from '@caracal-rotation/caracal-protocol';
import { errorMessage } from './log.js';
import type { MemberRedis } from './redis.js';

export const MAX_SKEW_SECONDS = 60;
export const NONCE_TTL_SECONDS = 120;

export interface ExchangeToVerify {
  headers: IncomingHttpHeaders;
  method: string;
  path: string;
  body: Buffer;
  keys: readonly Buffer[];
  redis: MemberRedis;
  noncePrefix: string;
  nowMs?: number;
}

export type ExchangeVerdict = { ok: true } | { ok: false; reason: string };

/**
 * The STS side of the Gateway exchange: fresh timestamp, well-formed nonce,
 * a signature under an accepted key, and only then the nonce burn, so an
 * unsigned request cannot burn a real gateway's nonce. Any Redis failure
 * denies the exchange (fail closed): without the burn a replay would pass.
 */
export async function verifyGatewayExchange(x: ExchangeToVerify): Promise<ExchangeVerdict> {
  const unix = header(x.headers, GATEWAY_HEADERS.timestamp);
  const nonce = header(x.headers, GATEWAY_HEADERS.nonce);
  const signature = header(x.headers, GATEWAY_HEADERS.signature);
  if (!unix || !nonce || !signature) return { ok: false, reason: 'missing_headers' };
  if (!/^\d{1,12}$/.test(unix)) return { ok: false, reason: 'bad_timestamp' };
  const skew = Math.abs((x.nowMs ?? Date.now()) / 1000 - Number(unix));
  if (skew > MAX_SKEW_SECONDS) return { ok: false, reason: 'timestamp_skew' };
  if (!/^[0-9a-fA-F]{64}$/.test(nonce)) return { ok: false, reason: 'bad_nonce' };
  if (!/^[0-9a-fA-F]{64}$/.test(signature)) return { ok: false, reason: 'bad_signature' };

  const base = gatewaySignatureBase(unix, nonce, x.method, x.path, x.body);
  const presented = Buffer.from(signature, 'hex');
  const signed = x.keys.some((key) => timingSafeEqual(Buffer.from(gatewaySignature(key, base), 'hex'), presented));
  if (!signed) return { ok: false, reason: 'bad_signature' };

  try {
    // Lowercased so that the same nonce in another letter case is still a replay.
    const burned = await x.redis.set(`${x.noncePrefix}${nonce.toLowerCase()}`, '1', 'EX', NONCE_TTL_SECONDS, 'NX');
    return burned === 'OK' ? { ok: true } : { ok: false, reason: 'nonce_replayed' };
  } catch (err) {
    return { ok: false, reason: `nonce_store_unavailable: ${errorMessage(err)}` };
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
