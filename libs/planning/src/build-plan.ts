import { BASELINE_CHECKS, safetyWindowOf, type CatalogEntry, type CheckName, type DrainPair, type Plan } from '@caracal-rotation/contracts';
import type { AcceptedRequest } from './validate-request.js';

export interface PlanContext {
  requestedAt: string;
  /** Prefix of this system's own streams; they join every STREAMS_HMAC_KEY drain set. */
  streamPrefix: string;
  /** Namespace of Caracal's stream names (empty in production). */
  caracalNamespace: string;
  /** Entries pending in the drain set now (reported for overlap `none`). */
  oldKeyPending?: number;
}

const withBaseline = (checks: readonly CheckName[]): CheckName[] => [...new Set<CheckName>([...BASELINE_CHECKS, ...checks])];

/** `caracal.*` patterns in the catalog follow the fleet's namespace. */
export function drainSetOf(entry: CatalogEntry, ctx: Pick<PlanContext, 'streamPrefix' | 'caracalNamespace'>): DrainPair[] {
  const pairs = entry.drain.map((p) => ({ stream: `${ctx.caracalNamespace}${p.stream}`, group: p.group }));
  if (entry.material === 'STREAMS_HMAC_KEY') pairs.push({ stream: `${ctx.streamPrefix}.*`, group: '*' });
  const seen = new Set<string>();
  return pairs.filter((p) => !seen.has(`${p.stream}|${p.group}`) && seen.add(`${p.stream}|${p.group}`));
}

export const fileNameFor = (template: string, role?: string): string => template.replace('{role}', role ?? '');

/** The plan of one rotation: a pure function of the catalog entry and the request. */
export function buildPlan(request: AcceptedRequest, zoneId: string | undefined, ctx: PlanContext): Plan {
  const { entry, data } = request;
  const emergency = data.emergency === true;
  const staged = entry.overlap === 'dual' && (entry.writer === 'file' || entry.writer === 'redis-acl');
  const holders = request.role && entry.holders_by_role ? (entry.holders_by_role[request.role] ?? []) : entry.holders;
  const warnings: string[] = [];
  if (entry.overlap === 'none' && holders.length > 0) {
    warnings.push(
      `${entry.material} has no overlap: every holder (${holders.map((h) => h.service).join(', ')}) restarts together, and entries signed with the old value that are in flight during the switch may be refused.`,
    );
  }
  if (emergency) warnings.push('emergency: the material is presumed compromised; the safety window is zero and retirement follows a passing verification.');
  const checks = {
    stage: withBaseline([]),
    deploy: withBaseline(entry.overlap === 'none' ? [...entry.checks.deploy, 'holder_dead_letters'] : entry.checks.deploy),
    retire: withBaseline(entry.checks.retire),
    rollback: withBaseline([]),
  };

  return {
    material: entry.material,
    zone_id: zoneId,
    role: request.role,
    format: entry.format,
    overlap: entry.overlap,
    writer: entry.writer,
    secret: entry.file
      ? { env: entry.env, file: fileNameFor(entry.file, request.role), previous_file: `${fileNameFor(entry.file, request.role)}Previous` }
      : null,
    derived: entry.derived.map((d) => fileNameFor(d, request.role)),
    phases: staged ? ['stage', 'deploy', 'retire'] : ['deploy', 'retire'],
    holders: [...holders].sort((a, b) => a.roll_group - b.roll_group),
    checks,
    safety_window_ms: emergency ? 0 : safetyWindowOf(entry),
    drain: drainSetOf(entry, ctx),
    emergency,
    dry_run: data.dry_run === true,
    warnings,
    old_key_pending: entry.overlap === 'none' ? ctx.oldKeyPending : undefined,
    requested: { actor: data.actor, reason: data.reason, ticket: data.ticket, requested_at: ctx.requestedAt },
  };
}
