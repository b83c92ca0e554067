import { fetchPolicyStatus, groupHasProcessed, probeId, publishPolicyInvalidation, publishRevocationProbe } from '@caracal-rotation/caracal-client';
import { CARACAL_FILES } from '../caracal-files.js';
import { fail, pass, requireNewKid, requirePreviousKid, until, type Check, type CheckContext } from './context.js';
import { changes, restartedBetween, sampleCounters, serviceUrl } from './fleet.js';

/** The STS consumer group of caracal.policy.invalidate (services/sts/internal/consumer.go groupPolicy). */
const OPA_GROUP = 'opa-engine';
/** Readings of the policy status after the STS handled a refused probe: each may reach another STS replica. */
const REFUSAL_READINGS = 3;

async function loaded(ctx: CheckContext, zone: string): Promise<boolean> {
  const status = await fetchPolicyStatus(serviceUrl(ctx, 'sts'), await ctx.material.credential(CARACAL_FILES.gatewayKey), zone, { signal: ctx.signal });
  if (status.status !== 200) throw new Error(`the STS refused the signed policy-status request (${status.status}): the gateway key in the store is not the STS's`);
  return status.loaded;
}

/**
 * The STS takes a caracal.policy.invalidate signed with the new key: the
 * replica that reads it loads the probe zone, which the signed policy status
 * then reports (services/sts/internal/consumer.go, opa.go storeFallback).
 * With several replicas only one takes the message, so the status is read
 * until one answers loaded.
 */
export const streamsNewKeyAccepted: Check = async (ctx) => {
  const kid = requireNewKid(ctx);
  const zone = probeId();
  const entryId = await publishPolicyInvalidation(ctx.caracalRedis, ctx.caracal, await ctx.material.byKid(ctx.plan, kid), zone);
  const seen = await until(ctx, async () => ((await loaded(ctx, zone)) ? true : undefined));
  return seen ? pass(`policy invalidation ${entryId} signed with kid ${kid}: the STS loaded zone ${zone}`) : fail(`policy invalidation ${entryId} signed with kid ${kid}: no STS loaded zone ${zone}`);
};

const MESSAGES = 'caracal_gateway_revocation_messages_total';
const INVALID = 'caracal_gateway_revocation_invalid_signatures_total';

/**
 * Messages signed with the old key are dropped: the STS handles a policy
 * invalidation without loading its zone, and every gateway replica counts a
 * revocation as an invalid signature, not as a message
 * (services/gateway/internal/revocations.go processRevocationMessage).
 */
export const streamsOldKeyRefused: Check = async (ctx) => {
  const kid = requirePreviousKid(ctx);
  const old = await ctx.material.byKid(ctx.plan, kid);
  const gateways = !!ctx.holders.services.gateway;
  const before = gateways ? await sampleCounters(ctx, 'gateway', [MESSAGES, INVALID]) : undefined;
  const zone = probeId();
  const entryId = await publishPolicyInvalidation(ctx.caracalRedis, ctx.caracal, old, zone);
  const revocation = gateways ? await publishRevocationProbe(ctx.caracalRedis, ctx.caracal, old) : undefined;

  const problems: string[] = [];
  const handled = await until(ctx, async () => ((await groupHasProcessed(ctx.caracalRedis, ctx.caracal.policyInvalidate, OPA_GROUP, entryId)) ? true : undefined));
  if (!handled) problems.push(`the STS group ${OPA_GROUP} did not handle policy invalidation ${entryId} in time`);
  else {
    for (let i = 0; i < REFUSAL_READINGS; i++) {
      if (await loaded(ctx, zone)) {
        problems.push(`an STS loaded zone ${zone} from a message signed with the old kid ${kid}`);
        break;
      }
    }
  }
  let gatewayDetail = '';
  if (before && revocation) {
    let after = before;
    await until(ctx, async () => {
      after = await sampleCounters(ctx, 'gateway', [MESSAGES, INVALID]);
      return [...after[INVALID].entries()].every(([url, v]) => v > (before[INVALID].get(url) ?? 0)) ? true : undefined;
    });
    const restarted = restartedBetween(before[INVALID], after[INVALID]);
    const notRejected = [...after[INVALID].entries()].filter(([url, v]) => v <= (before[INVALID].get(url) ?? 0)).map(([url]) => url);
    const applied = [...after[MESSAGES].entries()].filter(([url, v]) => v > (before[MESSAGES].get(url) ?? 0)).map(([url]) => url);
    if (restarted.length) problems.push(`a gateway restarted during the check (${restarted.join(', ')})`);
    else if (notRejected.length) problems.push(`no invalid signature counted by ${notRejected.join(', ')}`);
    if (applied.length) problems.push(`revocation ${revocation.entryId} signed with the old kid was applied by ${applied.join(', ')}`);
    gatewayDetail = `; revocation ${revocation.entryId}: ${INVALID} ${changes(before[INVALID], after[INVALID])}, ${MESSAGES} ${changes(before[MESSAGES], after[MESSAGES])}`;
  }
  const seen = `policy invalidation ${entryId} signed with the old kid ${kid}: ${handled ? `handled by ${OPA_GROUP}, zone ${zone} not loaded` : 'not handled'}${gatewayDetail}`;
  return problems.length ? fail(`${problems.join('; ')} (${seen})`) : pass(seen);
};
