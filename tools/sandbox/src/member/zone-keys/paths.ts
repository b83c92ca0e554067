/**
 * The STS's zone signing-key surface as Caracal serves it
 * (CARACAL-INTEROP.md "Zone signing keys and JWKS"), plus the sandbox's own
 * admin endpoints. Exported for the orchestrator's writer and verifier.
 */
export const JWKS_PATH = '/.well-known/jwks.json';
export const JWKS_CACHE_CONTROL = 'public, max-age=300, must-revalidate';
export const ZONES_PATH = '/internal/zones';
export const MANDATES_PATH = '/internal/mandates';
export const MANDATE_VERIFY_PATH = '/internal/mandates/verify';
/** Consumer group of the STS on `caracal.keys.invalidate`. */
export const STS_KEYS_GROUP = 'sts-keys';

export const jwksUrlPath = (zoneId: string): string => `${JWKS_PATH}?zone_id=${encodeURIComponent(zoneId)}`;
export const rotateSigningKeyPath = (zoneId: string): string => `${ZONES_PATH}/${encodeURIComponent(zoneId)}/signing-key/rotate`;
export const retirePreviousSigningKeyPath = (zoneId: string): string => `${ZONES_PATH}/${encodeURIComponent(zoneId)}/signing-key/retire-previous`;

/** Redis keys of the zone key store (stand-in for Caracal's sealed Postgres rows). */
export function zoneKeyRedisKeys(namespace: string) {
  return {
    zone: (zoneId: string) => `${namespace}sandbox:sts:zones:${zoneId}`,
    /** Set of every zone id: the directory behind `GET /internal/zones`. */
    directory: `${namespace}sandbox:sts:zone-directory`,
  };
}
