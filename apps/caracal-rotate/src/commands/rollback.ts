import { stageEventId, verifiedDataSchema, type VerifiedData } from '@caracal-rotation/contracts';
import type { RotationRecord } from '@caracal-rotation/projection';
import { EXIT, UsageError, requireServers } from '../environment.js';
import { connectOperator, defaultActor } from '../operator.js';
import { requireRotation, rotationContext, rotationIdArg, withProjection } from '../projection-access.js';
import { str, type Command } from './command.js';

/** Why a rollback is not possible now, or undefined inside the rollback window. */
export function rollbackRefusal(r: RotationRecord, now = Date.now()): string | undefined {
  const ends = r.retireAfter ? Date.parse(r.retireAfter) : undefined;
  if (r.state === 'waiting_retirement' && ends !== undefined && ends > now) return undefined;
  if (ends !== undefined && ends <= now && ['waiting_retirement', 'retiring', 'completed'].includes(r.state)) {
    return `the rollback window ended at ${r.retireAfter}; the old material ${r.state === 'completed' ? 'was retired' : 'is being retired'}`;
  }
  const why = r.dryRun ? ' (a dry run is never deployed)' : r.state === 'rolling_back' || r.rolledBack ? ' (it is already being, or was, rolled back)' : '';
  return `rotation is ${r.state}, not waiting for retirement${why}; a rollback is possible only between a passing deploy verification and the end of the safety window`;
}

export const rollbackCommand: Command = {
  name: 'rollback',
  summary: 'restore the previous material of a rotation inside its rollback window',
  usage: 'rollback ROTATION_ID [--reason TEXT] [--actor A]',
  details: `Possible only while the rotation waits for retirement and its rollback window (the
safety window after the passing deploy verification, retire_after in the projection) has
not ended. It publishes a signed verified(deploy, ok=false) event with the check
operator_rollback; the secret-writer then restores the previous material from its version
history, the roller restarts the holders and the verifier checks them. The rotation ends
failed with rolled_back=true (follow it with caracal-rotate watch ROTATION_ID).

Outside the window it exits 1 and says why.

Options:
  --reason TEXT   why (recorded in the check's detail)
  --actor A       who asks (default: user@host)

Examples:
  caracal-rotate rollback 01936d3e-8f1a-7c2b-9a4d-0e5f6a7b8c9d --reason "gateway exchange errors after deploy"`,
  options: { reason: { type: 'string' }, actor: { type: 'string' } },
  positionals: ['ROTATION_ID'],
  required: 1,
  async run({ out, env, values, positionals }) {
    const id = rotationIdArg(positionals[0]);
    const reason = str(values, 'reason')?.trim() || 'no reason given';
    const actor = str(values, 'actor') ?? defaultActor();
    if (reason.length > 500 || actor.length > 200) throw new UsageError('--reason takes at most 500 characters and --actor 200', EXIT.usage);
    await requireServers(env);
    const { record, context } = await withProjection(env, async (db) => ({ record: await requireRotation(db, env, id), context: await rotationContext(db, id) }));
    const refusal = rollbackRefusal(record);
    if (refusal) throw new UsageError(`cannot roll back ${id}: ${refusal}`, EXIT.failed);

    const parsed = verifiedDataSchema.safeParse({
      ...context,
      phase: 'deploy',
      ok: false,
      checks: [{ name: 'operator_rollback', ok: false, detail: `rollback requested by ${actor}: ${reason}`, duration_ms: 0 }],
      diagnosis: `operator rollback: ${actor} asked to restore the previous material during the rollback window (until ${record.retireAfter}): ${reason}`,
    });
    if (!parsed.success) {
      throw new UsageError(`cannot roll back ${id}: the projection holds no usable deploy context for it (${parsed.error.issues[0]?.message ?? 'invalid'})`, EXIT.failed);
    }
    const data: VerifiedData = parsed.data;
    const operator = await connectOperator(env);
    try {
      const eventId = stageEventId(id, 'operator', 'rollback');
      const entryId = await operator.publish({ stream: operator.streams.verified, name: 'verified', eventId, rotationId: id, data });
      out.line(`Rollback requested for rotation ${id} (${data.material}${data.zone_id ? ` zone ${data.zone_id}` : ''}), inside the rollback window (until ${record.retireAfter}).`);
      out.line(`  published  verified(deploy, ok=false) with check operator_rollback: event ${eventId}, entry ${entryId} on ${operator.streams.verified}`);
      out.line(`  next       the secret-writer restores the previous material (kid ${data.previous?.kid ?? 'unknown'}), the roller restarts the holders,`);
      out.line('             the verifier checks them; the rotation then ends failed with rolled_back=true');
      out.line(`  follow     caracal-rotate watch ${id}`);
      out.result({
        rotation_id: id,
        action: 'rollback',
        event_id: eventId,
        stream: operator.streams.verified,
        entry_id: entryId,
        actor,
        reason,
        window_ends_at: record.retireAfter,
        restores_kid: data.previous?.kid ?? null,
      });
      return EXIT.ok;
    } finally {
      await operator.close();
    }
  },
};
