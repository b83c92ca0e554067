import { stageEventId, type IntentAction, type RejectedData } from '@caracal-rotation/contracts';
import { EXIT, UsageError, type CliEnvironment } from './environment.js';
import { awaitEvents } from './follow.js';
import { connectOperator } from './operator.js';

export type IntentAnswer =
  | { outcome: 'approved'; by: 'planner' | 'secret-writer'; eventId: string }
  | { outcome: 'abandoned'; eventId: string; state: string }
  | { outcome: 'refused'; by: 'planner' | 'secret-writer'; code: string; message: string }
  | { outcome: 'no_answer' };

/**
 * Publishes an operator's intent and waits for the answer it gets. The
 * answers' event ids are derived from the intent's, so this finds exactly
 * them: the planner's decision (rollback, abandoned or rejected) and, for a
 * rollback, the secret-writer's (it applies it, or refuses it because
 * retirement began or the window ended).
 */
export async function sendIntent(env: CliEnvironment, rotationId: string, action: IntentAction, reason: string, ticket: string | undefined, timeoutMs: number): Promise<{ intentEventId: string; answer: IntentAnswer }> {
  const operator = await connectOperator(env);
  try {
    const since = `${Date.now() - 1}-0`;
    const intentEventId = await operator.intend(rotationId, { action, reason, ticket });
    const step = `${action}/${intentEventId}`;
    const rejectedId = stageEventId(rotationId, 'planner', step);
    const approvedId = action === 'rollback' ? stageEventId(rotationId, 'planner', step) : stageEventId(rotationId, 'planner', 'abandon');
    const s = operator.streams;
    const planner = await awaitEvents(operator.redis, [s.rejected, action === 'rollback' ? s.rollback : s.abandoned], since, (e) => e.eventId === rejectedId || e.eventId === approvedId, timeoutMs);
    if (!planner) return { intentEventId, answer: { outcome: 'no_answer' } };
    if (planner.name === 'rejected') {
      const d = planner.data as RejectedData;
      return { intentEventId, answer: { outcome: 'refused', by: 'planner', code: d.reason_code, message: d.message } };
    }
    if (action === 'abandon') return { intentEventId, answer: { outcome: 'abandoned', eventId: planner.eventId, state: String(planner.data.state ?? '') } };

    const refusedId = stageEventId(rotationId, 'secret-writer', `rollback-refused/${planner.eventId}`);
    const writtenId = stageEventId(rotationId, 'secret-writer', 'rollback');
    const writer = await awaitEvents(operator.redis, [s.rejected, s.written], since, (e) => e.eventId === refusedId || e.eventId === writtenId, timeoutMs);
    if (!writer) return { intentEventId, answer: { outcome: 'approved', by: 'planner', eventId: planner.eventId } };
    if (writer.name === 'rejected') {
      const d = writer.data as RejectedData;
      return { intentEventId, answer: { outcome: 'refused', by: 'secret-writer', code: d.reason_code, message: d.message } };
    }
    return { intentEventId, answer: { outcome: 'approved', by: 'secret-writer', eventId: writer.eventId } };
  } finally {
    await operator.close();
  }
}

/** `--reason` of an intent: required, at most 500 characters. */
export function intentReason(value: string | undefined, command: string, id: string, example: string): string {
  const reason = value?.trim();
  if (!reason) throw new UsageError(`--reason is required: say why, e.g. caracal-rotate ${command} ${id} --reason "${example}"`, EXIT.usage);
  if (reason.length > 500) throw new UsageError('--reason takes at most 500 characters', EXIT.usage);
  return reason;
}
