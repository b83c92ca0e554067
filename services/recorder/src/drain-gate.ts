import { inspectGate as inspectMarks, type GateReport } from '@caracal-rotation/bus';
import type { DrainEvidence, RotationDrainMark } from '@caracal-rotation/projection';
import type { StreamHomes } from './stream-homes.js';

const markKey = (t: { stream: string; group: string; mark: string }) => `${t.stream}\u0000${t.group}\u0000${t.mark}`;

/**
 * The drain gate for many rotations at once (docs/architecture.md §7), over
 * each Redis that holds some of the marked streams: each stream, group and
 * mark is inspected once however many rotations share it. A pair is drained
 * when the group read past the mark and nothing at or before it is pending;
 * a pair that is not is abandoned when all its consumers have been idle longer
 * than `abandonAfterMs`, or it has none: it no longer holds retirement, and its
 * pending count is kept as evidence.
 */
export async function inspectGate(homes: StreamHomes, marks: readonly RotationDrainMark[], abandonAfterMs: number): Promise<DrainEvidence[]> {
  const reports = new Map<string, GateReport>();
  for (const [redis, targets] of homes.split(marks)) {
    const unique = [...new Map(targets.map((t) => [markKey(t), { stream: t.stream, group: t.group, mark: t.mark }])).values()];
    for (const report of await inspectMarks(redis, unique, abandonAfterMs)) reports.set(markKey({ ...report, mark: report.mark ?? '0-0' }), report);
  }
  return marks.map((m) => {
    const report = reports.get(markKey(m))!;
    return { ...m, pending: report.pending, lag: report.lag, drained: report.drained === true, abandoned: report.abandoned, idleMs: report.idleMs };
  });
}
