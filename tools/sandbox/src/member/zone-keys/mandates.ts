import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import type { PublicZoneJwk } from './keys.js';

export const MANDATE_ISSUER = 'caracal-sts';
export const MAX_MANDATE_TTL_SECONDS = 24 * 60 * 60;

export interface MandateClaims {
  zoneId: string;
  subject: string;
  ttlSeconds: number;
}

/** A compact ES256 JWS naming its key in the header, as a relying party expects. */
export async function signMandate(key: Parameters<SignJWT['sign']>[0], kid: string, claims: MandateClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ zone_id: claims.zoneId })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid })
    .setIssuer(MANDATE_ISSUER)
    .setSubject(claims.subject)
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + claims.ttlSeconds)
    .sign(key);
}

export type MandateVerdict = { valid: true; kid: string | null } | { valid: false; kid: string | null; error: string };

/**
 * Verifies the way a relying party does: only through the zone's JWKS as
 * served, so a mandate whose kid left the JWKS is refused
 * (`ERR_JWKS_NO_MATCHING_KEY`). Errors are jose's codes, not messages.
 */
export async function verifyMandate(mandate: string, zoneId: string, jwks: readonly PublicZoneJwk[]): Promise<MandateVerdict> {
  let kid: string | null = null;
  try {
    kid = decodeProtectedHeader(mandate).kid ?? null;
  } catch {
    return { valid: false, kid, error: 'ERR_JWS_INVALID' };
  }
  try {
    const { payload } = await jwtVerify(mandate, createLocalJWKSet({ keys: [...jwks] }), { algorithms: ['ES256'], issuer: MANDATE_ISSUER });
    if (payload.zone_id !== zoneId) return { valid: false, kid, error: 'zone_mismatch' };
    return { valid: true, kid };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return { valid: false, kid, error: typeof code === 'string' ? code : 'verification_failed' };
  }
}
