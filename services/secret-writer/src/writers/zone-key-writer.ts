import { TransientError } from '@caracal-rotation/bus';
import { fetchZoneJwks, rotateZoneSigningKey } from '@caracal-rotation/caracal-client';
import type { HoldersConfig, Phase } from '@caracal-rotation/contracts';
import type { SecretStore } from '@caracal-rotation/secrets';
import type { PhaseOutcome } from '../rotation-record.js';
import { WriteRefused, type MaterialWriter, type WriteContext } from './material-writer.js';

/**
 * Rotates a zone's signing key through the one route Caracal has for it,
 * `POST /internal/zones/{z}/signing-key/rotate` on the STS
 * (services/sts/internal/server.go), with STS_ADMIN_TOKEN from the store.
 *
 * - deploy: the active kid is noted in the rotation's record first; a retry
 *   that finds another kid active knows the STS already rotated and does not
 *   rotate again (a second rotation would drop the first previous key from
 *   the JWKS early, breaking mandates it signed).
 * - retire: nothing to call. The STS keeps listing the previous key for 24 h
 *   and then drops it by itself (services/sts/internal/db.go).
 * - rollback: impossible; the plan says so and this writer refuses.
 */
export class ZoneKeyWriter implements MaterialWriter {
  constructor(
    private readonly store: SecretStore,
    private readonly holders: HoldersConfig,
  ) {}

  private stsUrl(): string {
    const sts = this.holders.services.sts;
    if (!sts) throw new WriteRefused('the holders file lists no sts service: zone keys rotate on the STS');
    return sts.url;
  }

  async write(phase: Phase, ctx: WriteContext): Promise<PhaseOutcome> {
    const zone = ctx.zoneId;
    if (!zone) throw new WriteRefused(`${ctx.plan.material} needs a zone`);
    const location = `sts:${zone}`;
    if (phase === 'retire') {
      const { oldKid, newKid } = ctx.state.zone ?? {};
      return { new: { kid: newKid ?? 'unknown', location }, previous: oldKid ? { kid: oldKid } : undefined, changed: false };
    }
    if (phase !== 'deploy') throw new WriteRefused(`a zone signing key has no ${phase} phase: ${ctx.plan.rollback.why}`);

    const sts = this.stsUrl();
    const jwks = await fetchZoneJwks(sts, zone);
    if (jwks.status >= 500) throw new TransientError(`the JWKS of zone ${zone} answered ${jwks.status}`);
    const active = jwks.keys[0]?.kid;

    let oldKid = ctx.state.zone?.oldKid;
    if (oldKid === undefined) {
      if (jwks.keys.length >= 2 && !ctx.plan.emergency) {
        throw new WriteRefused(
          `zone ${zone} was rotated less than 24 h ago (its JWKS still lists the previous key ${jwks.keys[1]!.kid}); rotating again now would drop that key before mandates it signed expire. Request it as an emergency to rotate anyway.`,
          'recently_rotated',
        );
      }
      oldKid = active ?? 'none';
      await ctx.note({ zone: { oldKid } });
    }
    let newKid = ctx.state.zone?.newKid;
    if (!newKid) {
      if (active && active !== oldKid) {
        newKid = active;
      } else {
        const token = await this.store.read(this.holders.zones?.admin_token_file ?? 'stsAdminToken');
        if (!token) throw new WriteRefused(`the STS admin token ${this.store.location(this.holders.zones?.admin_token_file ?? 'stsAdminToken')} is missing`);
        try {
          newKid = (await rotateZoneSigningKey(sts, token, zone)).kid;
        } catch (err) {
          // A zone the STS never heard of fails inside the STS; its JWKS said so first.
          if (jwks.status === 404 && err instanceof TransientError) throw new WriteRefused(`the STS could not rotate zone ${zone}, which has no signing key yet: is it a zone of this Caracal?`, 'unknown_zone');
          throw err instanceof TransientError || err instanceof WriteRefused ? err : new WriteRefused((err as Error).message);
        }
      }
      await ctx.note({ zone: { oldKid, newKid } });
    }
    return { new: { kid: newKid, location }, previous: oldKid === 'none' ? undefined : { kid: oldKid }, changed: true };
  }
}
