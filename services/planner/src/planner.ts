import { subscribe, type OutgoingEvent, type SignedEvent } from '@caracal-rotation/bus';
import {
  stageEventId,
  stateKeys,
  type AbandonedData,
  type Catalog,
  type FailedData,
  type HoldersConfig,
  type IntentData,
  type PlanRef,
  type PlannedData,
  type QueuedData,
  type RejectedData,
  type RejectionCode,
  type RollbackData,
  type VerifiedData,
} from '@caracal-rotation/contracts';
import { actionOf, lifecycleEvent } from '@caracal-rotation/lifecycle';
import { buildPlan, validateRequest, type AcceptedRequest } from '@caracal-rotation/planning';
import { noReplayGuard, type ReplayGuard } from '@caracal-rotation/projection';
import type { ServiceRuntime } from '@caracal-rotation/runtime';
import { z } from 'zod';
import { mayIntend, mayRequest } from './authorize.js';
import { planBatch, type ZoneLister } from './batch.js';
import { ClassLock, type InFlight, type QueueItem } from './class-lock.js';

/**
 * A planned request is kept a while rather than deleted: its events go out only
 * when the handler returns, and a planner killed before that handles the same
 * input again, which must find the request it is planning.
 */
const PLANNED_REQUEST_TTL_S = 24 * 3600;

export interface PlannerDeps {
  runtime: ServiceRuntime;
  catalog: Catalog;
  holders: HoldersConfig;
  /** Lists Caracal's zones for `zone_id: "*"`; without it such a request is refused. */
  zoneLister?: ZoneLister;
  chunk: number;
  /** Refuses a request the rotation has moved past (a replay); none by default. */
  replays?: ReplayGuard;
}

/** The bus insists only on a JSON object; the planner answers everything else itself. */
const anyObject = z.record(z.string(), z.unknown());

/** A request kept while it waits in the queue. */
interface StoredRequest {
  rotation_id: string;
  requested_at: string;
  actor: string;
  data: Record<string, unknown>;
}

/** What a rotation holds in the lock: the class is the material; zones of one class may rotate together. */
function subjectsOf(request: AcceptedRequest, rotationId: string): string[] {
  if (request.zones === 'all') return [`batch:${rotationId}`, 'zones:*'];
  if (request.batch) return [`batch:${rotationId}`];
  if (request.zones.length === 1) return [`zone:${request.zones[0]}`, '!zones:*'];
  if (request.role) return [`role:${request.material}:${request.role}`];
  return [`material:${request.material}`];
}

