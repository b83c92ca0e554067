/** The few STS endpoints the zone-key writer and the verifier use (CARACAL-INTEROP "Zone signing keys and JWKS"). */
export interface StsClient {
  activeKid(zoneId: string): Promise<string | undefined>;
  rotate(zoneId: string): Promise<string>;
  retirePrevious(zoneId: string, kid: string): Promise<'retired' | 'already' | 'conflict'>;
  mintMandate(zoneId: string, subject: string, ttlSeconds: number): Promise<string>;
}

export function stsClient(baseUrl: string, adminToken: () => Promise<string>): StsClient {
  const call = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(new URL(path, baseUrl), {
      ...init,
      headers: { authorization: `Bearer ${await adminToken()}`, 'content-type': 'application/json', ...init.headers },
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    return { status: res.status, body };
  };
  const zonePath = (zoneId: string, action: string) => `/internal/zones/${encodeURIComponent(zoneId)}/signing-key/${action}`;
  return {
    async activeKid(zoneId) {
      const { status, body } = await call(`/.well-known/jwks.json?zone_id=${encodeURIComponent(zoneId)}`);
      if (status === 404) return undefined;
      if (status !== 200) throw new Error(`JWKS of zone ${zoneId} answered ${status}`);
      return (body.keys as { kid: string }[])[0]?.kid;
    },
    async rotate(zoneId) {
      const { status, body } = await call(zonePath(zoneId, 'rotate'), { method: 'POST', body: '{}' });
      if (status !== 200 || typeof body.kid !== 'string') throw new Error(`STS rotate of zone ${zoneId} answered ${status}`);
      return body.kid;
    },
    async retirePrevious(zoneId, kid) {
      const { status, body } = await call(zonePath(zoneId, 'retire-previous'), { method: 'POST', body: JSON.stringify({ kid }) });
      if (status === 409) return 'conflict';
      if (status !== 200) throw new Error(`STS retire-previous of zone ${zoneId} answered ${status}`);
      return body.retired === true ? 'retired' : 'already';
    },
    async mintMandate(zoneId, subject, ttlSeconds) {
      const { status, body } = await call('/internal/mandates', { method: 'POST', body: JSON.stringify({ zone_id: zoneId, subject, ttl_seconds: ttlSeconds }) });
      if (status !== 200 || typeof body.mandate !== 'string') throw new Error(`STS mandate for zone ${zoneId} answered ${status}`);
      return body.mandate;
    },
  };
}
