import { readFile } from 'node:fs/promises';
import { listZonesPage } from '@caracal-rotation/caracal-client';
import type { ZoneLister } from './batch.js';

async function readToken(file: string): Promise<string | undefined> {
  try {
    const token = (await readFile(file, 'utf8')).trim();
    return token === '' ? undefined : token;
  } catch {
    return undefined;
  }
}

/**
 * Lists zones through Caracal's API with a read-capability admin token, read
 * from its file at every use (an operator may mint a new one). The planner
 * holds no other Caracal credential.
 */
export function apiZoneLister(apiUrl: string, tokenFile: string): ZoneLister {
  return {
    async problem() {
      return (await readToken(tokenFile)) ? undefined : `the zone reader token ${tokenFile} is missing: run caracal-rotate init --zone-reader`;
    },
    async page(cursor, limit) {
      const token = await readToken(tokenFile);
      if (!token) throw new Error(`the zone reader token ${tokenFile} is missing`);
      return listZonesPage(apiUrl, token, cursor, limit);
    },
  };
}
