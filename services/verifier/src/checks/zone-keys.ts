import { fetchZoneJwks } from '@caracal-rotation/caracal-client';
import { importJWK } from 'jose';
import { fail, pass, requireNewKid, type Check, type CheckContext } from './context.js';
import { serviceUrl } from './fleet.js';

function zoneOf(ctx: CheckContext): string {
  if (!ctx.zoneId) throw new Error('the rotation names no zone');
  return ctx.zoneId;
}

/**
 * The zone's JWKS lists the new kid first (the STS signs with it at once)
 * and, at deploy, still the previous one, so mandates it signed keep
 * verifying (services/sts/internal/db.go GetZoneSigningKeySecrets).
 */
export const jwksNewKid: Check = async (ctx) => {
  const zone = zoneOf(ctx);
  const kid = requireNewKid(ctx);
  const jwks = await fetchZoneJwks(serviceUrl(ctx, 'sts'), zone, { signal: ctx.signal });
  const kids = jwks.keys.map((k) => k.kid);
  const seen = `JWKS of zone ${zone} answered ${jwks.status} with [${kids.join(', ')}]`;
  if (jwks.status !== 200) return fail(seen);
  if (kids[0] !== kid) return fail(`${seen}; the active key should be ${kid}`);
  if (ctx.phase === 'deploy' && ctx.previousKid && !kids.includes(ctx.previousKid)) return fail(`${seen}; the previous key ${ctx.previousKid} is gone, so mandates it signed no longer verify`);
  return pass(seen);
};

/** Every key of the zone's JWKS imports as an ES256 public key on P-256 (what relying parties do with jose). */
export const jwksKeysValid: Check = async (ctx) => {
  const zone = zoneOf(ctx);
  const jwks = await fetchZoneJwks(serviceUrl(ctx, 'sts'), zone, { signal: ctx.signal });
  if (jwks.status !== 200) return fail(`JWKS of zone ${zone} answered ${jwks.status}`);
  if (jwks.keys.length === 0) return fail(`JWKS of zone ${zone} lists no key`);
  const problems: string[] = [];
  for (const key of jwks.keys) {
    const raw = key as unknown as Record<string, unknown>;
    if (raw.kty !== 'EC' || raw.crv !== 'P-256') problems.push(`${key.kid}: ${String(raw.kty)}/${String(raw.crv)}, not EC/P-256`);
    else if ('d' in raw) problems.push(`${key.kid}: publishes a private part`);
    else if (raw.alg !== undefined && raw.alg !== 'ES256') problems.push(`${key.kid}: alg ${String(raw.alg)}`);
    else {
      try {
        await importJWK({ ...raw, alg: 'ES256' }, 'ES256');
      } catch (err) {
        problems.push(`${key.kid}: does not import (${(err as Error).name})`);
      }
    }
  }
  return problems.length ? fail(`JWKS of zone ${zone}: ${problems.join('; ')}`) : pass(`JWKS of zone ${zone}: ${jwks.keys.length} ES256 P-256 public keys (${jwks.keys.map((k) => k.kid).join(', ')})`);
};
