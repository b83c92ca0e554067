import { errorMessage } from './log.js';

const OUTBOUND_TIMEOUT_MS = 3000;

/**
 * A call from one member to another. Returns the peer's HTTP status, or 0
 * when it could not be reached, so callers can report either as data.
 */
export async function callPeer(url: string, init: RequestInit): Promise<{ status: number; error?: string }> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(OUTBOUND_TIMEOUT_MS) });
    await res.arrayBuffer();
    return { status: res.status };
  } catch (err) {
    return { status: 0, error: errorMessage(err) };
  }
}
