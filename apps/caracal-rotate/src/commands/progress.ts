import type { FollowedEvent } from '../follow.js';

const short = (kid: unknown) => (typeof kid === 'string' ? kid.slice(0, 12) : '-');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** One human line per pipeline event: what happened and the evidence that matters. */
export function describeEvent(e: FollowedEvent): string {
  const d = e.data as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const phase = d.phase ? `(${d.phase})` : '';
  const zone = d.zone_id ? ` zone ${d.zone_id}` : '';
  switch (e.name) {
    case 'requested':
      return `requested ${d.material}${zone} by ${d.actor}: ${d.reason}`;
    case 'queued':
      return `queued behind ${d.waiting_for} (position ${d.position})`;
    case 'rejected':
      return `rejected: ${d.reason_code}: ${d.message}`;
    case 'planned': {
      const plan = d.plan;
      const order = plan.holders.map((h: { service: string }) => h.service).join(' → ') || 'no restarts';
      return `planned${zone}: ${plan.phases.join(', ')}; overlap ${plan.overlap}; holders ${order}; window ${seconds(plan.safety_window_ms)}${plan.dry_run ? ' (dry run)' : ''}`;
    }
    case 'written':
      return d.changed ? `written${phase}: kid ${short(d.new.kid)} at ${d.new.location}` : `written${phase}: nothing to change`;
    case 'rolled': {
      const holders = (d.holders as { service: string; ok: boolean; error?: string }[]).map((h) => `${h.service} ${h.ok ? 'ok' : `FAILED (${h.error})`}`);
      return `rolled${phase}: ${holders.join(', ') || 'no holder to restart'}`;
    }
    case 'verified': {
      const checks = d.checks as { name: string; ok: boolean }[];
      const failed = checks.filter((c) => !c.ok).map((c) => c.name);
      return `verified${phase}: ${d.ok ? 'ok' : 'FAILED'} (${checks.length - failed.length}/${checks.length} checks)${failed.length ? ` failing: ${failed.join(', ')}` : ''}${d.diagnosis ? `\n      diagnosis: ${String(d.diagnosis).replace(/\n/g, '\n      ')}` : ''}`;
    }
    case 'retiring': {
      const drain = d.drain as { pending: number }[];
      return `retiring: window ended ${d.window_ended_at}; drain gate open over ${drain.length} stream/group pairs`;
    }
    case 'completed':
      return `completed: new kid ${short(d.new_kid)}, previous ${short(d.previous_kid)}`;
    case 'failed':
      if (d.stage === 'operator') return `abandoned by the operator (${d.phase}): ${d.error}`;
      return `failed in ${d.stage} (${d.phase}): ${d.error}${d.rolled_back ? ' [rolled back]' : ''}`;
  }
}
