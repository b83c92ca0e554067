import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { argon2id, argon2Verify } from 'hash-wasm';
import type pg from 'pg';
import { v7 as uuidv7 } from 'uuid';

/**
 * Admin tokens as apps/api/src/auth.ts keeps them: a row per token with its
 * SHA-256 (the lookup key) and an Argon2id verifier (hash-secret.ts PARAMS:
 * m=64 MiB, t=3, p=2, 32-byte output, PHC string), revoked by setting
 * revoked_at, never un-revoked.
 */

export type Capability = 'read' | 'write' | 'approve';

export interface Actor {
  id: string;
  name: string;
  scope: 'global' | 'zone';
  capability: Capability;
  zoneId: string | null;
  createdBy: string;
}

export const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export async function hashAdminToken(token: string): Promise<string> {
  return argon2id({ password: token, salt: randomBytes(16), parallelism: 2, iterations: 3, memorySize: 65536, hashLength: 32, outputType: 'encoded' });
}

async function verifyAdminTokenHash(token: string, hash: string): Promise<boolean> {
  try {
    return await argon2Verify({ password: token, hash });
  } catch {
    return false;
  }
}

/** lookupAdminToken: an unrevoked row with this SHA-256 whose Argon2id verifier accepts the token. */
export async function lookupAdminToken(db: pg.Pool, plaintext: string): Promise<Actor | null> {
  const digest = sha256(plaintext);
  const { rows } = await db.query<{ id: string; name: string; scope: Actor['scope']; capability: Capability; zone_id: string | null; created_by: string; token_sha256: Buffer; token_hash: string | null }>(
    `SELECT id, name, scope, capability, zone_id, created_by, token_sha256, token_hash, revoked_at
     FROM admin_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL LIMIT 1`,
    [digest],
  );
  const row = rows[0];
  if (!row) return null;
  if (row.token_sha256.length !== digest.length || !timingSafeEqual(row.token_sha256, digest)) return null;
  if (!row.token_hash || !(await verifyAdminTokenHash(plaintext, row.token_hash))) return null;
  return { id: row.id, name: row.name, scope: row.scope, capability: row.capability, zoneId: row.zone_id, createdBy: row.created_by };
}

/**
 * seedBootstrapAdminToken: the env token's row (created_by env-bootstrap) is
 * created when missing, then every OTHER env-bootstrap row is revoked. An
 * existing row is never un-revoked, so restarting with an older token locks
 * that token out too.
 */
export async function seedBootstrapAdminToken(db: pg.Pool, envToken: string | null, log: (msg: string) => void): Promise<void> {
  if (!envToken) return;
  const digest = sha256(envToken);
  const revokeStale = () => db.query(`UPDATE admin_tokens SET revoked_at = now() WHERE created_by = 'env-bootstrap' AND revoked_at IS NULL AND token_sha256 <> $1`, [digest]);
  const { rows } = await db.query<{ id: string; token_hash: string | null }>('SELECT id, token_hash FROM admin_tokens WHERE token_sha256 = $1 LIMIT 1', [digest]);
  const row = rows[0];
  if (row?.token_hash) {
    await revokeStale();
    return;
  }
  const tokenHash = await hashAdminToken(envToken);
  if (row) {
    await db.query('UPDATE admin_tokens SET token_hash = $1 WHERE id = $2 AND token_hash IS NULL', [tokenHash, row.id]);
    await revokeStale();
    log(`seeded bootstrap admin token verifier id=${row.id}`);
    return;
  }
  const id = uuidv7();
  await db.query(
    `INSERT INTO admin_tokens (id, name, token_sha256, token_hash, scope, zone_id, created_by)
     VALUES ($1, 'bootstrap', $2, $3, 'global', NULL, 'env-bootstrap')`,
    [id, digest, tokenHash],
  );
  await revokeStale();
  log(`seeded bootstrap admin token id=${id}`);
}

/** packages/serverCore/ts/src/consoleToken.ts: `cat_` + base64url(HMAC-SHA256(key = the token's text, label)). */
export function deriveConsoleToken(adminToken: string, label: 'read-only' | 'write' | 'approve'): string {
  return `cat_${createHmac('sha256', adminToken).update(`caracal:console:${label}:v1`).digest('base64url')}`;
}

const CONSOLE_TOKENS = [
  { label: 'read-only', name: 'console-read-only', capability: 'read', createdBy: 'env-derived', logLabel: 'seeded console read-only admin token' },
  { label: 'write', name: 'console-write', capability: 'write', createdBy: 'env-derived-write', logLabel: 'seeded console write admin token' },
  { label: 'approve', name: 'console-approve', capability: 'approve', createdBy: 'env-derived-approve', logLabel: 'seeded console approve admin token' },
] as const;

/** seedConsoleReadToken / WriteToken / ApproveToken: the three derived rows, each revoking its own creator's older rows. */
export async function seedConsoleTokens(db: pg.Pool, envToken: string | null, log: (msg: string) => void): Promise<void> {
  if (!envToken) return;
  for (const meta of CONSOLE_TOKENS) {
    const derived = deriveConsoleToken(envToken, meta.label);
    const digest = sha256(derived);
    const { rows } = await db.query<{ token_hash: string | null }>('SELECT token_hash FROM admin_tokens WHERE token_sha256 = $1 LIMIT 1', [digest]);
    if (!rows[0]) {
      await db.query(
        `INSERT INTO admin_tokens (id, name, token_sha256, token_hash, scope, capability, zone_id, created_by)
         VALUES ($1, $2, $3, $4, 'global', $5, NULL, $6)`,
        [uuidv7(), meta.name, digest, await hashAdminToken(derived), meta.capability, meta.createdBy],
      );
      log(meta.logLabel);
    } else if (!rows[0].token_hash) {
      await db.query('UPDATE admin_tokens SET token_hash = $1 WHERE token_sha256 = $2 AND token_hash IS NULL', [await hashAdminToken(derived), digest]);
    }
    await db.query('UPDATE admin_tokens SET revoked_at = now() WHERE created_by = $1 AND revoked_at IS NULL AND token_sha256 <> $2', [meta.createdBy, digest]);
  }
}

/** admin-tokens.ts generateAdminToken */
export const generateAdminToken = (): string => `cat_${randomBytes(32).toString('base64url')}`;
