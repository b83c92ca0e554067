import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { AAD, type Keyring } from '../shared/css1.js';

/**
 * Zone signing keys as the STS keeps them (services/sts/internal/jwt.go,
 * db.go): ES256 P-256, kid a UUIDv7, the private key a SEC1 PEM sealed
 * CSS1 under the KEK with AAD caracal/secrets/zoneSigningKey, one `secrets`
 * row per version.
 */
export interface SecretRow {
  id: string;
  envelope: Buffer;
}

/**
 * KeyCache.RotateZoneSigningKey (jwt.go): a new version becomes the active
 * key. Caracal's KeyCache also caches decrypted keys for 15 minutes for token
 * issuance and validation; the replica issues no tokens, so it has nothing
 * to cache (the JWKS route reads the database on every request in Caracal too).
 */
export async function rotateZoneSigningKey(db: pg.Pool, keyring: Keyring, zoneId: string): Promise<SecretRow> {
  if (zoneId === '') throw new Error('zone_id required');
  const envelope = keyring.seal(newSigningKeyPem(), AAD.zoneSigningKey);
  return insertZoneSigningKeySecret(db, zoneId, envelope);
}

/** x509.MarshalECPrivateKey in an "EC PRIVATE KEY" PEM block. */
export function newSigningKeyPem(): Buffer {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return Buffer.from(privateKey.export({ type: 'sec1', format: 'pem' }) as string, 'utf8');
}

/** db.go InsertZoneSigningKeySecret: the next version, under the zone's advisory lock. */
export async function insertZoneSigningKeySecret(db: pg.Pool, zoneId: string, envelope: Buffer): Promise<SecretRow> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`zone_signing_key:${zoneId}`]);
    const { rows } = await client.query<{ id: string; envelope: Buffer }>(
      `WITH next AS (
         SELECT COALESCE(MAX(version), 0) + 1 AS version
         FROM secrets WHERE zone_id = $1 AND entity_id = $1 AND name = 'zone_signing_key'
       )
       INSERT INTO secrets (id, zone_id, entity_id, name, type, envelope, version)
       SELECT $2, $1, $1, 'zone_signing_key', 'token', $3, next.version FROM next
       RETURNING id, envelope`,
      [zoneId, uuidv7(), envelope],
    );
    await client.query('COMMIT');
    return rows[0]!;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** db.go GetZoneSigningKeySecrets: the active key, and the previous one while the active key is under 24 h old. */
export async function getZoneSigningKeySecrets(db: pg.Pool, zoneId: string): Promise<SecretRow[]> {
  const { rows } = await db.query<{ id: string; envelope: Buffer }>(
    `WITH ranked AS (
       SELECT id, envelope, created_at,
              row_number() OVER (ORDER BY version DESC, created_at DESC) AS key_rank
         FROM secrets
        WHERE zone_id = $1 AND name = 'zone_signing_key'
     ), active AS (
       SELECT created_at FROM ranked WHERE key_rank = 1
     )
     SELECT ranked.id, ranked.envelope
       FROM ranked CROSS JOIN active
      WHERE key_rank = 1 OR (key_rank = 2 AND active.created_at >= now() - interval '24 hours')
      ORDER BY key_rank`,
    [zoneId],
  );
  return rows;
}

export interface Jwk {
  kty: 'EC';
  crv: 'P-256';
  use: 'sig';
  kid: string;
  alg: 'ES256';
  x: string;
  y: string;
}

/** The public half of a PEM private key (jwt.ParseECPrivateKeyFromPEM, then BuildJWKS's fields in their order). */
export function publicJwk(pem: Buffer, kid: string): Jwk {
  const key: KeyObject = createPrivateKey({ key: pem, format: 'pem' });
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('key is not a P-256 EC key');
  const { x, y } = createPublicKey(key).export({ format: 'jwk' });
  return { kty: 'EC', crv: 'P-256', use: 'sig', kid, alg: 'ES256', x: x!, y: y! };
}
