import { describe, expect, it } from 'vitest';
import { formatDuration } from './durations.js';

describe('formatDuration', () => {
  it.each([
    [500, '0.5s', '500 ms'],
    [4_200, '4.2s', '4.2 s'],
    [60_000, '1m', '1 m'],
    [90_000, '1m30s', '1 m 30 s'],
    [4_500_000, '1h15m', '1 h 15 m'],
    [18_000_000, '5h', '5 h'],
    [93_600_000, '1d2h', '1 d 2 h'],
  ])('%d ms is %s, or %s on a page', (ms, compact, spaced) => {
    expect(formatDuration(ms)).toBe(compact);
    expect(formatDuration(ms, { spaced: true })).toBe(spaced);
  });
});
