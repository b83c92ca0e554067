import type { KeyObject } from 'node:crypto';
import { execAll, isClusterConnection, type MemberRedis } from '../redis.js';
import { generateZoneKey, parseZoneKey, signingKeyObject, type ZoneKey } from './keys.js';
import { zoneKeyRedisKeys } from './paths.js';

export interface ZoneKeys {
  active: ZoneKey;
  previous?: ZoneKey;
}

// Atomic so that two rotations of one zone cannot both demote the same key.
const ROTATE = `
local active = redis.call('HGET', KEYS[1], 'active')
if active then redis.call('HSET', KEYS[1], 'previous', active) end
redis.call('HSET', KEYS[1], 'active', ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return active`;

// ROTATE without the directory, whose key lies in another slot on a cluster.
const ROTATE_ZONE_ONLY = `
local active = redis.call('HGET', KEYS[1], 'active')
if active then redis.call('HSET', KEYS[1], 'previous', active) end
redis.call('HSET', KEYS[1], 'active', ARGV[1])
return active`;

// ARGV[1]: the kid the caller means to retire, or '' for whichever is previous.
const RETIRE_PREVIOUS = `
if redis.call('HEXISTS', KEYS[1], 'active') == 0 then return {'no_zone'} end
local previous = redis.call('HGET', KEYS[1], 'previous')
if not previous then return {'none'} end
if ARGV[1] ~= '' and cjson.decode(previous).kid ~= ARGV[1] then return {'kid_mismatch', previous} end
redis.call('HDEL', KEYS[1], 'previous')
return {'retired', previous}`;

export type RetireOutcome = { status: 'retired'; kid: string } | { status: 'none' | 'no_zone' } | { status: 'kid_mismatch'; kid: string };

const MAX_CACHED_SIGNERS = 10_000;

/**
 * Per-zone signing keys in Redis, one hash per zone, so every request costs
 * O(1) commands whatever the number of zones. Records are always read fresh;
 * only imported private keys are cached, by kid (a kid's key never changes),
 * and `caracal.keys.invalidate` drops a zone's.
 */
export class ZoneKeyStore {
  private readonly keys: ReturnType<typeof zoneKeyRedisKeys>;
  private readonly signers = new Map<string, { kid: string; key: KeyObject }>();

  constructor(
    private readonly redis: MemberRedis,
    namespace: string,
  ) {
    this.keys = zoneKeyRedisKeys(namespace);
  }

  async get(zoneId: string): Promise<ZoneKeys | undefined> {
    const [active, previous] = await this.redis.hmget(this.keys.zone(zoneId), 'active', 'previous');
    const activeKey = parseZoneKey(active);
    if (!activeKey) return undefined;
    const previousKey = parseZoneKey(previous);
    return previousKey ? { active: activeKey, previous: previousKey } : { active: activeKey };
  }

  /** A new active key; the old active becomes previous. Creates the zone if needed. */
  async rotate(zoneId: string): Promise<ZoneKeys> {
    const active = generateZoneKey();
    let demoted: unknown;
    if (isClusterConnection(this.redis)) {
      // A script cannot span two slots: the zone's keys atomically, then its directory entry (idempotent).
      demoted = await this.redis.eval(ROTATE_ZONE_ONLY, 1, this.keys.zone(zoneId), JSON.stringify(active));
      await this.redis.sadd(this.keys.directory, zoneId);
    } else {
      demoted = await this.redis.eval(ROTATE, 2, this.keys.zone(zoneId), this.keys.directory, JSON.stringify(active), zoneId);
    }
    this.signers.delete(zoneId);
    const previous = parseZoneKey(demoted as string | null);
    return previous ? { active, previous } : { active };
  }

  async retirePrevious(zoneId: string, expectedKid = ''): Promise<RetireOutcome> {
    const [status, retired] = (await this.redis.eval(RETIRE_PREVIOUS, 1, this.keys.zone(zoneId), expectedKid)) as [string, string?];
    if (status === 'retired' || status === 'kid_mismatch') return { status, kid: (parseZoneKey(retired) as ZoneKey).kid };
    return { status: status === 'no_zone' ? 'no_zone' : 'none' };
  }

  /** Gives each zone without a key its first one; existing zones are left alone. */
  async createZones(zoneIds: readonly string[]): Promise<{ created: number; existing: number }> {
    const unique = [...new Set(zoneIds)];
    if (isClusterConnection(this.redis)) return this.createZonesOnCluster(unique);
    const exists = unique.length ? await this.redis.pipeline(unique.map((id) => ['hexists', this.keys.zone(id), 'active'])).exec() : [];
    const missing = unique.filter((_, i) => exists?.[i]?.[1] !== 1);
    if (missing.length === 0) return { created: 0, existing: unique.length };
    const multi = this.redis.multi();
    // HSETNX: a zone created by a concurrent request keeps the key it got.
    for (const id of missing) multi.hsetnx(this.keys.zone(id), 'active', JSON.stringify(generateZoneKey()));
    multi.sadd(this.keys.directory, ...unique);
    const results = await execAll(multi);
    const created = results.filter(([, set], i) => i < missing.length && set === 1).length;
    return { created, existing: unique.length - created };
  }

  /**
   * createZones where a pipeline or MULTI may not span slots: the zones' keys
   * by separate commands (sent together), then the directory. HSETNX keeps
   * the answer per zone exact under concurrent requests.
   */
  private async createZonesOnCluster(unique: string[]): Promise<{ created: number; existing: number }> {
    const exists = await Promise.all(unique.map((id) => this.redis.hexists(this.keys.zone(id), 'active')));
    const missing = unique.filter((_, i) => exists[i] !== 1);
    if (missing.length === 0) return { created: 0, existing: unique.length };
    const set = await Promise.all(missing.map((id) => this.redis.hsetnx(this.keys.zone(id), 'active', JSON.stringify(generateZoneKey()))));
    await this.redis.sadd(this.keys.directory, ...unique);
    const created = set.filter((n) => n === 1).length;
    return { created, existing: unique.length - created };
  }

  async listZones(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.directory)).sort();
  }

  /** The imported private key of the zone's active key. */
  signer(zoneId: string, active: ZoneKey): KeyObject {
    const cached = this.signers.get(zoneId);
    if (cached?.kid === active.kid) return cached.key;
    const key = signingKeyObject(active);
    if (this.signers.size >= MAX_CACHED_SIGNERS) this.signers.clear();
    this.signers.set(zoneId, { kid: active.kid, key });
    return key;
  }

  /** Drops cached key material of the zone (`caracal.keys.invalidate`). */
  invalidate(zoneId: string): void {
    this.signers.delete(zoneId);
  }
}
