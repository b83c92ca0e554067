import { subscribe, TransientError, type OutgoingEvent, type SignedEvent } from '@caracal-rotation/bus';
import {
  catalogEntry,
  stageEventId,
  type AbandonedData,
  type Catalog,
  type FailedData,
  type Phase,
  type Plan,
  type PlanRef,
  type PlannedData,
  type RejectedData,
  type RetiringData,
  type RollbackData,
  type VerifiedData,
  type WrittenData,
} from '@caracal-rotation/contracts';
import { actionOf, lifecycleEvent, writerMayApply } from '@caracal-rotation/lifecycle';
import { fileNameFor } from '@caracal-rotation/planning';
import type { ServiceRuntime } from '@caracal-rotation/runtime';
import { SecretsError, type SecretStore } from '@caracal-rotation/secrets';
import { RotationRecords, type LoadedRecord, type WriterState } from './rotation-record.js';
import { WriteRefused } from './writers/material-writer.js';
import type { WriterRegistry } from './writers/registry.js';

export interface SecretWriterDeps {
  runtime: ServiceRuntime;
  catalog: Catalog;
  writers: { caracal: WriterRegistry; rotation: WriterRegistry };
  /** Where each plan's records live: Caracal's store, or the orchestrator's directory (its bus key). */
  stores: { caracal: SecretStore; rotation: SecretStore };
}

interface Subject {
  material: Plan['material'];
  zone_id?: string;
  role?: string;
  batch_id?: string;
  plan: PlanRef;
}

const CLOSED_BY = { failed: 'failed', abandoned: 'abandoned' } as const;

/**
 * The secret-writer stage: the only process that writes secrets. Every step
 * goes through the rotation's durable record: a phase is claimed there
 * (compare-and-swap), applied, then marked applied. The lifecycle decides
 * from the record whether a phase may happen, so a replayed or racing event
 * (a retirement and an operator's rollback) has at most one effect.
 */
