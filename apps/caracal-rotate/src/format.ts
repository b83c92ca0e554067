import { formatDuration } from '@caracal-rotation/contracts';

/** Small human formats shared by the commands; JSON output never uses them. */

/** 1500 → "1.5s", 600000 → "10m", 93600000 → "1d2h": windows span milliseconds to months. */
export const duration = (ms: number): string => formatDuration(ms);

export const age = (seconds: number | null | undefined): string => (seconds === null || seconds === undefined ? '-' : duration(seconds * 1000));

export const shortKid = (kid: string | null | undefined): string => (kid ? kid.slice(0, 16) : '-');

export const dash = (value: string | number | null | undefined): string => (value === null || value === undefined || value === '' ? '-' : String(value));

/** "zone z1", "role api" or "-": where a rotation applies. */
export const scopeOf = (r: { zoneId?: string | null; role?: string | null }): string => (r.zoneId ? `zone ${r.zoneId}` : r.role ? `role ${r.role}` : '-');

/** Milliseconds since the epoch in a UUIDv7 (rotation ids are UUIDv7); undefined otherwise. */
export function uuidv7Time(id: string): number | undefined {
  const hex = id.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex) || hex[12] !== '7') return undefined;
  return parseInt(hex.slice(0, 12), 16);
}

export const isUuid = (id: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
