import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/**
 * A per-zone cache of the STS's JWKS (services/gateway/internal/jwks.go; the
 * coordinator's jose remote key set behaves alike): keys are kept for `ttlMs`,
 * an unknown kid refetches, at most once per `missCooldownMs`.
 */
export class JwksCache {
  private readonly zones = new Map<string, { keys: Map<string, KeyObject>; fetchedAt: number }>();
  private readonly lastMiss = new Map<string, number>();

  constructor(
    private readonly stsUrl: string,
    private readonly ttlMs: number,
    private readonly missCooldownMs: number,
  ) {}

  private cached(zone: string, kid: string): KeyObject | undefined {
    const z = this.zones.get(zone);
    return z && Date.now() - z.fetchedAt < this.ttlMs ? z.keys.get(kid) : undefined;
  }

  private async refresh(zone: string, forceMiss: boolean): Promise<void> {
    const z = this.zones.get(zone);
    if (z && Date.now() - z.fetchedAt < this.ttlMs && !forceMiss) return;
    if (forceMiss) {
      const last = this.lastMiss.get(zone);
      if (last !== undefined && Date.now() - last < this.missCooldownMs) throw new Error(`jwks miss cooldown for zone ${zone}`);
      this.lastMiss.set(zone, Date.now());
    }
    const res = await fetch(`${this.stsUrl}/.well-known/jwks.json?${new URLSearchParams({ zone_id: zone })}`, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) throw new Error(`jwks fetch status ${res.status}`);
    const doc = (await res.json()) as { keys?: unknown[] };
    const keys = new Map<string, KeyObject>();
    for (const raw of doc.keys ?? []) {
      const jwk = raw as { alg?: string; kid?: string; kty?: string; crv?: string; x?: string; y?: string };
      if (jwk.alg !== 'ES256' || !jwk.kid) continue;
      try {
        keys.set(jwk.kid, createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } as never, format: 'jwk' }));
      } catch {
        continue;
      }
    }
    if (keys.size === 0) throw new Error('jwks: no usable keys');
    this.zones.set(zone, { keys, fetchedAt: Date.now() });
  }

  /** Verifies an ES256 compact JWS with the zone's key named by its kid; throws what failed. */
  async verify(zone: string, token: string): Promise<void> {
    const [h, p, s] = token.split('.');
    const header = JSON.parse(Buffer.from(h!, 'base64url').toString('utf8')) as { alg?: string; kid?: string };
    if (header.alg !== 'ES256') throw new Error(`unsupported alg "${header.alg}"`);
    if (!header.kid) throw new Error('missing kid');
    let key = this.cached(zone, header.kid);
    if (!key) {
      await this.refresh(zone, false);
      key = this.cached(zone, header.kid);
    }
    if (!key) {
      await this.refresh(zone, true);
      key = this.cached(zone, header.kid);
    }
    if (!key) throw new Error(`kid "${header.kid}" not in jwks for zone ${zone}`);
    const sig = Buffer.from(s!, 'base64url');
    if (sig.length !== 64) throw new Error('invalid signature length');
    const digestInput = Buffer.from(`${h}.${p}`);
    if (!verify('sha256', digestInput, { key, dsaEncoding: 'ieee-p1363' }, sig)) throw new Error('signature mismatch');
  }
}
