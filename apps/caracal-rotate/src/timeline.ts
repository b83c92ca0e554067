import { EVENT_NAMES, type EventName } from '@caracal-rotation/contracts';
import { isFinal, lifecycleEvent, next, type Position } from '@caracal-rotation/lifecycle';
import type { RotationEventRecord } from '@caracal-rotation/projection';
import { describeEvent } from './commands/progress.js';
import { EXIT } from './environment.js';
import type { Output } from './output.js';
import type { FollowedEvent } from './follow.js';

export type Outcome = 'completed' | 'failed' | 'rejected' | 'abandoned' | 'dead_lettered' | 'timeout' | 'planned';

export interface TimelineEntry {
  type: string;
  rotation_id: string;
  event_id: string | null;
  occurred_at: string;
  /** Since the request. */
  elapsed_ms: number;
  /** Since the previous event: how long the stage that emitted this one took. */
  stage_ms: number;
  stage: string;
  summary: string;
  data: Record<string, unknown>;
}

/** Which stage emits each event, so a line says who took how long. */
function emitterOf(e: FollowedEvent): string {
  const d = e.data as { stage?: unknown };
  if (e.name === 'failed' && typeof d.stage === 'string') return d.stage;
  const by: Record<EventName, string> = {
    requested: 'operator',
    intent: 'operator',
    queued: 'planner',
    planned: 'planner',
    rejected: 'planner',
    rollback: 'planner',
    abandoned: 'planner',
    written: 'secret-writer',
    rolled: 'roller',
    verified: 'verifier',
    retiring: 'recorder',
    completed: 'verifier',
    failed: 'pipeline',
  };
  return by[e.name];
}

/** How an event ends its rotation, as the lifecycle says; the `completed` announcement decides nothing. */
function outcomeOfEvent(e: FollowedEvent): Outcome | undefined {
  const to = next(undefined, lifecycleEvent(e.name, e.data), undefined);
  if (!to.advanced || !isFinal(to.position)) return undefined;
  if (e.name === 'planned') return (e.data as { dry_run?: unknown }).dry_run ? 'planned' : undefined;
  return to.position.state as Outcome;
}

/** A projection row of `rotation_events` as the follower's event shape, so history and live read alike. */
export function followedFromRecord(r: RotationEventRecord): FollowedEvent | undefined {
  const name = r.type.replace(/^rotation\./, '') as EventName;
  if (!(EVENT_NAMES as readonly string[]).includes(name)) return undefined;
  return { name, eventId: r.eventId, entryId: r.entryId, rotationId: r.rotationId, occurredAt: r.occurredAt, data: (r.data ?? {}) as Record<string, unknown> };
}

/** A batch of more zones than this is shown as progress lines, not one line per zone and event. */
export const BATCH_DETAIL_LIMIT = 10;
const PROGRESS_EVERY_MS = 1_000;

/**
 * Prints pipeline events one line each with the time since the request and
 * the time the emitting stage took, skips events already shown (history
 * first, then live, may overlap), and remembers how each rotation ended.
 * The zones of a large batch are summed up instead: a progress line at most
 * every second (and when the last zone ends), plus every failure in full.
 */
export class Timeline {
  readonly entries: TimelineEntry[] = [];
  readonly ended = new Map<string, Outcome>();
  private readonly seen = new Set<string>();
  private readonly members = new Map<string, Position>();
  private batchZones = 0;
  private progressShownAt = 0;
  private previous: number;
  plannedDryRun = false;

  constructor(
    private readonly out: Output,
    private readonly startMs: number,
    /** The followed rotation: events of other rotations are its batch's zones. */
    private readonly rootId?: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.previous = startMs;
  }

