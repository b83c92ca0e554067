/**
 * Platform timestamps compared exactly: Docker reports Go's RFC3339Nano
 * (nanoseconds), Kubernetes RFC 3339 in whole seconds. Date.parse would drop
 * everything below a millisecond, and two restarts can share one.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Nanoseconds since the epoch, or null when the text is not RFC 3339. */
export function parseRfc3339Ns(text: string): bigint | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [, year, month, day, hour, minute, second, fraction = '', zone] = m;
  let ms = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
  if (Number.isNaN(ms)) return null;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone!.startsWith('-') ? -1 : 1;
    const [h, min] = zone!.slice(1).split(':').map(Number) as [number, number];
    ms -= sign * (h * 60 + min) * 60_000;
  }
  return BigInt(ms) * 1_000_000n + BigInt(fraction.padEnd(9, '0'));
}

export const dateNs = (date: Date): bigint => BigInt(date.getTime()) * 1_000_000n;

/** The date truncated to its second, for comparisons with times the platform reports in whole seconds. */
export const wholeSecondNs = (date: Date): bigint => (BigInt(date.getTime()) / 1000n) * 1_000_000_000n;
