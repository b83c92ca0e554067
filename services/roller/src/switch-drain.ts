import { expandDrainTargets, inspectGate, streamMark, type RedisClient } from '@caracal-rotation/bus';
import type { DrainPair, RolledData } from '@caracal-rotation/contracts';

export interface SwitchDrainOptions {
  /** How long to wait for Caracal's consumers before switching anyway. */
  timeoutMs: number;
  /** A group whose consumers all idle this long (or that has none) is not waited for. */
  abandonAfterMs: number;
  pollMs: number;
  /** Called at each look that finds groups still behind, before waiting again. */
  onWaiting?: (waiting: readonly { stream: string; group: string; pending: number }[]) => void;
}

type SwitchDrain = NonNullable<RolledData['switch_drain']>;

/**
 * Before the holders of a key that signs stream messages restart, Caracal's
 * consumers read what was already published: a consumer restarted with the
 * new key drops (and acknowledges) a message signed with the old one. The
 * marks are the streams' last entries now; the roller waits until every live
 * group has read and acknowledged up to them, or the bound passes (the switch
 * then goes ahead, and the event says what was still pending).
 */
export async function drainBeforeSwitch(redis: RedisClient, drain: readonly DrainPair[], opts: SwitchDrainOptions): Promise<SwitchDrain> {
  const started = Date.now();
  const targets = await expandDrainTargets(redis, drain);
  const marks = new Map<string, string>();
  for (const stream of new Set(targets.map((t) => t.stream))) marks.set(stream, await streamMark(redis, stream));
  const marked = targets.map((t) => ({ ...t, mark: marks.get(t.stream)! }));
  for (;;) {
    const reports = await inspectGate(redis, marked, opts.abandonAfterMs);
    const waiting = reports.filter((r) => !r.drained && !r.abandoned);
    if (waiting.length === 0 || Date.now() - started >= opts.timeoutMs) {
      return {
        waited_ms: Date.now() - started,
        pairs: reports.length,
        drained: waiting.length === 0,
        undrained: waiting.slice(0, 100).map((r) => ({ stream: r.stream, group: r.group, pending: r.pending })),
      };
    }
    opts.onWaiting?.(waiting);
    await new Promise((r) => setTimeout(r, opts.pollMs));
  }
}
