import { listRotations, materialStatus, rotationChecks, rotationDrains, rotationEvents, rotationPath, type RotationDetail, type RotationRecord } from '@caracal-rotation/projection';
import type pg from 'pg';
import { loadEffectiveCatalog } from '../catalog-source.js';
import { EXIT, type CliEnvironment } from '../environment.js';
import { age, dash, duration, scopeOf, shortKid } from '../format.js';
import type { Output } from '../output.js';
import { requireRotation, withProjection } from '../projection-access.js';
import { rotationIdArg } from '../rotation-id.js';
import { BATCH_DETAIL_LIMIT, Timeline, followedFromRecord } from '../timeline.js';
import type { Command } from './command.js';

/** A row as lists show it. */
export const summary = (r: RotationRecord) => r;

async function overview(out: Output, env: CliEnvironment, db: pg.Pool): Promise<number> {
  const materials = await materialStatus(db);
  const inFlight = (await listRotations(db, { inFlight: true, limit: 500 })).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  // Materials this system never rotated are worth seeing too; a broken catalog file must not hide the status.
  const catalog = await loadEffectiveCatalog(env).catch(() => undefined);
  const neverRotated = (catalog?.catalog.materials ?? []).map((m) => m.material).filter((m) => !materials.some((s) => s.material === m));

  out.line('Material status');
  out.table(
    ['material', 'scope', 'current kid', 'age', 'latest state', 'latest rotation'],
    materials.map((m) => [m.material, scopeOf(m), shortKid(m.currentKid), age(m.materialAgeSeconds), m.latestState, m.latestRotationId]),
  );
  if (neverRotated.length) out.line(`never rotated by this system: ${neverRotated.join(', ')}`);
  out.line('');
  out.line(inFlight.length ? `In flight (${inFlight.length})` : 'No rotation in flight.');
  if (inFlight.length) {
    out.table(
      ['rotation', 'material', 'scope', 'state', 'phase', 'actor', 'updated'],
      inFlight.map((r) => [r.rotationId, dash(r.material), scopeOf(r), r.state, dash(r.phase), dash(r.actor), r.updatedAt]),
    );
  }
  out.result({ materials, never_rotated: neverRotated, in_flight: inFlight.map(summary) });
  return EXIT.ok;
}

function printRotation(out: Output, r: RotationDetail): void {
  const flags = [r.emergency ? 'emergency' : '', r.dryRun ? 'dry run' : '', r.rolledBack ? 'rolled back' : ''].filter(Boolean);
  out.line(`Rotation ${r.rotationId}`);
  const scope = scopeOf(r);
  out.line(`  material      ${dash(r.material)}${scope === '-' ? '' : ` (${scope})`}${r.batchId ? `, batch ${r.batchId}` : ''}`);
  out.line(`  state         ${r.state}${r.phase ? ` (phase ${r.phase})` : ''}${flags.length ? ` [${flags.join(', ')}]` : ''}`);
  out.line(`  requested     ${dash(r.requestedAt)} by ${dash(r.actor)}: ${dash(r.reason)}${r.ticket ? ` [${r.ticket}]` : ''}`);
  out.line(`  kids          new ${dash(r.newKid)}, previous ${dash(r.previousKid)}`);
  out.line(`  secret        ${dash(r.secretLocation)}`);
  if (r.retireAfter) {
    const open = r.state === 'waiting_retirement' && Date.parse(r.retireAfter) > Date.now();
    out.line(`  rollback      window ${open ? `open until ${r.retireAfter} (caracal-rotate rollback ${r.rotationId})` : `ended ${r.retireAfter}`}`);
  }
  if (r.retiredAt) out.line(`  retired       ${r.retiredAt}`);
  if (r.completedAt) out.line(`  completed     ${r.completedAt}`);
  if (r.plan) out.line(`  plan          ${r.plan.phases.map((p) => p.phase).join(' → ')}; rollback ${r.plan.rollback.mode}; window ${duration(r.plan.safety_window_ms)}`);
  if (r.failure) out.line(`  failure       ${r.failure}`);
  if (r.diagnosis) out.line(`  diagnosis     ${r.diagnosis.replace(/\n/g, '\n                ')}`);
}