export function createPlanner({ runtime, catalog, holders, zoneLister, chunk, replays = noReplayGuard }: PlannerDeps) {
  const { streams, redis, plans, operators } = runtime;
  const lock = new ClassLock(redis, streams.prefix);
  const keys = stateKeys(streams.prefix);
  const out = <T>(name: OutgoingEvent['name'], rotationId: string, step: string, data: T): OutgoingEvent => ({
    stream: streams[name],
    name,
    eventId: stageEventId(rotationId, 'planner', step),
    rotationId,
    data,
  });
  const rejected = (rotationId: string, code: RejectionCode, message: string, v: Partial<RejectedData> & { material?: string }, step = 'reject'): OutgoingEvent =>
    out<RejectedData>('rejected', rotationId, step, { ...v, material: (v.material ?? '').slice(0, 64), reason_code: code, message: message.slice(0, 2000) });

  /** Plans an accepted request that holds the lock: one plan for one rotation, or a batch planned chunk by chunk. */
  async function startRotation(stored: StoredRequest, request: AcceptedRequest): Promise<OutgoingEvent[]> {
    const ctx = { requestedAt: stored.requested_at, actor: stored.actor, streamPrefix: streams.prefix, holders };
    const plan = buildPlan(request, ctx);
    const ref = await plans.put(stored.rotation_id, plan);
    if (request.batch) {
      return planBatch({ runtime, lock, chunk, zoneLister, batchId: stored.rotation_id, request, plan: ref, actor: stored.actor, handOff });
    }
    const zoneId = request.zones === 'all' ? undefined : request.zones[0];
    await lock.describe(stored.rotation_id, { subjects: subjectsOf(request, stored.rotation_id), material: request.material, zone_id: zoneId, role: request.role, plan: ref });
    return [out<PlannedData>('planned', stored.rotation_id, 'plan', { material: request.material, zone_id: zoneId, role: request.role, actor: stored.actor, plan: ref, dry_run: false })];
  }

  /** Plans what the queue hands over when a rotation ends; a request that no longer validates is rejected and passes the lock on. */
  async function handOff(items: QueueItem[], trigger: string): Promise<OutgoingEvent[]> {
    const events: OutgoingEvent[] = [];
    for (const item of items) {
      const text = await redis.get(keys.request(item.rotation_id));
      const stored = text ? (JSON.parse(text) as StoredRequest) : undefined;
      const verdict = stored ? validateRequest(stored.data, catalog) : undefined;
      if (stored && verdict?.ok) {
        events.push(...(await startRotation(stored, verdict.request)));
      } else {
        const why = verdict && !verdict.ok ? verdict : { code: 'invalid_request' as const, message: 'the queued request was lost' };
        events.push(rejected(item.rotation_id, why.code, why.message, { material: item.class }));
        events.push(...(await handOff(await lock.release(`${trigger}/${item.rotation_id}`, item.rotation_id), `${trigger}/${item.rotation_id}`)));
      }
      await redis.expire(keys.request(item.rotation_id), PLANNED_REQUEST_TTL_S);
    }
    return events;
  }

  async function onRequested(event: SignedEvent<Record<string, unknown>>): Promise<OutgoingEvent[]> {
    const rid = event.rotationId;
    if (await replays.superseded(rid, lifecycleEvent('requested', event.data))) {
      runtime.logger.warn({ rotation_id: rid, event_id: event.eventId }, 'this rotation was requested and acted on before (a replay): not planned again');
      return [];
    }
    const verdict = validateRequest(event.data, catalog);
    if (!verdict.ok) return [rejected(rid, verdict.code, verdict.message, verdict)];
    const request = verdict.request;
    const operator = event.signer.kind === 'operator' ? operators?.find(event.signer.kid)?.operator : undefined;
    const auth = mayRequest(event.signer, operator, request.material, request.data.emergency === true);
    if (!auth.ok) return [rejected(rid, 'unauthorized', auth.message, { material: request.material, actor: auth.actor })];
    if (request.zones === 'all') {
      const problem = zoneLister ? await zoneLister.problem() : 'the holders file lists no api service to ask for zones';
      if (problem) return [rejected(rid, 'invalid_request', `zone_id "*" cannot be expanded: ${problem}`, { material: request.material, zone_id: '*' })];
    }
    const stored: StoredRequest = { rotation_id: rid, requested_at: event.occurredAt, actor: auth.actor, data: event.data };

    if (request.data.dry_run) {
      const plan = buildPlan(request, { requestedAt: event.occurredAt, actor: auth.actor, streamPrefix: streams.prefix, holders });
      const ref = await plans.put(rid, plan);
      return [out<PlannedData>('planned', rid, 'plan', { material: request.material, zone_id: plan.zone_id, role: request.role, actor: auth.actor, plan: ref, dry_run: true })];
    }

    const item: QueueItem = {
      rotation_id: rid,
      class: request.material,
      joinable: request.entry.needs === 'zone',
      emergency: request.data.emergency === true,
      subjects: subjectsOf(request, rid),
      info: { subjects: subjectsOf(request, rid).filter((s) => !s.startsWith('!')), material: request.material, role: request.role },
    };
    // Kept before the lock is asked, so a request the queue hands over later is never lost.
    await redis.set(keys.request(rid), JSON.stringify(stored), 'EX', 30 * 24 * 3600);
    const result = await lock.acquire(item);
    if (result.outcome === 'duplicate') {
      await redis.del(keys.request(rid));
      const what = result.subjects.map((s) => s.replace(/^[a-z]+:/, '')).join(', ');
      return [rejected(rid, 'duplicate_in_flight', `${what} is already being rotated; wait for it to end`, { material: request.material, zone_id: request.data.zone_id })];
    }
    if (result.outcome === 'queued') {
      const queued: QueuedData = { material: request.material, zone_id: request.data.zone_id, role: request.role, waiting_for: (result.waitingFor || request.material) as QueuedData['waiting_for'], position: result.position, actor: auth.actor };
      return [out<QueuedData>('queued', rid, 'queue', queued)];
    }
    const events = await startRotation(stored, request);
    await redis.expire(keys.request(rid), PLANNED_REQUEST_TTL_S);
    return events;
  }

  /** The lock is freed when a rotation ends; the queue's head goes next. */
  async function release(trigger: string, rotationId: string): Promise<OutgoingEvent[]> {
    return handOff(await lock.release(trigger, rotationId), trigger);
  }

  async function onVerified(event: SignedEvent<VerifiedData>): Promise<OutgoingEvent[]> {
    const plan = await plans.get(event.data.plan);
    const action = actionOf('planner', lifecycleEvent('verified', event.data), plan);
    if (action?.do === 'mark_waiting') await lock.markWaiting(event.rotationId);
    return action?.do === 'release' ? release(event.eventId, event.rotationId) : [];
  }

  const onFailed = async (event: SignedEvent<FailedData>) => release(event.eventId, event.rotationId);

  async function onIntent(event: SignedEvent<IntentData>): Promise<OutgoingEvent[]> {
    const rid = event.rotationId;
    const { action, reason, ticket } = event.data;
    const operator = operators?.find(event.signer.kid)?.operator;
    const auth = mayIntend(event.signer, operator, action);
    const step = `${action}/${event.eventId}`;
    const info = await lock.inFlight(rid);
    const subject = { material: info?.material ?? '', zone_id: info?.zone_id, batch_id: info?.batch_id };
    if (!auth.ok) return [rejected(rid, 'unauthorized', auth.message, { ...subject, intent: action, actor: auth.actor }, step)];

    if (action === 'abandon') {
      const abandon = (id: string, i: InFlight | undefined, state: string): OutgoingEvent =>
        out<AbandonedData>('abandoned', id, 'abandon', { material: i?.material as AbandonedData['material'], zone_id: i?.zone_id, batch_id: i?.batch_id, actor: auth.actor, reason, ticket, state });
      if (await lock.removeQueued(rid)) {
        await redis.del(keys.request(rid));
        return [abandon(rid, undefined, 'queued')];
      }
      const children = info?.subjects.some((s) => s.startsWith('batch:')) ? await lock.childrenOf(rid) : [];
      if (!info && children.length === 0) {
        return [rejected(rid, 'not_abandonable', 'the rotation is neither queued nor in flight: it ended, or never started', { intent: action, actor: auth.actor }, step)];
      }
      if (info) await redis.hset(keys.batch(rid), 'abandoned', auth.actor);
      const events: OutgoingEvent[] = [];
      for (const child of children) {
        events.push(abandon(child, await lock.inFlight(child), 'in_flight'));
        events.push(...(await release(`${event.eventId}/${child}`, child)));
      }
      if (info) events.push(abandon(rid, info, 'in_flight'), ...(await release(event.eventId, rid)));
      return events;
    }

    if (!info?.plan) return [rejected(rid, 'not_rollbackable', 'the rotation is not in flight: it ended, is queued, or never started', { ...subject, intent: action, actor: auth.actor }, step)];
    const plan = await plans.get(info.plan);
    if (plan.rollback.mode === 'none') return [rejected(rid, 'not_rollbackable', `${plan.material} cannot be rolled back: ${plan.rollback.why}`, { ...subject, intent: action, actor: auth.actor }, step)];
    // The secret-writer has the last word: it refuses a rollback after retirement began or after the window.
    const data: RollbackData = { material: plan.material, zone_id: info.zone_id, role: info.role, batch_id: info.batch_id, plan: info.plan as PlanRef, actor: auth.actor, reason, ticket };
    return [out<RollbackData>('rollback', rid, step, data)];
  }

  return {
    lock,
    subscriptions: [
      subscribe({ stream: streams.requested, event: 'requested', signers: ['operator', 'bus'], parse: (d) => anyObject.parse(d), limits: { maxDataBytes: 4 * 1024 * 1024 }, handle: onRequested }),
      subscribe<IntentData>({ stream: streams.intent, event: 'intent', signers: ['operator'], handle: onIntent }),
      subscribe<VerifiedData>({ stream: streams.verified, event: 'verified', signers: ['bus'], handle: onVerified }),
      subscribe<FailedData>({ stream: streams.failed, event: 'failed', signers: ['bus'], handle: onFailed }),
    ],
  };
}
