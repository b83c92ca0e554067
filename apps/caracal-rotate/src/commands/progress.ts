import type { FollowedEvent } from '../follow.js';

const short = (kid: unknown) => (typeof kid === 'string' ? kid.slice(0, 12) : '-');

/** One human line per pipeline event: what happened and the evidence that matters. */
export function describeEvent(e: FollowedEvent): string {
  const d = e.data as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const phase = d.phase ? `(${d.phase})` : '';
  const zone = d.zone_id ? ` zone ${d.zone_id}` : '';
  switch (e.name) {
    case 'requested':
      return `requested ${d.material}${zone}${d.zone_ids ? ` ${d.zone_ids.length} zones` : ''}${d.role ? ` role ${d.role}` : ''}: ${d.reason}`;
    case 'intent':
      return `${d.action} asked: ${d.reason}`;
    case 'queued':
      return `queued behind ${d.waiting_for} (position ${d.position})`;
    case 'rejected':
      return d.intent ? `${d.intent} refused: ${d.reason_code}: ${d.message}` : `rejected: ${d.reason_code}: ${d.message}`;
    case 'planned':
      if (d.batch) return `planned a batch of ${d.batch.zones} zone rotations for ${d.actor}`;
      return `planned${zone} for ${d.actor}${d.dry_run ? ' (dry run)' : ''}`;
    case 'rollback':
      return `rollback approved for ${d.actor}: ${d.reason}`;
    case 'abandoned':
      return `abandoned by ${d.actor} (it was ${String(d.state).replace('_', ' ')}): ${d.reason}`;
    case 'written':
      return d.changed ? `written${phase}: kid ${short(d.new.kid)} at ${d.new.location}` : `written${phase}: nothing to change`;
    case 'rolled': {
      const holders = (d.holders as { service: string; ok: boolean; error?: string }[]).map((h) => `${h.service} ${h.ok ? 'ok' : `FAILED (${h.error})`}`);
      const drain = d.switch_drain as { waited_ms: number; pairs: number; drained: boolean; undrained: { stream: string; group: string; pending: number }[] } | undefined;
      const drained = !drain
        ? ''
        : drain.drained
          ? `, after Caracal's consumers drained (${drain.pairs} stream/group pairs, ${(drain.waited_ms / 1000).toFixed(1)}s)`
          : `, switched before ${drain.undrained.map((u) => `${u.stream}/${u.group} (${u.pending} pending)`).join(', ')} drained`;
      return `restarted${phase}: ${holders.join(', ') || 'no holder to restart'}${drained}`;
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
      return `failed in ${d.stage}${d.phase ? ` (${d.phase})` : ''}: ${d.error}${d.rolled_back ? ' [rolled back]' : ''}`;
  }
}
