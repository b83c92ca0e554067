/**
 * The KEK re-seal job as its own process, like Caracal's
 * rotate-secret-store-kek script:
 *   node tools/sandbox/dist/reseal.js [--batch N] [--pause-ms N]
 * Reads SECRET_STORE_KEK(_FILE) (or ZONE_KEK), SECRET_STORE_KEK_PREVIOUS(_FILE)
 * and DATABASE_URL. Prints one JSON line per committed batch and a final one,
 * with counts and refs only. Exit 0 when no row failed, 1 otherwise (including
 * bad configuration). Safe to kill at any point and to run again.
 */
import { parseArgs } from 'node:util';
import { errorMessage } from '../member/log.js';
import { Material } from '../member/material.js';
import { openSealedPool } from '../sealed/db.js';
import { kekKeyringOf } from '../sealed/kek-keyring.js';
import { resealAll } from '../sealed/reseal.js';

function fail(message: string): never {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: message })}\n`);
  process.exit(1);
}

function wholeNumber(value: string | undefined, fallback: number, name: string, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`${name} must be a whole number of at least ${min}`);
  return n;
}

let args;
try {
  args = parseArgs({ options: { batch: { type: 'string' }, 'pause-ms': { type: 'string' } }, strict: true }).values;
} catch (err) {
  fail(errorMessage(err));
}
const batchSize = wholeNumber(args.batch, 100, '--batch', 1);
const pauseMs = wholeNumber(args['pause-ms'], 0, '--pause-ms', 0);

const material = Material.load(['SECRET_STORE_KEK'], process.env, true, {});
if (!material.ok) fail(material.problems.join('; '));
const keyring = kekKeyringOf(material);
if (!keyring) fail('SECRET_STORE_KEK is not loaded');
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) fail('DATABASE_URL is not set');

const pool = openSealedPool(databaseUrl, (err) => process.stderr.write(`${JSON.stringify({ level: 'warn', msg: 'postgres connection error', error: err.message })}\n`));
let failed = 1;
try {
  const totals = await resealAll(pool, keyring, {
    batchSize,
    pauseMs,
    onBatch: (batch) => console.log(JSON.stringify(batch)),
  });
  console.log(JSON.stringify({ done: true, kek_id: keyring.currentId, ...totals }));
  failed = totals.failed;
} catch (err) {
  process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'reseal job failed', error: errorMessage(err) })}\n`);
} finally {
  await pool.end().catch(() => undefined);
}
process.exit(failed === 0 ? 0 : 1);
