/**
 * Docker reports times as Go's RFC3339Nano in UTC: nanosecond precision, the
 * fraction's trailing zeros trimmed (no dot at all when it is zero), and the
 * zero time `0001-01-01T00:00:00Z` for "never".
 */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

const wallAnchorNs = BigInt(Date.now()) * 1_000_000n;
const monotonicAnchorNs = process.hrtime.bigint();

/**
 * Wall-clock nanoseconds since the epoch, anchored once and advanced by the
 * monotonic clock, so two starts in the same millisecond still get ordered,
 * distinct StartedAt values (as Docker's do).
 */
export function nowNs(): bigint {
  return wallAnchorNs + (process.hrtime.bigint() - monotonicAnchorNs);
}

export function formatRfc3339Nano(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const seconds = new Date(Number(ms)).toISOString().slice(0, 19);
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${seconds}${fraction ? `.${fraction}` : ''}Z`;
}
