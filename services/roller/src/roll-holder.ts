import type { HolderConfig, HolderRoll } from '@caracal-rotation/contracts';
import { requestRestart } from './adapters/restart-adapter.js';
import { pollUntil, processIdentity, readiness } from './holder-probe.js';

export interface RollOptions {
  pollMs: number;
  restartAttempts: number;
}

/**
 * Restarts one holder and proves it: a new process identity on /health, then
 * 200 on /ready, each within the holder's bounded time. A restart request
 * that was accepted but left the same process running is a failure.
 */
export async function rollHolder(service: string, holder: HolderConfig | undefined, opts: RollOptions): Promise<HolderRoll> {
  const result: HolderRoll = { service, restarted_at: null, ready_at: null, attempts: 0, ok: false };
  if (!holder) return { ...result, error: `no restart adapter is configured for ${service} (CARACAL_HOLDERS)` };

  const before = await processIdentity(holder.url);
  let lastError = '';
  while (result.attempts < opts.restartAttempts) {
    result.attempts += 1;
    try {
      await requestRestart(service, holder.restart, holder.ready_timeout_ms);
      lastError = '';
      break;
    } catch (err) {
      lastError = (err as Error).message;
    }
  }
  if (lastError) return { ...result, error: `restart request failed: ${lastError}`, proof: { before, after: null } };

  const restarted = await pollUntil(() => processIdentity(holder.url), (id) => id !== null && id !== before, holder.ready_timeout_ms, opts.pollMs);
  const after = restarted.last;
  if (!restarted.ok) {
    return { ...result, proof: { before, after }, error: `restart did not happen: /health still shows ${after === null ? 'no process' : 'the same process'} after ${holder.ready_timeout_ms} ms` };
  }
  result.restarted_at = new Date().toISOString();

  const ready = await pollUntil(() => readiness(holder.url), (r) => r.ready, holder.ready_timeout_ms, opts.pollMs);
  if (!ready.ok) return { ...result, proof: { before, after }, error: `not ready within ${holder.ready_timeout_ms} ms: ${ready.last.detail}` };
  return { ...result, ready_at: new Date().toISOString(), ok: true, proof: { before, after } };
}
