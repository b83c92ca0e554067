/** Nearest-rank percentile of an unsorted sample (p in 0..100); NaN for an empty sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  const mean = n ? values.reduce((a, b) => a + b, 0) / n : Number.NaN;
  return { n, p50: percentile(values, 50), p90: percentile(values, 90), p99: percentile(values, 99), max: n ? values.reduce((a, b) => (b > a ? b : a), -Infinity) : Number.NaN, mean };
}

/** Milliseconds part of a stream entry id (the Redis server's clock when the entry was added). */
export const entryMs = (id: string): number => Number(id.slice(0, id.indexOf('-')));

export const round = (x: number, digits = 1): number => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : x);
