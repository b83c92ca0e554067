import type { DrainReport } from '@caracal-rotation/bus';
import type { Plan } from '@caracal-rotation/contracts';
import { duration } from './format.js';
import type { Output } from './output.js';

/** One stream/group pair as the CLI prints it (snake_case, as the wire contract). */
export interface DrainRow {
  stream: string;
  group: string;
  pending: number;
  lag: number | null;
  last_delivered_id: string;
}

export const drainRow = (r: DrainReport): DrainRow => ({ stream: r.stream, group: r.group, pending: r.pending, lag: r.lag, last_delivered_id: r.lastDeliveredId });

export interface DrainView {
  inspected: boolean;
  /** Why the drain set could not be inspected (Redis unavailable). */
  note?: string;
  targets: DrainRow[];
}

/** The human form of a locally computed plan (the JSON form is the plan object itself). */
export function printPlan(out: Output, plan: Plan, drain: DrainView, catalogSource: string): void {
  const zones = plan.batch ? ` (a batch: ${plan.batch.zones === 'all' ? "every zone Caracal's API lists" : `${plan.batch.zones} zones`}, one rotation each)` : plan.zone_id ? ` zone ${plan.zone_id}` : '';
  out.line(`Plan for ${plan.material}${zones}${plan.role ? ` role ${plan.role}` : ''}`);
  out.line('  computed locally; nothing was published or written');
  out.line(`  catalog         ${catalogSource}`);
  const secret = plan.secret
    ? `${plan.secret.file} (env ${plan.secret.env}${plan.secret.previous_file ? `; previous value in ${plan.secret.previous_file}, at rest ${plan.secret.previous_at_rest === 'copy' ? 'a copy of the current one' : 'absent'}` : ''})`
    : 'not a file (the writer asks Caracal)';
  out.line(`  secret          ${secret}${plan.derived.length ? `; re-renders ${plan.derived.join(', ')}` : ''}`);
  out.line(`  writer          ${plan.writer} (${plan.format})`);
  out.line(`  overlap         ${plan.overlap === 'dual' ? 'dual: holders accept the previous value during the window' : 'none: one value at a time; every holder switches together'}`);
  for (const p of plan.phases) {
    const restarts = p.roll.length ? p.roll.map((g) => g.join(' + ')).join(' → ') : 'nothing restarts';
    out.line(`  ${p.phase.padEnd(8)}        ${p.write ? 'write' : 'no write'}; ${restarts}; checks ${p.checks.join(', ') || '-'}`);
  }
  out.line(`  rollback        ${plan.rollback.mode === 'none' ? 'not possible' : plan.rollback.mode === 'forward' ? 'rolls FORWARD to a fresh value' : 'restores the previous value'}: ${plan.rollback.why}`);
  out.line(`  safety window   ${duration(plan.safety_window_ms)}${plan.emergency ? ' (emergency: retirement follows a passing verification)' : ''}${plan.window_parts ? ` (${Object.entries(plan.window_parts).map(([k, v]) => `${k} ${duration(v)}`).join(' + ')})` : ''}`);
  out.line(`  drain set       ${plan.drain.map((d) => `${d.stream} / ${d.group}`).join(', ') || 'none'}${plan.drain_before_switch ? ' (drained before the switch)' : ''}`);
  if (plan.drain.length > 0) {
    if (!drain.inspected) out.line(`    (not inspected: ${drain.note})`);
    else if (drain.targets.length === 0) out.line('    no stream/group matches yet');
    for (const t of drain.targets) out.line(`    ${t.stream}  ${t.group}  pending ${t.pending}  lag ${t.lag ?? '?'}`);
    if (drain.inspected && drain.note) out.line(`    (${drain.note})`);
  }
  if (plan.skipped.length) {
    out.line('  not applicable');
    for (const s of plan.skipped) out.line(`    - ${s.what}: ${s.why}`);
  }
  if (plan.warnings.length) {
    out.line('  warnings');
    for (const w of plan.warnings) out.line(`    - ${w}`);
  }
}
