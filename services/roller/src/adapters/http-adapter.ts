/** A reload hook or supervisor endpoint: POST, and any 2xx means the restart was requested. */
export async function restartOverHttp(url: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers, signal: AbortSignal.timeout(timeoutMs) });
  const body = await res.text();
  if (!res.ok) throw new Error(`restart hook ${new URL(url).pathname} answered ${res.status}: ${body.slice(0, 200)}`);
}