export function createSecretWriter({ runtime, catalog, writers, stores }: SecretWriterDeps) {
  const { streams, metrics, plans, logger } = runtime;
  const recordsOf = (plan: Plan) => new RotationRecords(plan.store === 'rotation' ? stores.rotation : stores.caracal);

  function failed(rotationId: string, phase: Phase, subject: Subject, error: string): OutgoingEvent {
    const data: FailedData = { material: subject.material, zone_id: subject.zone_id, role: subject.role, batch_id: subject.batch_id, stage: 'secret-writer', phase, error: error.slice(0, 4000), rolled_back: false };
    return { stream: streams.failed, name: 'failed', eventId: stageEventId(rotationId, 'secret-writer', `${phase}-failed`), rotationId, data };
  }

  function written(rotationId: string, phase: Phase, subject: Subject, state: WriterState): OutgoingEvent[] {
    const outcome = state.outcomes[phase];
    if (!outcome) return [];
    const data: WrittenData = { phase, material: subject.material, zone_id: subject.zone_id, role: subject.role, batch_id: subject.batch_id, plan: subject.plan, ...outcome };
    return [{ stream: streams.written, name: 'written', eventId: stageEventId(rotationId, 'secret-writer', phase), rotationId, data }];
  }

  /** Claims, applies and records one phase; answers what the lifecycle says about a phase that may not happen. */
  async function write(event: SignedEvent<Subject>, phase: Phase, plan: Plan, onRefusal: (why: string) => OutgoingEvent[]): Promise<OutgoingEvent[]> {
    const { rotationId } = event;
    const subject = event.data;
    const records = recordsOf(plan);
    let record: LoadedRecord = await records.load(rotationId);
    const verdict = writerMayApply(plan, record.state, phase, new Date());
    if (!verdict.apply) {
      // A retry after a crash re-emits what the phase wrote; once the rotation ended, a
      // repeat is a replay and gets nothing.
      if (verdict.repeat && !record.state.closed) return written(rotationId, phase, subject, record.state);
      if (verdict.repeat) return onRefusal(`the rotation already ended (${record.state.closed})`);
      // `retiring` comes from the recorder once it saw the deploy verification pass; this
      // writer notes that verification from another stream, which a crashed or slow replica
      // may still hold. Dropped here, the retirement would never come again: it waits.
      if (phase === 'retire' && record.state.applied.includes('deploy') && !record.state.deployVerifiedAt && !record.state.closed) {
        throw new TransientError(`retirement of ${rotationId} waits until this writer has noted its passing deploy verification`);
      }
      logger.warn({ rotation_id: rotationId, phase, why: verdict.why, source: event.type }, 'step refused');
      metrics.eventsTotal.inc({ stream: event.stream, outcome: 'refused' });
      return onRefusal(verdict.why);
    }
    const entry = catalogEntry(catalog, plan.material);
    const writer = (plan.store === 'rotation' ? writers.rotation : writers.caracal)[plan.writer];
    if (!entry || !writer) return [failed(rotationId, phase, subject, `this secret-writer has no ${plan.writer} writer for ${plan.material}: check its catalog and holders file`)];
    const expected = entry.file ? fileNameFor(entry.file, plan.role) : undefined;
    if (plan.secret && plan.secret.file !== expected) {
      // The plan may not choose where secrets go: this writer's own catalog does.
      return [failed(rotationId, phase, subject, `the plan names ${plan.secret.file}, but this secret-writer's catalog keeps ${plan.material} in ${expected ?? 'no file'}`)];
    }

    const timer = metrics.stageDuration.startTimer({ stage: 'secret-writer', phase });
    try {
      if (record.state.pending !== phase) record = await records.save(rotationId, record, { ...record.state, pending: phase });
      const outcome = await writer.write(phase, {
        rotationId,
        plan,
        entry,
        zoneId: subject.zone_id,
        state: record.state,
        note: async (update) => {
          record = await records.save(rotationId, record, { ...record.state, ...update });
        },
      });
      const closed = phase === 'retire' ? 'retired' : phase === 'rollback' ? 'rolled_back' : record.state.closed;
      record = await records.save(rotationId, record, { ...record.state, applied: [...record.state.applied, phase], pending: undefined, closed, outcomes: { ...record.state.outcomes, [phase]: outcome } });
      timer({ outcome: 'ok' });
      logger.info({ rotation_id: rotationId, material: plan.material, zone_id: subject.zone_id, phase, kid: outcome.new.kid, location: outcome.new.location, changed: outcome.changed }, 'material written');
      return written(rotationId, phase, subject, record.state);
    } catch (err) {
      timer({ outcome: 'error' });
      // A refusal (an unsafe store, missing material, a zone rotated less than 24 h ago)
      // will not fix itself: the rotation ends visibly. Anything else is retried.
      if (err instanceof WriteRefused || (err instanceof SecretsError && !(err.name === 'RecordConflictError'))) {
        const code = err instanceof WriteRefused ? err.code : err.code;
        // An unsafe store cannot even take the note; the failed event ends the rotation all the same.
        await records.save(rotationId, record, { ...record.state, pending: undefined, closed: 'failed' }).catch(() => undefined);
        return [failed(rotationId, phase, subject, `${code}: ${err.message}`)];
      }
      throw err;
    }
  }

  async function onEvent(event: SignedEvent<Subject & { phase?: Phase; ok?: boolean; dry_run?: boolean; batch?: unknown }>, name: 'planned' | 'verified' | 'rollback' | 'retiring'): Promise<OutgoingEvent[]> {
    const plan = await plans.get(event.data.plan);
    const action = actionOf('secret-writer', lifecycleEvent(name, event.data), plan);
    if (!action) return [];
    if (action.do === 'note_deploy_verified') {
      const records = recordsOf(plan);
      const record = await records.load(event.rotationId);
      if (!record.state.deployVerifiedAt && record.revision > 0) await records.save(event.rotationId, record, { ...record.state, deployVerifiedAt: event.occurredAt });
      return [];
    }
    if (action.do !== 'write') return [];
    const refusal = (why: string): OutgoingEvent[] => {
      // A plan that may not start (a replayed request of an ended rotation) releases the
      // lock the planner took for it; the recorder ignores it for an ended rotation.
      if (name === 'planned') return [failed(event.rotationId, action.phase, event.data, `refused: ${why}`)];
      if (name !== 'rollback') return [];
      // An operator asked for it: they are told why it did not happen.
      const data: RejectedData = { material: plan.material, zone_id: event.data.zone_id, batch_id: event.data.batch_id, intent: 'rollback', actor: (event.data as unknown as RollbackData).actor, reason_code: 'not_rollbackable', message: why };
      return [{ stream: streams.rejected, name: 'rejected', eventId: stageEventId(event.rotationId, 'secret-writer', `rollback-refused/${event.eventId}`), rotationId: event.rotationId, data }];
    };
    return write(event, action.phase, plan, refusal);
  }

  /** A rotation that failed or was abandoned: its record is closed, so nothing written for it later can act. */
  async function onEnded(event: SignedEvent<FailedData | AbandonedData>, name: 'failed' | 'abandoned'): Promise<OutgoingEvent[]> {
    for (const store of [stores.caracal, stores.rotation]) {
      const records = new RotationRecords(store);
      const record = await records.load(event.rotationId);
      if (record.revision > 0 && !record.state.closed) await records.save(event.rotationId, record, { ...record.state, closed: CLOSED_BY[name] });
    }
    return [];
  }

  return [
    subscribe<PlannedData>({ stream: streams.planned, event: 'planned', signers: ['bus'], handle: (e) => onEvent(e, 'planned') }),
    subscribe<VerifiedData>({ stream: streams.verified, event: 'verified', signers: ['bus'], handle: (e) => onEvent(e, 'verified') }),
    subscribe<RollbackData>({ stream: streams.rollback, event: 'rollback', signers: ['bus'], handle: (e) => onEvent(e, 'rollback') }),
    subscribe<RetiringData>({ stream: streams.retiring, event: 'retiring', signers: ['bus'], handle: (e) => onEvent(e, 'retiring') }),
    subscribe<FailedData>({ stream: streams.failed, event: 'failed', signers: ['bus'], handle: (e) => onEnded(e, 'failed') }),
    subscribe<AbandonedData>({ stream: streams.abandoned, event: 'abandoned', signers: ['bus'], handle: (e) => onEnded(e, 'abandoned') }),
  ];
}
