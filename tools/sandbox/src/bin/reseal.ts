import pg from 'pg';
import { AAD, envelopeKekId, kekId, tsLoadKeyring } from '../shared/css1.js';
import { resolveTsFileSecrets } from '../shared/file-secrets.js';

/**
 * The KEK re-seal job, apps/api/scripts/rotate-secret-store-kek.mjs: every
 * envelope not under the current SECRET_STORE_KEK is opened (current or
 * previous key, by the kekId it names) and sealed again under the current
 * one, each rewrite a compare-and-swap on the bytes read so a row a live
 * service rewrote meanwhile is left alone. It opens a plain pool: as the API
 * role, row-level security hides every sealed row and the job "succeeds"
 * having examined none.
 */
resolveTsFileSecrets(['DATABASE_URL', 'SECRET_STORE_KEK', 'SECRET_STORE_KEK_PREVIOUS']);
if (!process.env.DATABASE_URL) {
  console.error('DATABASE_URL is required');
  process.exit(1);
}
const keyring = tsLoadKeyring();
const currentKekId = kekId(keyring.current);

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
const totals = { resealed: 0, skipped: 0, raced: 0, failed: 0 };

function reseal(envelope: Buffer, aad: string): Buffer | null {
  if (envelopeKekId(envelope).equals(currentKekId)) return null;
  return keyring.seal(keyring.open(envelope, aad), aad);
}

interface Row {
  envelope: Buffer;
  keys: string[];
  ref?: string;
}

async function sweep(label: string, selectSql: string, updateSql: string, aadFor: (row: Row) => string): Promise<void> {
  const { rows } = await pool.query<Row>(selectSql);
  for (const row of rows) {
    try {
      const sealed = reseal(row.envelope, aadFor(row));
      if (!sealed) {
        totals.skipped++;
        continue;
      }
      const { rowCount } = await pool.query(updateSql, [sealed, row.envelope, ...row.keys]);
      if (rowCount === 1) totals.resealed++;
      else totals.raced++;
    } catch (err) {
      totals.failed++;
      console.error(`${label}: ${row.keys.join('/')}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  console.log(`${label}: ${rows.length} rows examined`);
}

await sweep(
  'secret_store',
  'SELECT ref, envelope, ARRAY[ref] AS keys FROM secret_store',
  'UPDATE secret_store SET envelope = $1, updated_at = now() WHERE envelope = $2 AND ref = $3',
  (row) => row.ref!,
);
await sweep(
  'secrets (zone signing keys)',
  `SELECT id, envelope, ARRAY[id] AS keys FROM secrets WHERE name = 'zone_signing_key'`,
  'UPDATE secrets SET envelope = $1, updated_at = now() WHERE envelope = $2 AND id = $3',
  () => AAD.zoneSigningKey,
);
await sweep(
  'provider_connections.access_token_ct',
  'SELECT id, access_token_ct AS envelope, ARRAY[id] AS keys FROM provider_connections WHERE access_token_ct IS NOT NULL',
  'UPDATE provider_connections SET access_token_ct = $1, updated_at = now() WHERE access_token_ct = $2 AND id = $3',
  () => AAD.connectionAccessToken,
);
await sweep(
  'provider_connections.refresh_token_ct',
  'SELECT id, refresh_token_ct AS envelope, ARRAY[id] AS keys FROM provider_connections WHERE refresh_token_ct IS NOT NULL',
  'UPDATE provider_connections SET refresh_token_ct = $1, updated_at = now() WHERE refresh_token_ct = $2 AND id = $3',
  () => AAD.connectionRefreshToken,
);
await sweep(
  'notification_sinks.secret_ct',
  'SELECT id, secret_ct AS envelope, ARRAY[id] AS keys FROM notification_sinks',
  'UPDATE notification_sinks SET secret_ct = $1, updated_at = now() WHERE secret_ct = $2 AND id = $3',
  () => AAD.notificationSinkSecret,
);
await sweep(
  'operator_plan_secrets',
  `SELECT conversation_id, plan_seq, step_id, envelope,
          ARRAY[conversation_id, plan_seq::text, step_id] AS keys
   FROM operator_plan_secrets WHERE expires_at > now()`,
  `UPDATE operator_plan_secrets SET envelope = $1
   WHERE envelope = $2 AND conversation_id = $3 AND plan_seq = $4::bigint AND step_id = $5`,
  () => AAD.operatorPlanSecrets,
);
// The external secret backends (CARACAL_SECRET_BACKEND other than builtin) are not part of the sandbox.

await pool.end();
console.log(`re-seal complete: ${totals.resealed} resealed, ${totals.skipped} already current, ${totals.raced} rewritten by live services, ${totals.failed} failed`);
if (totals.failed > 0) process.exit(1);
console.log('SECRET_STORE_KEK_PREVIOUS can now be removed from every service environment.');