async function detail(out: Output, env: CliEnvironment, db: pg.Pool, id: string): Promise<number> {
  const record = await requireRotation(db, env, id);
  const [members, events, checks, drains] = await Promise.all([
    listRotations(db, { batchId: id, limit: 10_000 }),
    rotationEvents(db, id),
    rotationChecks(db, id),
    rotationDrains(db, id),
  ]);
  printRotation(out, record);
  const path = record.plan ? rotationPath(record.plan, events, { state: record.state, progress: record.progress }) : [];
  if (path.length) {
    out.line('');
    out.line('Path');
    const mark = { done: 'done   ', failed: 'FAILED ', current: 'now    ', pending: '       ' } as const;
    for (const step of path) out.line(`  ${mark[step.status]} ${step.label}${step.at ? `  (${step.at})` : ''}`);
  }
  if (members.length) {
    out.line('');
    // A large batch: the count per state, and the zones that did not complete.
    const listed = members.length > BATCH_DETAIL_LIMIT ? members.filter((m) => m.state !== 'completed') : members;
    const counts = new Map<string, number>();
    for (const m of members) counts.set(m.state, (counts.get(m.state) ?? 0) + 1);
    out.line(`Batch members (${members.length}: ${[...counts].map(([state, n]) => `${n} ${state}`).join(', ')})`);
    if (listed.length < members.length) out.line(listed.length ? `  not completed (${listed.length}):` : '  every zone completed');
    if (listed.length) out.table(['rotation', 'scope', 'state', 'new kid'], listed.map((m) => [m.rotationId, scopeOf(m), m.state, shortKid(m.newKid)]));
  }
  out.line('');
  out.line('Timeline (since the request; then the stage that emitted the event and how long it took)');
  const start = Date.parse(events[0]?.occurredAt ?? record.requestedAt ?? record.createdAt);
  const timeline = new Timeline(out, start, id);
  for (const e of events) {
    const followed = followedFromRecord(e);
    if (followed) timeline.add(followed);
  }
  out.line('');
  const failing = checks.filter((c) => !c.ok);
  out.line(`Checks (${checks.length}, ${failing.length} failing)`);
  if (checks.length) out.table(['phase', 'check', 'ok', 'took'], checks.map((c) => [c.phase, c.name, c.ok ? 'ok' : 'FAILED', c.durationMs < 1000 ? `${Math.round(c.durationMs)}ms` : duration(c.durationMs)]));
  for (const c of failing) out.line(`  ${c.phase} ${c.name}: ${c.detail}`);
  out.line('');
  out.line(`Drain evidence (${drains.length} stream/group pairs)`);
  if (drains.length) {
    out.table(
      ['stream', 'group', 'mark', 'pending', 'lag', 'drained', 'checked'],
      drains.map((d) => [d.stream, d.group, d.mark, dash(d.pending), dash(d.lag), d.abandoned ? 'abandoned' : d.drained ? 'yes' : 'no', dash(d.checkedAt)]),
    );
  }
  out.result({ rotation: record, path, members: members.map(summary), timeline: timeline.entries, checks, drains });
  return EXIT.ok;
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'material table and rotations in flight; with an id, one rotation in detail',
  usage: 'status [ROTATION_ID]',
  details: `Reads the recorder's projection (DATABASE_URL).

Without an id: per material (and zone or role) the current key id, its age and the
latest rotation's state, then every rotation in flight.
With an id: the rotation's row, its expected path with the steps done, its stage timeline
(time since the request and the time each stage took), the verification checks (with the
detail of each failure) and the drain gate's evidence (a group no live consumer reads is
shown abandoned).

Examples:
  caracal-rotate status
  caracal-rotate status 01936d3e-8f1a-7c2b-9a4d-0e5f6a7b8c9d --json`,
  options: {},
  positionals: ['ROTATION_ID'],
  required: 0,
  async run({ out, env, positionals }) {
    const id = positionals[0] === undefined ? undefined : rotationIdArg(positionals[0]);
    return withProjection(env, (db) => (id ? detail(out, env, db, id) : overview(out, env, db)));
  },
};
