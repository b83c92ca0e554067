import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster, Redis } from 'ioredis';

/**
 * A private secrets directory (0700) with a fresh bus key, and any other
 * files asked for, written the way the secret store writes them (0444).
 */
export async function tempSecretsDir(files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'caracal-secrets-'));
  await chmod(dir, 0o700);
  const all = { streamsHmacKey: randomBytes(32).toString('hex'), ...files };
  for (const [name, value] of Object.entries(all)) {
    await writeFile(join(dir, name), value, { mode: 0o444 });
  }
  return dir;
}

export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
  /** `data` parsed as JSON when present. */
  data: Record<string, unknown>;
}

/** Every entry of a stream, oldest first, with `data` parsed. */
export async function readStream(redis: Redis | Cluster, stream: string): Promise<StreamEntry[]> {
  const entries = await redis.xrange(stream, '-', '+');
  return entries.map(([id, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    let data: Record<string, unknown> = {};
    try {
      data = fields.data ? (JSON.parse(fields.data) as Record<string, unknown>) : {};
    } catch {
      data = {};
    }
    return { id, fields, data };
  });
}

/**
 * Deletes every key with the given prefix (test clean-up). On a cluster, SCAN
 * runs on every master and each key is deleted on its own (a DEL of several
 * keys must stay within one slot).
 */
export async function deleteKeys(redis: Redis | Cluster, prefix: string): Promise<void> {
  // An empty or one-character prefix would match keys of other test files and of anything else sharing the server.
  if (prefix.replace(/[{}]/g, '').length < 4) throw new Error(`deleteKeys refuses the prefix ${JSON.stringify(prefix)}: too broad for a shared Redis`);
  if (redis.isCluster) {
    const cluster = redis as Cluster;
    if (cluster.status !== 'ready') await cluster.ping();
    for (const node of cluster.nodes('master')) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        await Promise.all(keys.map((key) => cluster.del(key)));
        cursor = next;
      } while (cursor !== '0');
    }
    return;
  }
  const standalone = redis as Redis;
  let cursor = '0';
  do {
    const [next, keys] = await standalone.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await standalone.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
