import { readFile } from 'node:fs/promises';
import type { RedisClient } from '@caracal-rotation/bus';

/** Resident memory of a process from /proc (Linux): now, and the peak since it started (VmHWM). */
export async function residentMemory(pid: number): Promise<{ rssBytes: number; peakBytes: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rssBytes: kib('VmRSS'), peakBytes: kib('VmHWM') };
}

/**
 * What the keys matching `*<fragment>*` take in Redis, key by key
 * (`MEMORY USAGE … SAMPLES 0`: every element counted), so a test sharing a
 * server can weigh its own keys and nothing else.
 */
export async function keysMemory(redis: RedisClient, fragment: string): Promise<{ total: number; byKey: Record<string, number> }> {
  const byKey: Record<string, number> = {};
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${fragment}*`, 'COUNT', 1000);
    for (const key of keys) byKey[key] = Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
    cursor = next;
  } while (cursor !== '0');
  return { total: Object.values(byKey).reduce((a, b) => a + b, 0), byKey };
}

export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The V8 heap a service reports on its /metrics (prom-client's default `nodejs_heap_size_*_bytes`). */
export async function reportedHeap(serviceUrl: string): Promise<{ usedBytes: number; totalBytes: number }> {
  const text = await (await fetch(`${serviceUrl}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { usedBytes: value('nodejs_heap_size_used_bytes'), totalBytes: value('nodejs_heap_size_total_bytes') };
}
