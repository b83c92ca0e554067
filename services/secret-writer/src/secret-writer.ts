import { subscribe, type OutgoingEvent } from '@caracal-rotation/bus';
import {
  stageEventId,
  type FailedData,
  type Phase,
  type Plan,
  type PlannedData,
  type RetiringData,
  type RotationEvent,
  type VerifiedData,
  type WrittenData,
} from '@caracal-rotation/contracts';
import type { ServiceRuntime } from '@caracal-rotation/runtime';
import { SecretsError } from '@caracal-rotation/secrets';
import type { MaterialWriter } from './writers/material-writer.js';
import { WriteRefused } from './writers/write-refused.js';

export type WriterRegistry = Partial<Record<Plan['writer'], MaterialWriter>>;

interface Subject {
  material: Plan['material'];
  zone_id?: string;
  role?: string;
  batch_id?: string;
  plan: Plan;
}

/**
 * The secret-writer stage: the only process with write access to secrets.
 * It turns `planned`, `verified(stage, ok)`, `verified(not ok)` and
 * `retiring` into the writes of docs/pipeline.md and announces each on
 * `written`.
 */
export function createSecretWriter(runtime: ServiceRuntime, writers: WriterRegistry) {
  const { streams, metrics } = runtime;

  async function write(rotationId: string, phase: Phase, subject: Subject): Promise<OutgoingEvent[]> {
    const { plan } = subject;
    const writer = writers[plan.writer];
    const base = { material: subject.material, zone_id: subject.zone_id, role: subject.role, batch_id: subject.batch_id };
    if (!writer) return [failed(rotationId, phase, base, `no ${plan.writer} writer is configured in this secret-writer`)];
    const timer = metrics.stageDuration.startTimer({ stage: 'secret-writer', phase });
    try {
      const outcome = await writer.write(phase, { rotationId, plan });
      timer({ outcome: 'ok' });
      runtime.logger.info({ rotation_id: rotationId, material: plan.material, zone_id: plan.zone_id, phase, kid: outcome.new.kid, location: outcome.new.location }, 'material written');
      const data: WrittenData = { phase, ...base, plan, new: outcome.new, previous: outcome.previous, changed: outcome.changed };
      return [{ stream: streams.written, name: 'written', eventId: stageEventId(rotationId, 'secret-writer', phase), rotationId, data }];
    } catch (err) {
      timer({ outcome: 'error' });
      // A refusal of the store (unsafe directory, missing material) will not
      // fix itself on retry: end the rotation visibly. Anything else retries.
      if (err instanceof SecretsError) return [failed(rotationId, phase, base, `${err.code}: ${err.message}`)];
      if (err instanceof WriteRefused) return [failed(rotationId, phase, base, err.message)];
      throw err;
    }
  }

  function failed(rotationId: string, phase: Phase, base: Omit<Subject, 'plan'>, error: string): OutgoingEvent {
    const data: FailedData = { ...base, stage: 'secret-writer', phase, error, rolled_back: false };
    return { stream: streams.failed, name: 'failed', eventId: stageEventId(rotationId, 'secret-writer', `${phase}-failed`), rotationId, data };
  }

  const onPlanned = async (e: RotationEvent<PlannedData>) => (e.data.plan.dry_run ? [] : write(e.rotationId, e.data.plan.phases[0]!, e.data));

  const onVerified = async (e: RotationEvent<VerifiedData>) => {
    const { phase, ok } = e.data;
    if (phase === 'stage' && ok) return write(e.rotationId, 'deploy', e.data);
    if ((phase === 'stage' || phase === 'deploy') && !ok) return write(e.rotationId, 'rollback', e.data);
    return [];
  };

  const onRetiring = async (e: RotationEvent<RetiringData>) => write(e.rotationId, 'retire', e.data);

  return [
    subscribe<PlannedData>({ stream: streams.planned, event: 'planned', handle: onPlanned }),
    subscribe<VerifiedData>({ stream: streams.verified, event: 'verified', handle: onVerified }),
    subscribe<RetiringData>({ stream: streams.retiring, event: 'retiring', handle: onRetiring }),
  ];
}
