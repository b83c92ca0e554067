import type { DrainReport } from '@caracal-rotation/bus';
import type { Plan } from '@caracal-rotation/contracts';
import { duration } from './format.js';
import type { Output } from './output.js';

/** Holders in roll order: groups separated by →, members of one group restart together. */
export function rollOrder(holders: readonly { service: string; roll_group: number }[]): string {
  if (holders.length === 0) return 'none (nothing restarts)';
  const groups = new Map<number, string[]>();
  for (const h of [...holders].sort((a, b) => a.roll_group - b.roll_group)) groups.set(h.roll_group, [...(groups.get(h.roll_group) ?? []), h.service]);
  return [...groups.values()].map((g) => (g.length > 1 ? `[${g.join(' + ')}]` : g[0]!)).join(' → ');
}

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
export function printPlan(out: Output, plan: Plan, zones: string[], drain: DrainView, catalogSource: string): void {
  out.line(`Plan for ${plan.material}${zones.length > 1 ? ` (${zones.length} rotations, one per zone: ${zones.join(', ')})` : plan.zone_id ? ` zone ${plan.zone_id}` : ''}${plan.role ? ` role ${plan.role}` : ''}`);
  out.line('  computed locally; nothing was published or written');
  out.line(`  catalog         ${catalogSource}`);
  const secret = plan.secret ? `${plan.secret.file} (env ${plan.secret.env}; overlap file ${plan.secret.previous_file})` : 'not a file (the writer keeps it)';
  out.line(`  secret          ${secret}${plan.derived.length ? `; re-renders ${plan.derived.join(', ')}` : ''}`);
  out.line(`  format, writer  ${plan.format}, ${plan.writer}`);
  out.line(`  overlap         ${plan.overlap === 'dual' ? 'dual: holders accept the previous value during the window' : 'none: every holder switches together'}`);
  out.line(`  phases          ${plan.phases.join(' → ')}`);
  out.line(`  roll order      ${rollOrder(plan.holders)}`);
  out.line('  checks');
  for (const phase of ['stage', 'deploy', 'retire', 'rollback'] as const) {
    if (phase === 'stage' && !plan.phases.includes('stage')) continue;
    out.line(`    ${phase.padEnd(9)} ${plan.checks[phase].join(', ') || '-'}`);
  }
  out.line(`  safety window   ${duration(plan.safety_window_ms)}${plan.emergency ? ' (emergency: retirement follows a passing verification)' : ''}`);
  if (plan.old_key_pending !== undefined) out.line(`  old-key pending ${plan.old_key_pending} entries in the drain set now`);
  out.line(`  drain set       ${plan.drain.map((d) => `${d.stream} / ${d.group}`).join(', ') || 'none'}`);
  if (plan.drain.length === 0) {
    // Nothing to wait for: retirement follows the window alone.
  } else if (!drain.inspected) out.line(`    (not inspected: ${drain.note})`);
  else if (drain.targets.length === 0) out.line('    no stream/group matches yet');
  else {
    for (const t of drain.targets) out.line(`    ${t.stream}  ${t.group}  pending ${t.pending}  lag ${t.lag ?? '?'}`);
  }
  if (plan.warnings.length) {
    out.line('  warnings');
    for (const w of plan.warnings) out.line(`    - ${w}`);
  }
}
