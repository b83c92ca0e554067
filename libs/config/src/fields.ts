import { formatDuration } from '@caracal-rotation/contracts';
import { z } from 'zod';
import { parseDurationMs } from './duration.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/caracal_rotation';

/**
 * An environment string turned into T by `parse`; when `parse` returns
 * undefined the variable is reported with `problem` (which must not quote the
 * value: it may be a secret).
 */
function parsedString<T>(parse: (raw: string) => T | undefined, problem: string) {
  return z.string().transform((raw, ctx): T => {
    const value = parse(raw.trim());
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return value;
  });
}

function urlWithProtocol(protocols: readonly string[]) {
  return (raw: string): string | undefined => {
    if (!URL.canParse(raw)) return undefined;
    return protocols.includes(new URL(raw).protocol) ? raw : undefined;
  };
}

/** A Redis URL (`redis://` or `rediss://`), default `redis://127.0.0.1:6379`. */
export function redisUrl(defaultUrl: string = DEFAULT_REDIS_URL) {
  return parsedString(urlWithProtocol(['redis:', 'rediss:']), 'must be a redis:// or rediss:// URL').default(defaultUrl);
}

/** A Postgres URL (`postgres://` or `postgresql://`), default the local `caracal_rotation` database. */
export function databaseUrl(defaultUrl: string = DEFAULT_DATABASE_URL) {
  return parsedString(urlWithProtocol(['postgres:', 'postgresql:']), 'must be a postgres:// or postgresql:// URL').default(
    defaultUrl,
  );
}

/** An optional Postgres URL: unset means the feature that reads it is off. */
export function optionalDatabaseUrl() {
  return parsedString(urlWithProtocol(['postgres:', 'postgresql:']), 'must be a postgres:// or postgresql:// URL').optional();
}

function parseIntInRange(min: number, max: number) {
  return (raw: string): number | undefined => {
    if (!/^\d+$/.test(raw)) return undefined;
    const value = Number(raw);
    return value >= min && value <= max ? value : undefined;
  };
}

/** A TCP port, 0..65535 (0 asks the OS for an ephemeral port). */
export function port(defaultPort: number) {
  return parsedString(parseIntInRange(0, 65_535), 'must be an integer port between 0 and 65535').default(defaultPort);
}

/** An integer of at least 1. */
export function positiveInt(defaultValue: number) {
  return parsedString(parseIntInRange(1, Number.MAX_SAFE_INTEGER), 'must be a positive integer').default(defaultValue);
}

/**
 * A duration in whole milliseconds: a bare integer is milliseconds, or a string
 * such as `250ms`, `30s`, `5m`, `1h`, `1m30s`. The default may be given either way.
 */
export function durationMs(defaultValue: number | string) {
  const fallback = typeof defaultValue === 'number' ? defaultValue : parseDurationMs(defaultValue);
  if (fallback === undefined) throw new TypeError(`durationMs: invalid default duration "${defaultValue}"`);
  return parsedString(parseDurationMs, 'must be a duration such as 250ms, 30s, 5m, 1h or an integer of milliseconds')
    .default(fallback)
    .meta({ defaultText: formatDuration(fallback) });
}


const BOOLEANS: Record<string, boolean> = { true: true, false: false, '1': true, '0': false };

/** A boolean written as `true`/`false`/`1`/`0` (case-insensitive). */
export function bool(defaultValue: boolean) {
  return parsedString((raw) => BOOLEANS[raw.toLowerCase()], 'must be true, false, 1 or 0').default(defaultValue);
}

/** A comma-separated list of `host:port` items (IPv6 hosts in brackets), e.g. Redis Cluster seed nodes; empty by default. */
export function hostPortList() {
  return csv().pipe(
    z.array(
      z.string().refine((item) => {
        const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(item);
        return match !== null && Number(match[2]) >= 1 && Number(match[2]) <= 65_535;
      }, 'must be a comma-separated list of host:port'),
    ),
  );
}

/** A comma-separated list; items are trimmed and empty items dropped. */
export function csv(defaultValue: readonly string[] = []) {
  return z
    .string()
    .transform((raw) =>
      raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== ''),
    )
    .default(() => [...defaultValue]);
}
