/** What a member's /health says about the process behind it. */
export interface BootInfo {
  pid: number;
  started_at: string;
  boot_id: string;
}

const PROBE_TIMEOUT_MS = 1000;

/** The member's boot info, or null when it does not answer. */
export async function fetchBootInfo(url: string): Promise<BootInfo | null> {
  try {
    const res = await fetch(new URL('/health', url), { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    if (res.status !== 200) return null;
    const body = (await res.json()) as Partial<BootInfo>;
    if (typeof body.pid !== 'number' || typeof body.boot_id !== 'string' || typeof body.started_at !== 'string') return null;
    return { pid: body.pid, started_at: body.started_at, boot_id: body.boot_id };
  } catch {
    return null;
  }
}

export interface WaitForBootOptions {
  /** A boot id the answer must differ from: proof that a restart happened. */
  notBootId?: string;
  timeoutMs: number;
  /** Rejects early, e.g. when the process already exited. */
  abort?: Promise<never>;
}

export async function waitForBoot(url: string, { notBootId, timeoutMs, abort }: WaitForBootOptions): Promise<BootInfo> {
  const deadline = Date.now() + timeoutMs;
  const poll = async (): Promise<BootInfo> => {
    for (;;) {
      const boot = await fetchBootInfo(url);
      if (boot && boot.boot_id !== notBootId) return boot;
      if (Date.now() > deadline) throw new Error(`${url} did not answer /health with a new boot within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return abort ? Promise.race([poll(), abort]) : poll();
}
