import { rotationStreams } from '@caracal-rotation/contracts';
import { isTerminal as isTerminalState } from '@caracal-rotation/lifecycle';
import { getRotation, listRotations, rotationEvents, type RotationEventRecord, type RotationRecord } from '@caracal-rotation/projection';
import { EXIT, UsageError, connectRedis, requireServers } from '../environment.js';
import { uuidv7Time } from '../format.js';
import { withProjection } from '../projection-access.js';
import { rotationIdArg } from '../rotation-id.js';
import { followRotation } from '../follow.js';
import { Timeline, followedFromRecord, reportOutcome, type Outcome } from '../timeline.js';
import { secondsFlag, type Command } from './command.js';

interface History {
  record?: RotationRecord;
  members: RotationRecord[];
  events: RotationEventRecord[];
  note?: string;
}

const isTerminal = (r: RotationRecord) => isTerminalState(r.state);

/** How a finished rotation (or batch) ended, from the projection alone. */
function recordedOutcome(h: History): Outcome | undefined {
  const rows = h.members.length ? h.members : h.record ? [h.record] : [];
  if (rows.length === 0 || !rows.every(isTerminal)) return undefined;
  const states = rows.map((r) => r.state as Outcome);
  return states.find((s) => s === 'failed') ?? states.find((s) => s !== 'completed') ?? 'completed';
}

export const watchCommand: Command = {
  name: 'watch',
  summary: 'follow one rotation stage by stage until it ends (history first, then live)',
  usage: 'watch ROTATION_ID [--timeout SECONDS]',
  details: `Prints what the projection recorded for the rotation (or every member of a batch),
then follows the rotation streams live until it completes, fails, is rejected or is
abandoned. Each line shows the time since the request, the stage that emitted the event
and how long that stage took.

Options:
  --timeout S   give up after S seconds (default: a week; exit 3)

Exit codes: 0 completed, 1 failed, rejected, abandoned or dead-lettered, 3 timeout.

Examples:
  caracal-rotate watch 01936d3e-8f1a-7c2b-9a4d-0e5f6a7b8c9d
  caracal-rotate watch 01936d3e-8f1a-7c2b-9a4d-0e5f6a7b8c9d --json`,
  options: { timeout: { type: 'string' } },
  positionals: ['ROTATION_ID'],
  required: 1,
  async run({ out, env, values, positionals }) {
    const id = rotationIdArg(positionals[0]);
    const timeoutMs = secondsFlag(values, 'timeout', 7 * 24 * 3600);
    // The projection gives the history even after streams were trimmed; without it, the streams alone.
    const history: History = await withProjection(env, async (db) => ({
      record: await getRotation(db, id),
      members: await listRotations(db, { batchId: id, limit: 10_000 }),
      events: await rotationEvents(db, id),
    })).catch((err: unknown) => {
      if (err instanceof UsageError && err.exitCode === EXIT.unavailable) return { members: [], events: [], note: err.message };
      throw err;
    });
    const requestedAt = uuidv7Time(id);
    if (!history.note && !history.record && history.members.length === 0 && (requestedAt === undefined || Date.now() - requestedAt > 10 * 60_000)) {
      throw new UsageError(`no rotation ${id} in the projection; check the id with caracal-rotate list`, EXIT.failed);
    }
    for (const m of history.members) history.events.push(...(await withProjection(env, (db) => rotationEvents(db, m.rotationId))));
    history.events.sort((a, b) => a.occurredAt.localeCompare(b.occurredAt));

    const r = history.record;
    out.line(`Rotation ${id}${r ? `: ${r.material ?? '?'}${r.zoneId ? ` zone ${r.zoneId}` : ''}${r.role ? ` role ${r.role}` : ''}, ${r.state}` : ''}`);
    if (history.note) out.line(`  (projection unavailable, following the streams only: ${history.note.split('\n')[0]})`);
    const timeline = new Timeline(out, requestedAt ?? Date.now(), id);
    for (const e of history.events) {
      const followed = followedFromRecord(e);
      if (followed) timeline.add(followed);
    }
    const recorded = recordedOutcome(history);
    if (recorded) return reportOutcome(out, id, recorded, timeline, { rotation: r ?? null });

    await requireServers(env, { redis: true });
    const redis = connectRedis(env, 'caracal-rotate-watch');
    try {
      const result = await followRotation(redis, rotationStreams(env.streamPrefix), id, (e) => timeline.add(e), { timeoutMs });
      return reportOutcome(out, id, timeline.outcome(id, result), timeline, { rotation: r ?? null }, result.deadLettered);
    } finally {
      redis.disconnect();
    }
  },
};
