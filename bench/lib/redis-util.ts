import type { Redis } from '@caracal-rotation/bus';

export interface RawEntry {
  id: string;
  fields: Record<string, string>;
}

const toFields = (flat: string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
};

/** Every entry of a stream, oldest first, read in chunks. */
export async function readAll(redis: Redis, stream: string, chunk = 2000): Promise<RawEntry[]> {
  const out: RawEntry[] = [];
  let start = '-';
  for (;;) {
    const entries = await redis.xrange(stream, start, '+', 'COUNT', chunk);
    for (const [id, flat] of entries) out.push({ id, fields: toFields(flat) });
    if (entries.length < chunk) return out;
    start = `(${entries[entries.length - 1]![0]}`;
  }
}

/** Deletes every key matching `pattern` (a SCAN glob). */
export async function deleteMatching(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 2000);
    if (keys.length > 0) n += await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  return n;
}

/** Globs treat `*?[]\` specially; our prefixes contain none, but escape anyway. */
export const globEscape = (s: string): string => s.replace(/([*?[\]\\])/g, '\\$1');

export interface GroupInfo {
  name: string;
  pending: number;
  lag: number | null;
  lastDeliveredId: string;
}

export async function groupsOf(redis: Redis, stream: string): Promise<GroupInfo[]> {
  try {
    const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    return groups.map((g) => {
      const o: Record<string, unknown> = {};
      for (let i = 0; i + 1 < g.length; i += 2) o[String(g[i])] = g[i + 1];
      return { name: String(o.name), pending: Number(o.pending ?? 0), lag: o.lag === null || o.lag === undefined ? null : Number(o.lag), lastDeliveredId: String(o['last-delivered-id']) };
    });
  } catch {
    return [];
  }
}
