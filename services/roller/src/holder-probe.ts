/**
 * Reads a holder's /health and /ready. The identity in /health (boot id, or
 * pid and start time) is what proves a restart really happened.
 */
export async function processIdentity(baseUrl: string): Promise<string | null> {
  try {
    const res = await fetch(new URL('/health', baseUrl), { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return null;
    const body = (await res.json()) as Record<string, unknown>;
    if (typeof body.boot_id === 'string') return body.boot_id;
    if (body.pid !== undefined && body.started_at !== undefined) return `${String(body.pid)}@${String(body.started_at)}`;
    return null;
  } catch {
    return null;
  }
}

export async function readiness(baseUrl: string): Promise<{ ready: boolean; detail: string }> {
  try {
    const res = await fetch(new URL('/ready', baseUrl), { signal: AbortSignal.timeout(2000) });
    const text = await res.text();
    return { ready: res.status === 200, detail: `${res.status} ${text.slice(0, 300)}` };
  } catch (err) {
    return { ready: false, detail: (err as Error).message };
  }
}

export async function pollUntil<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, intervalMs: number): Promise<{ ok: boolean; last: T }> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!done(last)) {
    if (Date.now() >= deadline) return { ok: false, last };
    await new Promise((r) => setTimeout(r, intervalMs));
    last = await probe();
  }
  return { ok: true, last };
}
