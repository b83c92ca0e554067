import { createHash, createHmac, randomBytes } from 'node:crypto';
import { decodeHexKey } from '@caracal-rotation/bus';

/**
 * The Gateway → STS exchange signature (CARACAL-INTEROP.md "Gateway to STS
 * exchange"). Shared by the sandbox gateway, the sandbox STS and anyone who
 * needs to prove that a key is accepted or refused.
 */

export const GATEWAY_HEADERS = {
  timestamp: 'x-caracal-gateway-timestamp',
  nonce: 'x-caracal-gateway-request',
  signature: 'x-caracal-gateway-signature',
} as const;

export const GATEWAY_EXCHANGE_PATH = '/oauth/2/token';

export interface GatewayExchangeRequest {
  method: string;
  path: string;
  body?: string | Uint8Array;
  /** Epoch milliseconds or a Date; defaults to now. */
  now?: number | Date;
  /** 64 lowercase hex characters; a fresh one by default. */
  nonce?: string;
}

export function gatewaySignatureBase(unixSeconds: string, nonce: string, method: string, path: string, body: string | Uint8Array): string {
  const bodyHash = createHash('sha256').update(body).digest('hex');
  return `${unixSeconds}\n${nonce}\n${method.toUpperCase()}\n${path}\n${bodyHash}`;
}

export function gatewaySignature(key: Buffer, base: string): string {
  return createHmac('sha256', key).update(base, 'utf8').digest('hex');
}

/** Headers that make `request` a signed gateway exchange under `keyHex`. */
export function signGatewayExchange(keyHex: string, request: GatewayExchangeRequest): Record<string, string> {
  const now = request.now instanceof Date ? request.now.getTime() : (request.now ?? Date.now());
  const unix = String(Math.floor(now / 1000));
  const nonce = request.nonce ?? randomBytes(32).toString('hex');
  const base = gatewaySignatureBase(unix, nonce, request.method, request.path, request.body ?? '');
  return {
    [GATEWAY_HEADERS.timestamp]: unix,
    [GATEWAY_HEADERS.nonce]: nonce,
    [GATEWAY_HEADERS.signature]: gatewaySignature(decodeHexKey(keyHex), base),
  };
}
