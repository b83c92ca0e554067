import { caracalRequest } from './http.js';

export interface Readiness {
  ready: boolean;
  /** The status code, or 0 when nothing answered. */
  status: number;
  /** The reason a service gave for not being ready, or why it did not answer (never a secret: Caracal's bodies carry none). */
  answer: string;
}

/**
 * `GET /ready` of one Caracal service: 200 when it can serve, 503 with a
 * reason otherwise (services/sts/internal/server.go handleReady,
 * apps/api/src/app.ts). A service that does not answer is not ready.
 */
export async function probeReady(baseUrl: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Readiness> {
  try {
    const res = await caracalRequest('ready', { baseUrl, timeoutMs: opts.timeoutMs ?? 2_000, signal: opts.signal });
    return { ready: res.status === 200, status: res.status, answer: res.text.trim().slice(0, 200) };
  } catch (err) {
    const cause = (err as Error).cause as { name?: string; cause?: { code?: string } } | undefined;
    const why = cause?.name === 'TimeoutError' ? 'no answer in time' : (cause?.cause?.code ?? (err as Error).message);
    return { ready: false, status: 0, answer: why };
  }
}
