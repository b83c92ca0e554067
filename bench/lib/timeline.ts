import type { Plan } from '@caracal-rotation/contracts';
import { expectedPath, type PathStep } from '@caracal-rotation/lifecycle';
import type { PromSample } from './prom.js';
import { round, summarize } from './stats.js';
import type { FollowedEntry } from './stream-follower.js';

/** When each event of one rotation reached its stream (Redis server clock), by `name` or `name:phase`. */
export interface Timeline {
  at: Map<string, number>;
  /** Sum of the check durations each `verified` reports, by `verified:phase`. */
  checksMs: Map<string, number>;
}

const keyOf = (name: string, phase: string | undefined): string => (phase ? `${name}:${phase}` : name);

/** The timelines of a batch's children (its zone rotations), each starting at the batch's request. */
export function childTimelines(entries: readonly FollowedEntry[], batchId: string, requestMs: number): Map<string, Timeline> {
  const rotations = new Map<string, Timeline>();
  for (const e of entries) {
    if (e.name === 'requested' || e.rotationId === batchId || e.batchId !== batchId) continue;
    let t = rotations.get(e.rotationId);
    if (!t) rotations.set(e.rotationId, (t = { at: new Map([['requested', requestMs]]), checksMs: new Map() }));
    const key = keyOf(e.name, e.name === 'failed' ? undefined : e.phase);
    // A retried stage re-emits the same event: keep the first.
    if (!t.at.has(key)) t.at.set(key, e.ms);
    if (e.name === 'verified' && e.checksMs !== undefined) t.checksMs.set(key, e.checksMs);
  }
  return rotations;
}

/** Mean time each stage's handler took per (stage, phase), from its `caracal_rotation_stage_duration_seconds`. */
export function stageWork(metrics: Iterable<PromSample[]>): Map<string, { meanMs: number; count: number }> {
  const out = new Map<string, { meanMs: number; count: number }>();
  for (const samples of metrics) {
    for (const s of samples.filter((x) => x.name === 'caracal_rotation_stage_duration_seconds_sum')) {
      const count = samples.find(
        (c) => c.name === 'caracal_rotation_stage_duration_seconds_count' && c.labels.stage === s.labels.stage && c.labels.phase === s.labels.phase && c.labels.outcome === s.labels.outcome,
      )?.value;
      if (!count) continue;
      const key = `${s.labels.stage}:${s.labels.phase}`;
      const cur = out.get(key) ?? { meanMs: 0, count: 0 };
      const total = cur.meanMs * cur.count + s.value * 1000;
      cur.count += count;
      cur.meanMs = total / cur.count;
      out.set(key, cur);
    }
  }
  return out;
}

export interface HopFigures {
  hop: string;
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  meanWorkMs: number;
  meanWaitMs: number | null;
}

const doneKey = (step: PathStep): string => keyOf(step.done.name, step.done.phase);
const label = (key: string): string => key.replace(/:(\w+)$/, '($1)');

/**
 * The hops of a rotation along the path libs/lifecycle expects for its plan
 * (request → planned → each step's event), with the stage that made each
 * step, its mean work and the mean wait around it. Work is the stage's own
 * duration metric, or for a verification the check durations it reports;
 * a retirement's wait step has no work of its own (see the retiring split).
 */
export function hops(rotations: Map<string, Timeline>, plan: Plan, work: Map<string, { meanMs: number }>): HopFigures[] {
  const steps = expectedPath(plan).filter((s) => s.kind !== 'plan');
  const chain: { key: string; stage: string; workOf: (t: Timeline) => number | undefined; metricMs?: number }[] = [
    { key: 'planned', stage: 'planner', workOf: () => undefined },
    ...steps.map((s) => ({
      key: doneKey(s),
      stage: s.stage,
      workOf: (t: Timeline) => (s.kind === 'verify' ? t.checksMs.get(doneKey(s)) : undefined),
      metricMs: s.kind === 'write' || s.kind === 'roll' ? work.get(`${s.stage}:${s.phase}`)?.meanMs : undefined,
    })),
  ];
  let from = 'requested';
  return chain.map((link) => {
    const values: number[] = [];
    const works: number[] = [];
    for (const t of rotations.values()) {
      const a = t.at.get(from);
      const b = t.at.get(link.key);
      if (a === undefined || b === undefined) continue;
      values.push(b - a);
      const w = link.workOf(t);
      if (w !== undefined) works.push(w);
    }
    const s = summarize(values);
    const workMs = link.metricMs ?? (works.length ? works.reduce((x, y) => x + y, 0) / works.length : Number.NaN);
    const hop = `${label(from)} → ${label(link.key)} (${link.stage})`;
    from = link.key;
    return {
      hop,
      n: s.n,
      p50Ms: s.p50,
      p99Ms: s.p99,
      maxMs: s.max,
      meanMs: round(s.mean, 1),
      meanWorkMs: round(workMs, 1),
      meanWaitMs: Number.isFinite(workMs) ? round(s.mean - workMs, 1) : null,
    };
  });
}
