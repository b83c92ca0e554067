import { readFile } from 'node:fs/promises';

/**
 * Every zone the STS knows, for `zone_id: "*"`. The directory endpoint needs
 * the STS admin token; the planner reads that one file and nothing else of
 * the secrets directory.
 */
export interface ZoneDirectory {
  list(): Promise<string[]>;
}

export function httpZoneDirectory(url: string, tokenFile: string | undefined): ZoneDirectory {
  return {
    async list() {
      const token = tokenFile ? (await readFile(tokenFile, 'utf8')).trim() : undefined;
      const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(15_000) });
      if (!res.ok) throw new Error(`zone directory ${new URL(url).pathname} answered ${res.status}`);
      const body = (await res.json()) as { zones?: unknown };
      if (!Array.isArray(body.zones) || !body.zones.every((z) => typeof z === 'string')) throw new Error('zone directory answered without a zones list');
      return body.zones as string[];
    },
  };
}
