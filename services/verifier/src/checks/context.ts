import type { RedisClient } from '@caracal-rotation/bus';
import type { CaracalStreams, CheckName, HolderRoll, HoldersConfig, Phase, Plan } from '@caracal-rotation/contracts';
import type { MaterialValues } from '../material-values.js';

/** Everything a check may use; it answers for one phase of one rotation. */
export interface CheckContext {
  rotationId: string;
  phase: Phase;
  plan: Plan;
  /** The zone of a zone-key rotation (a batch child's own zone). */
  zoneId: string | undefined;
  /** The event's `new.kid` and `previous.kid`: which value is new and which is old. */
  newKid: string | undefined;
  previousKid: string | undefined;
  /** The holders the roller restarted; undefined when the phase went straight from written to verification. */
  rolled: readonly HolderRoll[] | undefined;
  holders: HoldersConfig;
  caracal: CaracalStreams;
  /** Caracal's Redis: its streams and its password. */
  caracalRedis: RedisClient;
  /** The orchestrator's bus: the bus-key reports. */
  busRedis: RedisClient;
  streamPrefix: string;
  material: MaterialValues;
  /** When the check must have answered (epoch ms), and the signal that fires then. */
  deadline: number;
  signal: AbortSignal;
  pollMs: number;
  zoneConcurrency: number;
}

export interface CheckOutcome {
  ok: boolean;
  /** Ids, fingerprints, status codes and counters only: never a secret value. */
  detail: string;
}

export type Check = (ctx: CheckContext) => Promise<CheckOutcome>;
export type CheckRegistry = Readonly<Record<CheckName, Check>>;

export const pass = (detail: string): CheckOutcome => ({ ok: true, detail });
export const fail = (detail: string): CheckOutcome => ({ ok: false, detail });

export function requireNewKid(ctx: CheckContext): string {
  if (!ctx.newKid) throw new Error('the event names no new kid, so the new value cannot be told apart');
  return ctx.newKid;
}

export function requirePreviousKid(ctx: CheckContext): string {
  if (!ctx.previousKid) throw new Error('the event names no previous kid, so there is no old value to present');
  return ctx.previousKid;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value or the check's deadline passes (then undefined). */
export async function until<T>(ctx: CheckContext, probe: () => Promise<T | undefined>): Promise<T | undefined> {
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() + ctx.pollMs >= ctx.deadline || ctx.signal.aborted) return undefined;
    await sleep(ctx.pollMs);
  }
}
