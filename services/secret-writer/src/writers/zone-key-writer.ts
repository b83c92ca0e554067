import { keyInvalidationFields, fieldArgs } from '@caracal-rotation/caracal-protocol';
import type { RedisClient } from '@caracal-rotation/bus';
import { caracalStreams, zoneRotationStateKey, type HoldersConfig } from '@caracal-rotation/contracts';
import type { SecretStore } from '@caracal-rotation/secrets';
import type { MaterialWriter, WriteContext, WriteOutcome } from './material-writer.js';
import { stsClient, type StsClient } from './sts-client.js';
import type { Phase } from './types.js';
import { WriteRefused } from './write-refused.js';

const STATE_TTL_SECONDS = 30 * 24 * 3600;

/**
 * Rotates a zone's signing key inside the STS (writer `sts-zone-key`). The
 * STS generates and seals the key; this writer asks for the rotation, keeps
 * the JWKS overlap until retirement, and then retires the previous key.
 *
 * Idempotency: the old kid is recorded before anything changes, and the STS
 * is asked to rotate only while the zone's active kid is still that old kid,
 * so a retried deploy never rotates twice.
 */
export class ZoneKeyWriter implements MaterialWriter {
  private readonly sts: StsClient;
  private readonly jwksUrl: string;

  constructor(
    private readonly store: SecretStore,
    private readonly holders: HoldersConfig,
    private readonly redis: RedisClient,
    private readonly streamPrefix: string,
  ) {
    const target = holders.zones ?? { sts: 'sts', admin_token_file: 'stsAdminToken', canary_ttl_seconds: 3600 };
    const sts = holders.holders[target.sts];
    if (!sts) throw new Error(`holder ${target.sts} (the STS of zone keys) is not in CARACAL_HOLDERS`);
    this.jwksUrl = new URL('/.well-known/jwks.json', sts.url).toString();
    this.sts = stsClient(sts.url, async () => {
      const token = await store.read(target.admin_token_file);
      if (!token) throw new WriteRefused(`${store.pathOf(target.admin_token_file)} (STS_ADMIN_TOKEN) is missing`);
      return token;
    });
  }

  async write(phase: Phase, { rotationId, plan }: WriteContext): Promise<WriteOutcome> {
    const zone = plan.zone_id;
    if (!zone) throw new WriteRefused('a zone signing key rotation needs a zone');
    const stateKey = zoneRotationStateKey(this.streamPrefix, rotationId);
    const location = `${this.jwksUrl}?zone_id=${encodeURIComponent(zone)}`;

    if (phase === 'rollback') {
      throw new WriteRefused(
        `zone ${zone}: a signing key is not rolled back; the previous key keeps verifying through the JWKS until it is retired. Rotate again to replace a bad key.`,
      );
    }
    const old = await this.oldKid(stateKey, zone);

    if (phase === 'deploy' || phase === 'stage') {
      await this.mintCanary(stateKey, zone, rotationId);
      const next = await this.rotateOnce(stateKey, zone, old);
      await this.invalidateCaches(zone);
      return { new: { kid: next, location }, previous: { kid: old }, changed: true };
    }

    const next = await this.redis.hget(stateKey, 'new');
    if (!next) throw new WriteRefused(`zone ${zone}: nothing records which key this rotation deployed; retire refused`);
    const outcome = await this.sts.retirePrevious(zone, old);
    if (outcome === 'conflict') throw new WriteRefused(`zone ${zone}: the STS's previous key is not ${old}; another rotation replaced it`);
    await this.invalidateCaches(zone);
    return { new: { kid: next, location }, previous: { kid: old }, changed: true };
  }

  private async oldKid(stateKey: string, zone: string): Promise<string> {
    const recorded = await this.redis.hget(stateKey, 'old');
    if (recorded) return recorded;
    const active = await this.sts.activeKid(zone);
    if (!active) throw new WriteRefused(`zone ${zone} has no signing key in the STS`);
    await this.redis.hsetnx(stateKey, 'old', active);
    await this.redis.expire(stateKey, STATE_TTL_SECONDS);
    return (await this.redis.hget(stateKey, 'old'))!;
  }

  /** A mandate signed with the old key, so the verifier can prove it verifies during the overlap and fails after. */
  private async mintCanary(stateKey: string, zone: string, rotationId: string): Promise<void> {
    if (await this.redis.hexists(stateKey, 'canary')) return;
    const ttl = this.holders.zones?.canary_ttl_seconds ?? 3600;
    await this.redis.hsetnx(stateKey, 'canary', await this.sts.mintMandate(zone, `rotation-canary:${rotationId}`, ttl));
  }

  private async rotateOnce(stateKey: string, zone: string, old: string): Promise<string> {
    const recorded = await this.redis.hget(stateKey, 'new');
    if (recorded) return recorded;
    const active = await this.sts.activeKid(zone);
    // Still the old key: rotate. Otherwise an earlier attempt rotated and died before recording.
    const next = active === old ? await this.sts.rotate(zone) : active;
    if (!next) throw new WriteRefused(`zone ${zone} lost its signing key during the rotation`);
    await this.redis.hsetnx(stateKey, 'new', next);
    return (await this.redis.hget(stateKey, 'new'))!;
  }

  /** `caracal.keys.invalidate {zone_id}` clears the STS replicas' key caches. */
  private async invalidateCaches(zone: string): Promise<void> {
    const stream = caracalStreams(this.holders.caracal_namespace).keysInvalidate;
    const key = await this.store.read('streamsHmacKey');
    if (!key) return;
    await this.redis.xadd(stream, '*', ...fieldArgs(keyInvalidationFields(stream, key, zone)));
  }
}
