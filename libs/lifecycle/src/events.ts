import type { IntentAction, Phase } from '@caracal-rotation/contracts';

/** What the lifecycle needs to know of an event: its stream, and for stage events the phase and outcome. */
export type LifecycleEvent =
  | { name: 'requested' | 'queued' | 'intent' | 'rollback' | 'abandoned' | 'retiring' | 'failed' | 'completed' }
  /** A batch's own `planned` hands the work to its children: the batch request itself goes no further. */
  | { name: 'planned'; dryRun: boolean; batchParent?: boolean }
  | { name: 'rejected'; intent?: IntentAction }
  | { name: 'written' | 'rolled'; phase: Phase }
  | { name: 'verified'; phase: Phase; ok: boolean };

/** Builds the lifecycle's view of a decoded event from its stream name and payload. */
export function lifecycleEvent(name: string, data: { phase?: Phase; ok?: boolean; dry_run?: boolean; intent?: IntentAction; batch?: unknown }): LifecycleEvent {
  switch (name) {
    case 'planned':
      return { name, dryRun: data.dry_run === true, batchParent: data.batch !== undefined };
    case 'rejected':
      return { name, intent: data.intent };
    case 'written':
    case 'rolled':
      return { name, phase: data.phase ?? 'deploy' };
    case 'verified':
      return { name, phase: data.phase ?? 'deploy', ok: data.ok === true };
    case 'requested':
    case 'queued':
    case 'intent':
    case 'rollback':
    case 'abandoned':
    case 'retiring':
    case 'failed':
    case 'completed':
      return { name };
    default:
      throw new Error(`no rotation event is called ${name}`);
  }
}
