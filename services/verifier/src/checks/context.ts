import type { RedisClient } from '@caracal-rotation/bus';
import type { CaracalStreams, CheckName, HolderRoll, HoldersConfig, Phase, Plan } from '@caracal-rotation/contracts';
import type { MaterialReader } from '../material-reader.js';

export interface CheckContext {
  rotationId: string;
  phase: Phase;
  plan: Plan;
  rolled: readonly HolderRoll[];
  /** Key id of the material holders use now, and of the other one (before the rotation, or the abandoned one after a rollback). */
  currentKid: string;
  otherKid: string | undefined;
  holders: HoldersConfig;
  caracal: CaracalStreams;
  redis: RedisClient;
  material: MaterialReader;
  /** Prefix of the rotation streams; keys shared with the secret-writer derive from it. */
  streamPrefix: string;
  timeoutMs: number;
  pollMs: number;
}

export interface CheckOutcome {
  ok: boolean;
  detail: string;
}

export type Check = (ctx: CheckContext) => Promise<CheckOutcome>;
export type CheckRegistry = Partial<Record<CheckName, Check>>;

/** The base URL of a fleet member, or an error naming what to configure. */
export function memberUrl(ctx: CheckContext, service: string): string {
  const holder = ctx.holders.holders[service];
  if (!holder) throw new Error(`${service} is not in CARACAL_HOLDERS, so it cannot be checked`);
  return holder.url;
}

/** Polls until `probe` returns a value (not undefined) or the check's time runs out. */
export async function eventually<T>(ctx: CheckContext, probe: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + ctx.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, ctx.pollMs));
  }
}

export async function httpJson(url: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text: text.slice(0, 200) };
  }
  return { status: res.status, body };
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
