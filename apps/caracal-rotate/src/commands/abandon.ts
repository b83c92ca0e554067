import { join } from 'node:path';
import { PHASES, failedDataSchema, stageEventId, type FailedData, type Phase, type Plan } from '@caracal-rotation/contracts';
import { TERMINAL_STATES, listRotations, type RotationRecord } from '@caracal-rotation/projection';
import { EXIT, UsageError, requireServers } from '../environment.js';
import { connectOperator, defaultActor } from '../operator.js';
import { rollOrder } from '../plan-report.js';
import { requireRotation, rotationIdArg, withProjection } from '../projection-access.js';
import { str, type Command } from './command.js';

/** Why this rotation cannot be abandoned, or undefined. */
function refusal(r: RotationRecord, members: RotationRecord[]): string | undefined {
  if (members.length) {
    return `it is a batch of ${members.length} rotations; abandon the members that are stuck one by one (caracal-rotate list --batch ${r.rotationId})`;
  }
  if (TERMINAL_STATES.includes(r.state)) return `rotation is ${r.state}: it has already ended, there is nothing to abandon`;
  if (r.state === 'requested' || r.state === 'queued') {
    return `rotation is ${r.state}: it holds no class lock yet and the planner will still answer it, so abandoning it would not stop it; wait until it is planned (or rejected)`;
  }
  if (!r.material) return 'the projection does not know its material yet';
  return undefined;
}

/** The lock subject the planner frees for this rotation (as its subjectOf). */
const subjectOf = (r: RotationRecord) => (r.zoneId ? `zone ${r.zoneId}` : r.role ? `role ${r.role}` : `material ${r.material}`);

export const abandonCommand: Command = {
  name: 'abandon',
  summary: 'give up a stuck rotation: release its class lock; touches no secret',
  usage: 'abandon ROTATION_ID --reason TEXT [--actor A]',
  details: `For a rotation that is stuck (a stage down for good, a holder that never comes back):
publishes a signed failed event {stage: "operator", rolled_back: false}. The planner
consumes it and releases the class lock, so the next queued request is planned; the
recorder marks the rotation abandoned (terminal).

It does NOT touch the secret files and does not stop a stage still working on the
rotation: the files may hold the new value, the old one or both, and a human must
decide which to keep. Use rollback instead while the rollback window is open.

Options:
  --reason TEXT   why (required; recorded as the failure)
  --actor A       who (default: user@host)

Examples:
  caracal-rotate abandon 01936d3e-8f1a-7c2b-9a4d-0e5f6a7b8c9d --reason "roller host lost; finishing by hand (OPS-7)"`,
  options: { reason: { type: 'string' }, actor: { type: 'string' } },
  positionals: ['ROTATION_ID'],
  required: 1,
  async run({ out, env, values, positionals }) {
    const id = rotationIdArg(positionals[0]);
    const reason = str(values, 'reason')?.trim();
    if (!reason) throw new UsageError(`--reason is required: say why the rotation is abandoned, e.g. caracal-rotate abandon ${id} --reason "roller host lost"`, EXIT.usage);
    const actor = str(values, 'actor') ?? defaultActor();
    if (reason.length > 500 || actor.length > 200) throw new UsageError('--reason takes at most 500 characters and --actor 200', EXIT.usage);
    await requireServers(env);
    const { record, members } = await withProjection(env, async (db) => ({
      record: await requireRotation(db, env, id),
      members: await listRotations(db, { batchId: id, limit: 10_000 }),
    }));
    const refused = refusal(record, members);
    if (refused) throw new UsageError(`cannot abandon ${id}: ${refused}`, EXIT.failed);

    const phase: Phase = (PHASES as readonly string[]).includes(record.phase ?? '') ? (record.phase as Phase) : 'deploy';
    const data: FailedData = failedDataSchema.parse({
      material: record.material,
      zone_id: record.zoneId ?? undefined,
      role: record.role ?? undefined,
      batch_id: record.batchId ?? undefined,
      stage: 'operator',
      phase,
      error: `abandoned by ${actor}: ${reason}`,
      rolled_back: false,
    });
    const plan = record.plan as Plan | null;
    const files = plan?.secret ? [record.secretLocation ?? join(env.secretsDir, plan.secret.file), join(env.secretsDir, plan.secret.previous_file)] : [];
    const operator = await connectOperator(env);
    try {
      const eventId = stageEventId(id, 'operator', 'abandon');
      const entryId = await operator.publish({ stream: operator.streams.failed, name: 'failed', eventId, rotationId: id, data });
      out.line(`Abandoned rotation ${id} (${record.material}, was ${record.state} in phase ${phase}).`);
      const quietFor = Date.now() - Date.parse(record.updatedAt);
      if (quietFor < 60_000) out.line(`Warning: it last progressed ${Math.round(quietFor / 1000)}s ago, so it may not have been stuck; its stages may go on.`);
      out.line('What this did:');
      out.line(`  - published failed {stage: operator, phase: ${phase}, rolled_back: false}: event ${eventId}, entry ${entryId} on ${operator.streams.failed}`);
      out.line(`  - the planner releases the class lock held for ${subjectOf(record)}; the next queued request, if any, is planned now`);
      out.line('  - the recorder marks the rotation abandoned (terminal; no retirement will be scheduled)');
      out.line('What it did NOT do:');
      out.line(`  - the secret files were NOT touched${files.length ? `: ${files.join(' and ')}` : ''} may hold the new value, the old one or both`);
      out.line(`    (new kid ${record.newKid ?? 'none'}, previous kid ${record.previousKid ?? 'none'}). A human must decide which to keep and restart the holders`);
      out.line(`    (${plan ? rollOrder(plan.holders) : 'see caracal-rotate catalog'}) where needed.`);
      out.line('  - a stage still working on this rotation is not stopped; if it resumes it may go on writing; check the services\' logs.');
      out.result({
        rotation_id: id,
        action: 'abandon',
        event_id: eventId,
        stream: operator.streams.failed,
        entry_id: entryId,
        actor,
        reason,
        previous_state: record.state,
        phase,
        lock_released_for: subjectOf(record),
        secrets_touched: false,
        needs_human: true,
        secret_files: files,
        new_kid: record.newKid,
        previous_kid: record.previousKid,
      });
      return EXIT.ok;
    } finally {
      await operator.close();
    }
  },
};
