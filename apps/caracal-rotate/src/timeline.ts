import { EVENT_NAMES, type EventName } from '@caracal-rotation/contracts';
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

/** Which stage emits each event (DESIGN §2), so a line says who took how long. */
function emitterOf(e: FollowedEvent): string {
  const d = e.data as { stage?: unknown; checks?: { name: string }[] };
  if (e.name === 'failed' && typeof d.stage === 'string') return d.stage;
  if (e.name === 'verified' && d.checks?.some((c) => c.name === 'operator_rollback')) return 'operator';
  const by: Record<EventName, string> = {
    requested: 'operator',
    queued: 'planner',
    planned: 'planner',
    rejected: 'planner',
    written: 'secret-writer',
    rolled: 'roller',
    verified: 'verifier',
    retiring: 'recorder',
    completed: 'verifier',
    failed: 'pipeline',
  };
  return by[e.name];
}

const outcomeOfEvent = (e: FollowedEvent): Outcome | undefined => {
  if (e.name === 'completed' || e.name === 'rejected') return e.name;
  if (e.name === 'failed') return (e.data as { stage?: unknown }).stage === 'operator' ? 'abandoned' : 'failed';
  return undefined;
};

/** A projection row of `rotation_events` as the follower's event shape, so history and live read alike. */
export function followedFromRecord(r: RotationEventRecord): FollowedEvent | undefined {
  const name = r.type.replace(/^rotation\./, '') as EventName;
  if (!(EVENT_NAMES as readonly string[]).includes(name)) return undefined;
  return { name, eventId: r.eventId, entryId: r.entryId, rotationId: r.rotationId, occurredAt: r.occurredAt, data: (r.data ?? {}) as Record<string, unknown> };
}

/**
 * Prints pipeline events one line each with the time since the request and
 * the time the emitting stage took, skips events already shown (history
 * first, then live, may overlap), and remembers how each rotation ended.
 */
export class Timeline {
  readonly entries: TimelineEntry[] = [];
  readonly ended = new Map<string, Outcome>();
  private readonly seen = new Set<string>();
  private previous: number;
  plannedDryRun = false;

  constructor(
    private readonly out: Output,
    private readonly startMs: number,
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
    if (e.name === 'planned' && (e.data as { plan?: { dry_run?: boolean } }).plan?.dry_run) this.plannedDryRun = true;
    const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
    this.out.line(`  +${secs(elapsed).padStart(7)}  ${stage.padEnd(13)} ${secs(stageMs).padStart(6)}  ${summary}`);
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
  abandoned: (id) => `ABANDONED by an operator; the secret files need a human (caracal-rotate status ${id}).`,
  dead_lettered: () =>
    'the request was DEAD-LETTERED: the services could not verify it. Do CARACAL_SECRETS_DIR and STREAM_PREFIX match the ones the services use?',
  timeout: (id) => `no end within the timeout; the rotation goes on (caracal-rotate watch ${id}).`,
};

/** The closing line (or the JSON document) of a followed rotation, and its exit code. */
export function reportOutcome(out: Output, id: string, outcome: Outcome, timeline: Timeline, extra: Record<string, unknown> = {}, deadLettered?: string): number {
  // The end is the rotation's terminal event, even when a stage kept emitting after an abandon.
  const ended = timeline.entries.find((e) => e.rotation_id === id && ['completed', 'failed', 'rejected'].includes(e.type));
  const last = ended ?? timeline.entries.at(-1);
  const took = last ? ` (${(last.elapsed_ms / 1000).toFixed(1)}s after the request)` : '';
  out.line(`${outcome === 'timeout' ? 'Timed out' : 'Rotation'} ${id}: ${OUTCOME_LINES[outcome](id)}${outcome === 'timeout' ? '' : took}`);
  if (deadLettered) out.line(`  dead letter: ${deadLettered}`);
  const exitCode = exitCodeOf(outcome);
  out.result({ rotation_id: id, outcome, exit_code: exitCode, ...extra, ...(deadLettered ? { dead_letter: deadLettered } : {}), events: timeline.entries });
  return exitCode;
}
