import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';

/** Helpers shared by this package's tests (not exported from the package). */

export function uniqueNamespace(): string {
  return `t-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}:`;
}

export function testRedis(): Redis {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set; run the tests through vitest (its global setup sets it)');
  return new Redis(url, { protocol: 2, maxRetriesPerRequest: 3 });
}

/** Deletes every key of a test namespace (streams take their groups with them). */
export async function dropNamespace(redis: Redis, namespace: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** Polls until `probe` returns a value other than undefined/false. */
export async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function getJson(url: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export function postJson(url: string, body: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return getJson(url, { method: 'POST', headers, body: JSON.stringify(body) });
}

export async function readSecretFile(secretsDir: string, fileName: string): Promise<string> {
  return (await fs.readFile(path.join(secretsDir, fileName), 'utf8')).trim();
}

/** Replaces a 0444 secret file the way the secret-writer does: temp file, then rename. */
export async function writeSecretFile(secretsDir: string, fileName: string, value: string): Promise<void> {
  const temp = path.join(secretsDir, `.${fileName}.tmp-${randomBytes(4).toString('hex')}`);
  await fs.writeFile(temp, value, { mode: 0o444 });
  await fs.rename(temp, path.join(secretsDir, fileName));
}

/** Entries of a stream as `{id, fields}`. */
export async function streamEntries(redis: Redis, stream: string): Promise<{ id: string; fields: Record<string, string> }[]> {
  const entries = await redis.xrange(stream, '-', '+');
  return entries.map(([id, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
    return { id, fields };
  });
}
