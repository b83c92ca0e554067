import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Fleet } from './supervisor/types.js';

export interface SeedOptions {
  /** Zones to create in the STS, each with a first signing key. */
  zones?: string[];
  /** How many zone secrets to seal in the API's store (needs the fleet's database). */
  sealedSecrets?: number;
}

async function post(url: string, token: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${new URL(url).pathname} answered ${res.status}: ${JSON.stringify(json).slice(0, 200)}`);
  return json;
}

/**
 * Gives a fresh sandbox something to rotate: zones with signing keys in the
 * STS, and zone secrets sealed under the current KEK in the API's store.
 * Idempotent: existing zones and refs are kept.
 */
export async function seedSandbox(fleet: Fleet, secretsDir: string, opts: SeedOptions): Promise<void> {
  const token = async (file: string) => (await readFile(join(secretsDir, file), 'utf8')).trim();
  const zones = opts.zones ?? [];
  for (let i = 0; i < zones.length; i += 1000) {
    await post(`${fleet.url('sts')}/internal/zones`, await token('stsAdminToken'), { zone_ids: zones.slice(i, i + 1000) });
  }
  const admin = await token('caracalAdminToken');
  for (let i = 0; i < (opts.sealedSecrets ?? 0); i++) {
    await post(`${fleet.url('api')}/internal/sealed`, admin, { ref: `zone-secret-${i}`, purpose: 'zone.client_secret', value: `sandbox-zone-secret-${i}` });
  }
}
