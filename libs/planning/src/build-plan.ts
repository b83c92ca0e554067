import {
  BASELINE_CHECKS,
  CHECK_NEEDS,
  ORCHESTRATOR_SERVICES,
  safetyWindowOf,
  type CatalogEntry,
  type CheckName,
  type DrainPair,
  type HolderStep,
  type HoldersConfig,
  type Phase,
  type PhaseSteps,
  type Plan,
} from '@caracal-rotation/contracts';
import type { AcceptedRequest } from './validate-request.js';

export interface PlanContext {
  requestedAt: string;
  /** The operator the request's key belongs to. */
  actor: string;
  /** Prefix of this system's own streams (`{rotation}` in the catalog's drain sets). */
  streamPrefix: string;
  /** The deployment: which Caracal services exist and how each restarts. */
  holders: HoldersConfig;
}

type Skipped = Plan['skipped'][number];

export const fileNameFor = (template: string, role?: string): string => template.replace('{role}', role ?? '');

/** `caracal.*` patterns follow the fleet's stream namespace; `{rotation}` is our own stream prefix. */
export function drainSetOf(entry: CatalogEntry, ctx: Pick<PlanContext, 'streamPrefix' | 'holders'>): DrainPair[] {
  const namespace = ctx.holders.caracal.namespace;
  const pairs = entry.drain.map((p) => ({
    stream: p.stream.startsWith('{rotation}') ? p.stream.replace('{rotation}', ctx.streamPrefix) : `${namespace}${p.stream}`,
    group: p.group,
  }));
  const seen = new Set<string>();
  return pairs.filter((p) => !seen.has(`${p.stream}|${p.group}`) && seen.add(`${p.stream}|${p.group}`));
}

const isOurs = (service: string): boolean => (ORCHESTRATOR_SERVICES as readonly string[]).includes(service);

/**
 * The holders to restart, in roll groups, and what is left out: services the
 * holders file does not list, or lists as re-reading the file by itself.
 */
function rollGroups(steps: HolderStep[], holders: HoldersConfig): { groups: string[][]; skipped: Skipped[] } {
  const skipped: Skipped[] = [];
  const byGroup = new Map<number, string[]>();
  for (const { service, roll_group } of [...steps].sort((a, b) => a.roll_group - b.roll_group)) {
    const holder = holders.services[service as keyof HoldersConfig['services']];
    if (!isOurs(service)) {
      if (!holder) {
        skipped.push({ what: `restart ${service}`, why: 'the holders file does not list it' });
        continue;
      }
      if (holder.restart.adapter === 'none') {
        skipped.push({ what: `restart ${service}`, why: holder.restart.why });
        continue;
      }
    }
    byGroup.set(roll_group, [...(byGroup.get(roll_group) ?? []), service]);
  }
  return { groups: [...byGroup.values()], skipped };
}

/** The checks the deployment can run, and why the others are left out. */
function runnableChecks(names: readonly CheckName[], holders: HoldersConfig): { checks: CheckName[]; skipped: Skipped[] } {
  const checks: CheckName[] = [];
  const skipped: Skipped[] = [];
  for (const name of new Set(names)) {
    const missing = CHECK_NEEDS[name].find((need) => ('service' in need ? !holders.services[need.service] : !holders[need.section]));
    if (!missing) checks.push(name);
    else skipped.push({ what: `check ${name}`, why: 'service' in missing ? `needs the ${missing.service} service, which the holders file does not list` : `needs the ${missing.section} section of the holders file` });
  }
  return { checks, skipped };
}

/** The plan of one rotation (or of a batch of zone rotations): a pure function of the catalog entry, the deployment and the request. */
export function buildPlan(request: AcceptedRequest, ctx: PlanContext): Plan {
  const { entry, data } = request;
  const emergency = data.emergency === true;
  const holderSteps = request.role && entry.roles ? (entry.roles[request.role]?.holders ?? []) : entry.holders;
  const roll = rollGroups(holderSteps, ctx.holders);
  const skipped: Skipped[] = [...roll.skipped];

  const checksFor = (names: readonly CheckName[]): CheckName[] => {
    // The orchestrator's own bus key touches no Caracal service: no baseline.
    const all = entry.material === 'ROTATION_BUS_KEY' ? [...names] : [...BASELINE_CHECKS, ...names];
    const runnable = runnableChecks(roll.groups.length > 0 ? ['holders_restarted', ...all] : all, ctx.holders);
    for (const s of runnable.skipped) if (!skipped.some((k) => k.what === s.what)) skipped.push(s);
    return runnable.checks;
  };
  const phase = (name: Phase, write: boolean, restarts: boolean, checks: readonly CheckName[]): PhaseSteps => ({
    phase: name,
    write,
    roll: restarts ? roll.groups : [],
    checks: checksFor(checks),
  });

  const dual = entry.overlap === 'dual';
  const phases: PhaseSteps[] = [
    ...(dual ? [phase('stage', true, true, [])] : []),
    phase('deploy', true, true, entry.checks.deploy),
    // Dual overlap removes the previous value and restarts; otherwise retirement changes
    // what only the server holds (the Redis password) or nothing at all.
    phase('retire', dual || entry.writer === 'redis-password', dual, entry.checks.retire),
  ];
  const rollback: Plan['rollback'] = {
    mode: entry.rollback,
    why: entry.rollback_why,
    steps: phase('rollback', entry.rollback !== 'none', entry.rollback !== 'none', entry.checks.deploy),
  };

  const warnings = [...entry.warnings];
  if (entry.overlap === 'none' && roll.groups.length > 0) {
    warnings.push(`${entry.material} has one value at a time: ${roll.groups.flat().join(', ')} restart together.`);
  }
  if (emergency) warnings.push('emergency: the material is presumed compromised; the safety window is zero and retirement follows a passing verification.');
  const single = request.zones !== 'all' && request.zones.length === 1 && !request.batch;

  return {
    version: 2,
    material: entry.material,
    zone_id: single ? (request.zones as string[])[0] : undefined,
    batch: request.batch ? { zones: request.zones === 'all' ? 'all' : request.zones.length } : undefined,
    role: request.role,
    format: entry.format,
    overlap: entry.overlap,
    writer: entry.writer,
    store: entry.store,
    secret: entry.file
      ? {
          env: entry.env,
          file: fileNameFor(entry.file, request.role),
          previous_file: dual ? `${fileNameFor(entry.file, request.role)}Previous` : null,
          previous_at_rest: entry.previous_at_rest,
        }
      : null,
    derived: entry.derived.map((d) => fileNameFor(d, request.role)),
    phases,
    rollback,
    safety_window_ms: emergency ? 0 : safetyWindowOf(entry),
    window_parts: emergency ? undefined : entry.window_parts,
    drain: drainSetOf(entry, ctx),
    drain_before_switch: entry.drain_before_switch,
    emergency,
    dry_run: data.dry_run === true,
    warnings,
    skipped,
    requested: { actor: ctx.actor, reason: data.reason, ticket: data.ticket, requested_at: ctx.requestedAt },
  };
}
