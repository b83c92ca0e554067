import type { HolderRoll, ServiceHolder } from '@caracal-rotation/contracts';
import { createRestarter } from './adapters/create-restarter.js';
import { NotReadyError, waitUntilReady } from './adapters/readiness.js';
import { RestartError, type RestartResult } from './adapters/restarter.js';

export interface RollOptions {
  pollMs: number;
  restartAttempts: number;
}

/** Failures another attempt cannot mend: the holders file or the workload must change first. */
const FINAL = new Set<RestartError['code']>(['config', 'not_found']);

/**
 * Time the platform gets to restart and prove one holder: the holder's ready
 * timeout, plus what its adapter may spend by design (Docker's stop timeout,
 * the exec command's own timeout).
 */
export function restartBudgetMs(holder: ServiceHolder): number {
  const { restart } = holder;
  if (restart.adapter === 'docker') return holder.ready_timeout_ms + restart.stop_timeout_s * 1000;
  if (restart.adapter === 'exec') return holder.ready_timeout_ms + restart.timeout_ms;
  return holder.ready_timeout_ms;
}

/**
 * Restarts one holder through its platform adapter, which proves the restart
 * after the write from what the platform reports, then waits for 200 on its
 * /ready, each bounded in time.
 */
export async function rollHolder(service: string, holder: ServiceHolder | undefined, writtenAt: Date, opts: RollOptions): Promise<HolderRoll> {
  const result: HolderRoll = { service, restarted_at: null, ready_at: null, attempts: 0, ok: false };
  if (!holder) return { ...result, error: `${service} is not in the services of the holders file (CARACAL_HOLDERS): it cannot be restarted` };

  const restarter = createRestarter(holder.restart, { pollMs: opts.pollMs });
  let restarted: RestartResult | undefined;
  let failure: RestartError | undefined;
  while (result.attempts < opts.restartAttempts && !restarted) {
    result.attempts += 1;
    try {
      restarted = await restarter.restartAndProve({ writtenAt, deadline: Date.now() + restartBudgetMs(holder) });
    } catch (err) {
      if (!(err instanceof RestartError)) throw err;
      failure = err;
      if (FINAL.has(err.code)) break;
    }
  }
  if (!restarted) {
    return { ...result, error: `${restarter.target}: ${failure?.message ?? 'not restarted'}`.slice(0, 2000), ...(failure?.proof ? { proof: { ...failure.proof, detail: 'what the platform showed before the restart failed' } } : {}) };
  }
  const proven = { ...result, restarted_at: restarted.restartedAt, proof: { before: restarted.proof.before, after: restarted.proof.after, detail: restarted.proof.detail.slice(0, 1000) } };

  try {
    const ready = await waitUntilReady(holder.url, { deadline: Date.now() + holder.ready_timeout_ms, pollMs: opts.pollMs });
    return { ...proven, ready_at: ready.readyAt, ok: true };
  } catch (err) {
    if (!(err instanceof NotReadyError)) throw err;
    return { ...proven, error: `restarted (${restarted.proof.detail}) but not ready within ${holder.ready_timeout_ms} ms: ${err.lastAnswer}`.slice(0, 2000) };
  }
}
