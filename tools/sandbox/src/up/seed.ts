import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { AAD, sealEnvelope } from '../shared/css1.js';
import { readSecretFile } from './secrets.js';

/**
 * What a fresh sandbox holds before anyone rotates anything.
 *
 * Zones are created the way Caracal creates them: POST /v1/zones on the API
 * with the admin token (apps/api/src/routes/zones.ts). Creating a zone writes
 * no signing key; Caracal's STS creates one lazily on the first token it
 * issues (services/sts/internal/jwt.go getKeyAndKid → generateZoneSigningKey)
 * and its JWKS route answers 404 until then. The sandbox issues no tokens, so
 * it gives each zone, the reserved system zone included, its first key
 * through the STS's own POST /internal/zones/{z}/signing-key/rotate, then
 * reads each zone's JWKS once.
 *
 * Sealed values in the other tables the KEK re-seal walks are inserted
 * directly as the admin role (Caracal writes them through provider, sink and
 * Operator flows the sandbox does not replicate), sealed CSS1 under the
 * current KEK with each column's AAD.
 */
export interface SeedResult {
  zones: string[];
  systemZone: string;
}

/**
 * The API allows each address API_V1_RATE_LIMIT_PER_MIN requests to /v1 per
 * minute of its Redis clock and answers 429 past it, with no Retry-After:
 * seeding more zones than that waits for the next minute, as any client of
 * Caracal must.
 */
const RATE_LIMIT_WAIT_MS = 1_000;
const RATE_LIMIT_GIVE_UP_MS = 90_000;

async function call(url: string, init: RequestInit, expect: number): Promise<Record<string, unknown>> {
  const giveUpAt = Date.now() + RATE_LIMIT_GIVE_UP_MS;
  for (;;) {
    const res = await fetch(url, init);
    const text = await res.text();
    if (res.status === 429 && Date.now() < giveUpAt) {
      await new Promise((r) => setTimeout(r, RATE_LIMIT_WAIT_MS));
      continue;
    }
    if (res.status !== expect) throw new Error(`${init.method ?? 'GET'} ${new URL(url).pathname} answered ${res.status}: ${text.slice(0, 200)}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  }
}

/** Seeding is many small requests: a few at a time, results in the items' order. */
async function inParallel<T, R>(items: readonly T[], work: (item: T) => Promise<R>, concurrency = 8): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

export async function seedSandbox(opts: { secretsDir: string; apiUrl: string; stsUrl: string; adminDbUrl: string; zones: number }): Promise<SeedResult> {
  const admin = await readSecretFile(opts.secretsDir, 'caracalAdminToken');
  const stsAdmin = await readSecretFile(opts.secretsDir, 'stsAdminToken');
  const zones = await inParallel(Array.from({ length: opts.zones }, (_, i) => i + 1), async (i) => {
    const zone = await call(
      `${opts.apiUrl}/v1/zones`,
      { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: `sandbox zone ${i}` }) },
      201,
    );
    return zone.id as string;
  });
  const db = new pg.Client({ connectionString: opts.adminDbUrl });
  await db.connect();
  try {
    // The API provisions the reserved system zone right after it starts listening.
    let systemZone: string | undefined;
    for (let i = 0; i < 100 && !systemZone; i++) {
      systemZone = (await db.query<{ id: string }>(`SELECT id FROM zones WHERE slug = 'caracal-sys-internal'`)).rows[0]?.id;
      if (!systemZone) await new Promise((r) => setTimeout(r, 100));
    }
    if (!systemZone) throw new Error('the API did not provision the reserved system zone');
    await inParallel([systemZone, ...zones], async (zone) => {
      await call(`${opts.stsUrl}/internal/zones/${encodeURIComponent(zone)}/signing-key/rotate`, { method: 'POST', headers: { authorization: `Bearer ${stsAdmin}` } }, 200);
      await call(`${opts.stsUrl}/.well-known/jwks.json?zone_id=${encodeURIComponent(zone)}`, {}, 200);
    });
    const kek = Buffer.from(await readSecretFile(opts.secretsDir, 'secretStoreKek'), 'hex');
    const seal = (aad: string) => sealEnvelope(kek, randomBytes(24), aad);
    // Two sealed values per zone, inserted a page of zones at a time.
    for (let start = 0; start < zones.length; start += 500) {
      const rows = zones.slice(start, start + 500).flatMap((zone) => [`zones/${zone}/applications/${uuidv7()}/clientSecret`, `zones/${zone}/workloads/${uuidv7()}/secret`].map((ref) => [ref, zone, seal(ref)] as const));
      await db.query(
        `INSERT INTO secret_store (ref, zone_id, envelope) SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])`,
        [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2])],
      );
    }
    const first = zones[0];
    if (first) {
      await db.query(
        `INSERT INTO provider_connections (id, zone_id, subject_id, provider_id, access_token_ct, refresh_token_ct, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + interval '1 hour')`,
        [uuidv7(), first, `subject-${uuidv7()}`, uuidv7(), seal(AAD.connectionAccessToken), seal(AAD.connectionRefreshToken)],
      );
      await db.query(`INSERT INTO notification_sinks (id, zone_id, name, url, secret_ct, event_types) VALUES ($1, $2, 'sandbox sink', 'https://sink.invalid/hook', $3, ARRAY['audit'])`, [
        uuidv7(),
        first,
        seal(AAD.notificationSinkSecret),
      ]);
      await db.query(
        `INSERT INTO operator_plan_secrets (conversation_id, zone_id, plan_seq, step_id, envelope, secret_keys, expires_at)
         VALUES ($1, $2, 1, 'step-1', $3, ARRAY['api_key'], now() + interval '7 days')`,
        [uuidv7(), first, seal(AAD.operatorPlanSecrets)],
      );
    }
    return { zones, systemZone };
  } finally {
    await db.end();
  }
}
