/** Counters served on /internal/stats, so tests and the verifier can see what a member did. */
export const COUNTER_NAMES = [
  'revocations_applied',
  'invalid_signature',
  'events_ingested',
  'hmac_verify_failed',
  'exchanges_ok',
  'exchanges_denied',
  'keys_invalidated',
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];

export class Stats {
  private readonly counts = new Map<CounterName, number>();

  /** Only the counters a member declares appear in its snapshot. */
  constructor(names: readonly CounterName[]) {
    for (const name of names) this.counts.set(name, 0);
  }

  inc(name: CounterName): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}
