import { BASELINE_CHECKS, type CheckName, type CheckResult, type Phase } from '@caracal-rotation/contracts';

const BASELINE: ReadonlySet<CheckName> = new Set(BASELINE_CHECKS);

/**
 * The baseline checks (every holder ready, audit ingestion, revocation
 * propagation, the Gateway exchange) are about the fleet, not about one zone:
 * the zones of a batch verify the same phase within seconds of each other,
 * and probing the fleet once per zone would only load it. One run per batch
 * and phase serves every zone verified within `shareForMs`; each zone's
 * result says which run it shares. A run that found a problem is not handed
 * on, and the zones that were waiting for it run the baseline once more:
 * only a problem seen twice fails them. Zone checks (the JWKS of the zone)
 * run per zone as always.
 */
export class SharedBaseline {
  private readonly runs = new Map<string, { at: number; results: Promise<CheckResult[]> }>();

  constructor(private readonly shareForMs: number) {}

  /**
   * The phase's checks: the baseline from a run shared with the batch (or a
   * fresh one), the others from `run`, in the order `names` gives.
   */
  async check(names: readonly CheckName[], batch: { batchId?: string; phase: Phase }, run: (names: readonly CheckName[]) => Promise<CheckResult[]>, retried = false): Promise<CheckResult[]> {
    const baseline = names.filter((n) => BASELINE.has(n));
    if (!batch.batchId || baseline.length === 0 || this.shareForMs === 0) return run(names);
    const own = names.filter((n) => !BASELINE.has(n));
    const key = `${batch.batchId}/${batch.phase}/${baseline.join(',')}`;
    this.forgetOld();
    let shared = this.runs.get(key);
    const mine = !shared;
    if (!shared) {
      shared = { at: Date.now(), results: run(baseline) };
      this.runs.set(key, shared);
      // A failing run is not handed to the zones that come later.
      shared.results.then(
        (results) => results.every((r) => r.ok) || this.runs.delete(key),
        () => this.runs.delete(key),
      );
    }
    if (!mine && !retried && !(await shared.results.then((rs) => rs.every((r) => r.ok), () => false))) {
      // A zone that only joined a run which found a problem probes the fleet once more
      // itself (through a new shared run): one glitch fails the zone that met it, not
      // every zone verified while it lasted.
      return this.check(names, batch, run, true);
    }
    const [fleet, zone] = await Promise.all([shared.results, own.length ? run(own) : Promise.resolve([])]);
    const when = new Date(shared.at).toISOString();
    const byName = new Map<string, CheckResult>([
      ...fleet.map((r) => [r.name, mine ? r : { ...r, detail: `${r.detail} (the batch's baseline run at ${when}, shared)`.slice(0, 4000) }] as const),
      ...zone.map((r) => [r.name, r] as const),
    ]);
    return names.map((n) => byName.get(n)!);
  }

  private forgetOld(): void {
    const now = Date.now();
    for (const [key, entry] of this.runs) if (now - entry.at >= this.shareForMs) this.runs.delete(key);
  }
}
