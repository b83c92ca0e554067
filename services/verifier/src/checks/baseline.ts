import { auditBacklog, auditDeadLettersSince, auditKeyProbe, fetchPolicyStatus, probeId, probeReady, publishRevocationProbe, type Readiness } from '@caracal-rotation/caracal-client';
import { CARACAL_FILES } from '../caracal-files.js';
import { fail, pass, until, type Check } from './context.js';
import { changes, restartedBetween, sampleCounter, sampleCounters, serviceUrl } from './fleet.js';

/**
 * `GET /ready` of every service (and every listed replica) in the holders
 * file. A holder that is slow to answer or not ready yet is asked again
 * until the verification's deadline: on a loaded host one /ready may take
 * longer than its timeout, and that says nothing of the key it runs with.
 */
export const holdersReady: Check = async (ctx) => {
  const answers: string[] = [];
  const problems: string[] = [];
  for (const [service, holder] of Object.entries(ctx.holders.services)) {
    if (!holder) continue;
    for (const url of holder.instances?.length ? holder.instances : [holder.url]) {
      let last: Readiness | undefined;
      const ready = await until(ctx, async () => ((last = await probeReady(url, { signal: ctx.signal })).ready ? true : undefined));
      if (ready) answers.push(service);
      else problems.push(`${service} (${url}): ${last!.status === 0 ? last!.answer : `${last!.status} ${last!.answer}`}`);
    }
  }
  return problems.length ? fail(`not ready: ${problems.join('; ')}`) : pass(`ready: ${answers.join(', ')}`);
};

const HMAC_FAILURES = 'caracal_audit_hmac_failures_total';

/**
 * Audit ingestion goes on: the Audit consumer answers a probe signed with
 * the current AUDIT_HMAC_KEY, its group's pending count comes back to 0, no
 * real event reaches the DLQ meanwhile and its HMAC failure counter stays
 * flat (services/audit/internal/consumer.go).
 */
export const auditIngest: Check = async (ctx) => {
  const start = await auditBacklog(ctx.caracalRedis, ctx.caracal);
  const before = await sampleCounter(ctx, 'audit', HMAC_FAILURES);
  const probe = await auditKeyProbe(ctx.caracalRedis, ctx.caracal, await ctx.material.credential(CARACAL_FILES.auditKey), { deadline: ctx.deadline, pollMs: ctx.pollMs, signal: ctx.signal });
  const drained = await until(ctx, async () => ((await auditBacklog(ctx.caracalRedis, ctx.caracal)).pending === 0 ? true : undefined));
  const pending = (await auditBacklog(ctx.caracalRedis, ctx.caracal)).pending;
  const dead = await auditDeadLettersSince(ctx.caracalRedis, ctx.caracal, start.dlqLastId);
  const after = await sampleCounter(ctx, 'audit', HMAC_FAILURES);
  const grew = [...after.entries()].filter(([url, v]) => v > (before.get(url) ?? 0));
  const problems = [
    ...(probe.verdict === 'accepted' ? [] : [`probe signed with the current key: ${probe.verdict === 'no_answer' ? 'no answer from the Audit consumer' : `${probe.verdict} (${probe.reason})`}`]),
    ...(drained ? [] : [`audit-ingestor still has ${pending} pending entries`]),
    ...(dead.length ? [`${dead.length} events reached the DLQ meanwhile (${[...new Set(dead)].join(', ')})`] : []),
    ...(grew.length ? [`${HMAC_FAILURES} grew: ${changes(before, after)}`] : []),
  ];
  const seen = `pending ${start.pending}→${pending}, DLQ ${start.dlqLength} entries, ${HMAC_FAILURES} ${changes(before, after)}`;
  return problems.length ? fail(`${problems.join('; ')} (${seen})`) : pass(`the Audit consumer answered a probe signed with the current key; ${seen}`);
};

const MESSAGES = 'caracal_gateway_revocation_messages_total';
const INVALID = 'caracal_gateway_revocation_invalid_signatures_total';

/**
 * Every gateway replica applies a revocation signed with the current
 * STREAMS_HMAC_KEY and rejects none (services/gateway/internal/revocations.go).
 */
export const revocationPropagation: Check = async (ctx) => {
  const before = await sampleCounters(ctx, 'gateway', [MESSAGES, INVALID]);
  const { entryId } = await publishRevocationProbe(ctx.caracalRedis, ctx.caracal, await ctx.material.credential(CARACAL_FILES.streamsKey));
  let after = before;
  const applied = await until(ctx, async () => {
    after = await sampleCounters(ctx, 'gateway', [MESSAGES, INVALID]);
    return [...after[MESSAGES].entries()].every(([url, v]) => v > (before[MESSAGES].get(url) ?? 0)) ? true : undefined;
  });
  const invalidGrew = [...after[INVALID].entries()].filter(([url, v]) => v > (before[INVALID].get(url) ?? 0));
  const restarted = restartedBetween(before[MESSAGES], after[MESSAGES]);
  const seen = `probe ${entryId}: ${MESSAGES} ${changes(before[MESSAGES], after[MESSAGES])}; ${INVALID} ${changes(before[INVALID], after[INVALID])}`;
  if (restarted.length) return fail(`a gateway restarted during the check (${restarted.join(', ')}); ${seen}`);
  if (!applied) return fail(`not every gateway applied the revocation probe; ${seen}`);
  if (invalidGrew.length) return fail(`a gateway rejected revocation messages for their signature; ${seen}`);
  return pass(seen);
};

const EXCHANGE_ERRORS = 'caracal_gateway_sts_exchange_errors_total';

/**
 * The STS takes a request signed as the gateway signs, with the current
 * GATEWAY_STS_HMAC_KEY (services/sts/internal/simulation.go
 * handlePolicyStatus), and the gateway counts no failed exchange meanwhile.
 */
export const gatewayExchange: Check = async (ctx) => {
  const before = await sampleCounter(ctx, 'gateway', EXCHANGE_ERRORS);
  const status = await fetchPolicyStatus(serviceUrl(ctx, 'sts'), await ctx.material.credential(CARACAL_FILES.gatewayKey), probeId(), { signal: ctx.signal });
  const after = await sampleCounter(ctx, 'gateway', EXCHANGE_ERRORS);
  const grew = [...after.entries()].some(([url, v]) => v > (before.get(url) ?? 0));
  const seen = `signed policy status answered ${status.status}; ${EXCHANGE_ERRORS} ${changes(before, after)}`;
  return status.status === 200 && !grew ? pass(seen) : fail(seen);
};

export const BASELINE = { holders_ready: holdersReady, audit_ingest: auditIngest, revocation_propagation: revocationPropagation, gateway_exchange: gatewayExchange };
