import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/**
 * A SCRAM-SHA-256 verifier in Postgres' stored form
 * (`SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`), as psql's
 * `\password` computes it: put into `PASSWORD '…'`, it keeps the cleartext
 * out of the server's statement log. SASLprep leaves printable ASCII
 * unchanged (Caracal's hex passwords); any other password is returned as is
 * for the server to hash. The secret-writer's postgres-role writer does the same.
 */
export function scramPasswordLiteral(password: string): string {
  if (!/^[\x20-\x7e]+$/.test(password)) return password;
  const iterations = 4096;
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const storedKey = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
