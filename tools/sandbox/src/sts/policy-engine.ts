import type pg from 'pg';

/**
 * The per-zone bundle state of the STS's OPA engine (services/sts/internal/opa.go),
 * as far as GET /internal/policy/status reports it. A reload for a zone with
 * no active policy set binding installs the deny-all fallback, whose manifest
 * is "no_active_policy_set". The replica has no policy authoring (the API
 * routes that bind policy sets are not part of it), so a zone that does have
 * a binding is treated like one whose policy version cannot be loaded.
 */
export interface BundleInfo {
  policySetVersionId: string;
  manifestSha: string;
  loadedAt: number;
}

export class PolicyEngine {
  private readonly zones = new Map<string, BundleInfo>();

  constructor(private readonly db: pg.Pool) {}

  bundleInfo(zoneId: string): BundleInfo | undefined {
    return this.zones.get(zoneId);
  }

  private storeFallback(zoneId: string): void {
    this.zones.set(zoneId, { policySetVersionId: '', manifestSha: 'no_active_policy_set', loadedAt: Date.now() });
  }

  /** OPAEngine.Reload → loadZone. */
  async reload(zoneId: string): Promise<void> {
    let binding: { active_version_id: string } | undefined;
    try {
      const { rows } = await this.db.query<{ active_version_id: string }>(
        `SELECT zone_id, policy_set_id, active_version_id
         FROM policy_set_bindings
         WHERE zone_id = $1 AND active_version_id IS NOT NULL
         LIMIT 1`,
        [zoneId],
      );
      binding = rows[0];
    } catch (err) {
      // A transient error keeps a cached bundle; without one the zone gets deny-all.
      if (this.zones.has(zoneId)) return;
      this.storeFallback(zoneId);
      throw err;
    }
    if (!binding) {
      this.storeFallback(zoneId);
      return;
    }
    if (this.zones.has(zoneId)) return;
    this.storeFallback(zoneId);
    throw new Error(`policy set version ${binding.active_version_id}: policy compilation is not part of the sandbox`);
  }

  /** OPAEngine.MetricsSnapshot MaxPolicyAgeSeconds: the age of the oldest loaded bundle. */
  maxPolicyAgeSeconds(now = Date.now()): number {
    let max = 0;
    for (const info of this.zones.values()) max = Math.max(max, now - info.loadedAt);
    return max / 1000;
  }

  /** SeedZones: every zone with an active binding is loaded at start. */
  async seedZones(): Promise<void> {
    const { rows } = await this.db.query<{ zone_id: string }>('SELECT DISTINCT zone_id FROM policy_set_bindings WHERE active_version_id IS NOT NULL');
    for (const row of rows) await this.reload(row.zone_id).catch(() => undefined);
  }
}