  add(e: FollowedEvent): void {
    const key = e.eventId ?? `${e.name}/${e.rotationId}/${e.entryId}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const at = Date.parse(e.occurredAt);
    const when = Number.isNaN(at) ? Date.now() : at;
    const elapsed = Math.max(0, when - this.startMs);
    const stageMs = Math.max(0, when - this.previous);
    this.previous = Math.max(this.previous, when);
    const stage = emitterOf(e);
    const summary = describeEvent(e);
    this.entries.push({ type: e.name, rotation_id: e.rotationId, event_id: e.eventId ?? null, occurred_at: e.occurredAt, elapsed_ms: elapsed, stage_ms: stageMs, stage, summary, data: e.data });
    const ended = outcomeOfEvent(e);
    if (ended) this.ended.set(e.rotationId, ended);
    if (e.name === 'planned' && (e.data as { dry_run?: boolean }).dry_run) this.plannedDryRun = true;
    if (e.rotationId === this.rootId && e.name === 'planned') this.batchZones = Number((e.data as { batch?: { zones?: number } }).batch?.zones ?? 0);
    const summed = this.rootId !== undefined && e.rotationId !== this.rootId && this.batchZones > BATCH_DETAIL_LIMIT;
    if (summed) {
      const to = next(this.members.get(e.rotationId), lifecycleEvent(e.name, e.data), undefined);
      if (to.position) this.members.set(e.rotationId, to.position);
      // A zone's trouble is shown in full; its routine steps only count.
      const trouble = e.name === 'failed' || e.name === 'rejected' || e.name === 'abandoned' || (e.name === 'verified' && (e.data as { ok?: boolean }).ok === false);
      if (trouble) this.print(elapsed, stage, stageMs, `zone ${String((e.data as { zone_id?: unknown }).zone_id ?? e.rotationId)}: ${summary}`);
      const allEnded = [...this.members.values()].filter(isFinal).length >= this.batchZones;
      if (allEnded || this.clock() - this.progressShownAt >= PROGRESS_EVERY_MS) this.showProgress(elapsed);
      return;
    }
    this.print(elapsed, stage, stageMs, summary);
  }

  private print(elapsedMs: number, stage: string, stageMs: number, summary: string): void {
    const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
    this.out.line(`  +${secs(elapsedMs).padStart(7)}  ${stage.padEnd(13)} ${secs(stageMs).padStart(6)}  ${summary}`);
  }

  /** `412/1000 zones ended (410 completed, 2 failed); in flight: 300 verifying, 288 waiting retirement`. */
  private showProgress(elapsedMs: number): void {
    this.progressShownAt = this.clock();
    const byState = new Map<string, number>();
    let ended = 0;
    for (const position of this.members.values()) {
      if (isFinal(position)) ended++;
      byState.set(position.state, (byState.get(position.state) ?? 0) + 1);
    }
    const list = (states: [string, number][]) => states.map(([state, n]) => `${n} ${state.replace(/_/g, ' ')}`).join(', ');
    const done = [...byState].filter(([state]) => isFinal({ state: state as Position['state'], progress: 0 }));
    const going = [...byState].filter(([state]) => !isFinal({ state: state as Position['state'], progress: 0 }));
    this.print(elapsedMs, 'batch', 0, `${ended}/${this.batchZones} zones ended${done.length ? ` (${list(done)})` : ''}${going.length ? `; in flight: ${list(going)}` : ''}`);
  }

  /** How the followed rotation (or every member of its batch) ended. */
  outcome(rootId: string, opts: { finished: boolean; deadLettered?: string }): Outcome {
    if (opts.deadLettered) return 'dead_lettered';
    const root = this.ended.get(rootId);
    if (root) return root;
    if (this.plannedDryRun) return 'planned';
    if (!opts.finished) return 'timeout';
    const members = [...this.ended.values()];
    if (members.length === 0) return 'timeout';
    return members.find((o) => o === 'failed') ?? members.find((o) => o !== 'completed') ?? 'completed';
  }
}

export const exitCodeOf = (outcome: Outcome): number =>
  outcome === 'completed' || outcome === 'planned' ? EXIT.ok : outcome === 'timeout' ? EXIT.timeout : EXIT.failed;

const OUTCOME_LINES: Record<Outcome, (id: string) => string> = {
  completed: () => 'completed.',
  planned: () => 'planned (dry run): nothing was written or restarted.',
  failed: (id) => `FAILED; see caracal-rotate status ${id} for the checks and the diagnosis.`,
  rejected: () => 'REJECTED by the planner (reason above).',
  abandoned: (id) => `ABANDONED by an operator; what the store holds now needs a human (caracal-rotate status ${id}).`,
  dead_lettered: () =>
    'the request was DEAD-LETTERED: the planner could not verify it. Is your operator key registered in operators.json, and does STREAM_PREFIX match the services\'?',
  timeout: (id) => `no end within the timeout; the rotation goes on (caracal-rotate watch ${id}).`,
};

/** The closing line (or the JSON document) of a followed rotation, and its exit code. */
export function reportOutcome(out: Output, id: string, outcome: Outcome, timeline: Timeline, extra: Record<string, unknown> = {}, deadLettered?: string): number {
  // The end is the rotation's terminal event, even when a stage kept emitting after an abandon.
  const last = timeline.entries.filter((e) => e.rotation_id === id || timeline.ended.has(e.rotation_id)).at(-1) ?? timeline.entries.at(-1);
  const took = last ? ` (${(last.elapsed_ms / 1000).toFixed(1)}s after the request)` : '';
  // A failure whose rollback verified left the previous material in place: say so, not only "failed".
  const rolledBack = outcome === 'failed' && timeline.entries.some((e) => e.type === 'failed' && (e.data as { rolled_back?: unknown }).rolled_back === true);
  const line = rolledBack ? `ROLLED BACK: the previous material is in place again and verified; the rotation did not complete (caracal-rotate status ${id}).` : OUTCOME_LINES[outcome](id);
  out.line(`${outcome === 'timeout' ? 'Timed out' : 'Rotation'} ${id}: ${line}${outcome === 'timeout' ? '' : took}`);
  if (deadLettered) out.line(`  dead letter: ${deadLettered}`);
  const exitCode = exitCodeOf(outcome);
  out.result({ rotation_id: id, outcome, exit_code: exitCode, ...extra, ...(deadLettered ? { dead_letter: deadLettered } : {}), events: timeline.entries });
  return exitCode;
}
