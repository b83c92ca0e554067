import { probeReady, routeUrl } from '@caracal-rotation/caracal-client';
import { remainingMs, sleep } from './restarter.js';

/**
 * Readiness after a restart, apart from the platform's proof: Caracal's
 * services answer `GET /ready` with 200 once they can serve
 * (services/sts/internal/server.go, apps/api/src/app.ts).
 */
export class NotReadyError extends Error {
  constructor(
    message: string,
    /** The last answer: `503 {"ok":false,…}`, or why there was none. */
    readonly lastAnswer: string,
  ) {
    super(message);
    this.name = 'NotReadyError';
  }
}

/** Longest wait for one answer from /ready. */
const PROBE_TIMEOUT_MS = 2_000;

async function probe(baseUrl: string, timeoutMs: number): Promise<{ ready: boolean; answer: string; timedOut?: boolean }> {
  const r = await probeReady(baseUrl, { timeoutMs: Math.max(1, timeoutMs) });
  if (r.status === 0) return { ready: false, answer: r.answer === 'no answer in time' ? `no answer within ${timeoutMs} ms` : r.answer, timedOut: r.answer === 'no answer in time' };
  return { ready: r.ready, answer: `${r.status}${r.answer ? ` ${r.answer}` : ''}` };
}

/** Polls `<baseUrl>/ready` until it answers 200; rejects with NotReadyError at the deadline (epoch ms). */
export async function waitUntilReady(baseUrl: string, { deadline, pollMs = 500 }: { deadline: number; pollMs?: number }): Promise<{ readyAt: string; answer: string }> {
  const url = routeUrl('ready', { baseUrl });
  let last = '';
  for (;;) {
    const timeoutMs = Math.min(PROBE_TIMEOUT_MS, remainingMs(deadline));
    const answer = await probe(baseUrl, timeoutMs);
    if (answer.ready) return { readyAt: new Date().toISOString(), answer: answer.answer };
    // A probe cut short by the deadline says nothing about the service: keep the answer before it.
    if (!(answer.timedOut && timeoutMs < PROBE_TIMEOUT_MS && last)) last = answer.answer;
    if (remainingMs(deadline) <= pollMs) throw new NotReadyError(`${url.origin}${url.pathname} did not answer 200 before the deadline; last answer: ${last}`, last);
    await sleep(pollMs);
  }
}
