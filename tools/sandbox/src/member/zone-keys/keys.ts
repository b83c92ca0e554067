import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

/** The public half as the JWKS serves it, in Caracal's field order. */
export interface PublicZoneJwk {
  kty: 'EC';
  crv: 'P-256';
  use: 'sig';
  alg: 'ES256';
  kid: string;
  x: string;
  y: string;
}

/**
 * One zone signing key as stored. `jwk` holds the private scalar `d`: it is
 * sandbox state (Caracal keeps it sealed in Postgres) and must never be logged
 * or returned.
 */
export interface ZoneKey {
  kid: string;
  /** Epoch ms; the JWKS overlap window runs from the active key's creation. */
  created_at: number;
  jwk: { kty: 'EC'; crv: 'P-256'; x: string; y: string; d: string };
}

/** A fresh ES256 key; `kid` is a UUIDv7 like Caracal's. */
export function generateZoneKey(now = Date.now()): ZoneKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { x, y, d } = privateKey.export({ format: 'jwk' });
  if (!x || !y || !d) throw new Error('P-256 key export lacks coordinates');
  return { kid: uuidv7({ msecs: now }), created_at: now, jwk: { kty: 'EC', crv: 'P-256', x, y, d } };
}

export function publicJwk(key: ZoneKey): PublicZoneJwk {
  return { kty: 'EC', crv: 'P-256', use: 'sig', alg: 'ES256', kid: key.kid, x: key.jwk.x, y: key.jwk.y };
}

export function signingKeyObject(key: ZoneKey): KeyObject {
  return createPrivateKey({ key: key.jwk, format: 'jwk' });
}

export function parseZoneKey(text: string | undefined | null): ZoneKey | undefined {
  if (!text) return undefined;
  const parsed = JSON.parse(text) as ZoneKey;
  if (typeof parsed.kid !== 'string' || typeof parsed.created_at !== 'number' || typeof parsed.jwk?.d !== 'string') {
    throw new Error('stored zone key is malformed');
  }
  return parsed;
}

const ZONE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Zone ids the store accepts; `*` (the planner's "every zone") is not one. */
export function isZoneId(value: unknown): value is string {
  return typeof value === 'string' && ZONE_ID.test(value);
}
