/**
 * A duration as people read it, everywhere the project shows one: `1.5s`,
 * `1m30s`, `1d2h` (at most the two largest units), or spaced for pages
 * (`350 ms`, `4.2 s`, `3 m 20 s`). Parsing (`250ms`, `5m`) is in libs/config.
 */
export function formatDuration(ms: number, options: { spaced?: boolean } = {}): string {
  const gap = options.spaced ? ' ' : '';
  if (options.spaced && ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${options.spaced ? (ms / 1000).toFixed(1) : Number((ms / 1000).toFixed(1))}${gap}s`;
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${gap}${unit}`);
      rest %= size;
    } else if (parts.length > 0) break;
  }
  return parts.join(gap);
}
