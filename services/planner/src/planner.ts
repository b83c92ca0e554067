import { expandDrainTargets, inspectDrain, subscribe, type OutgoingEvent } from '@caracal-rotation/bus';
import {
  childRotationId,
  stageEventId,
  type Catalog,
  type CompletedData,
  type FailedData,
  type PlannedData,
  type QueuedData,
  type RejectedData,
  type RotationEvent,
  type RejectionCode,
} from '@caracal-rotation/contracts';
import type { ServiceRuntime } from '@caracal-rotation/runtime';
import type { SecretStore } from '@caracal-rotation/secrets';
import { z } from 'zod';
import { buildPlan, checkStore, drainSetOf, validateRequest, type AcceptedRequest } from '@caracal-rotation/planning';
import { ClassLock, type QueueItem } from './class-lock.js';
import type { ZoneDirectory } from './zone-directory.js';

export interface PlannerDeps {
  runtime: ServiceRuntime;
  catalog: Catalog;
  store: SecretStore;
  caracalNamespace: string;
  /** Expands `zone_id: "*"`; without it such a request is refused. */
  zoneDirectory?: ZoneDirectory;
}

/** The bus insists only on a JSON object; the planner answers everything else itself. */
const anyObject = z.record(z.string(), z.unknown());

interface PendingRequest {
  rotation_id: string;
  requested_at: string;
  data: Record<string, unknown>;
}

export function createPlanner({ runtime, catalog, store, caracalNamespace, zoneDirectory }: PlannerDeps) {
  const { streams, redis } = runtime;
  const lock = new ClassLock(redis, streams.prefix);

  const rejected = (rotationId: string, code: RejectionCode, message: string, v: { material: string; zone_id?: string }): OutgoingEvent => ({
    stream: streams.rejected,
    name: 'rejected',
    eventId: stageEventId(rotationId, 'planner', 'reject'),
    rotationId,
    data: { material: v.material, zone_id: v.zone_id, reason_code: code, message } satisfies RejectedData,
  });

  /** One rotation per zone for a batch, each with its own id and the request's id as batch id. */
  const rotationsOf = (rotationId: string, request: AcceptedRequest) =>
    request.zones.length === 0
      ? [{ rotationId, zoneId: undefined, batchId: undefined }]
      : request.zones.map((zoneId) =>
          request.batch ? { rotationId: childRotationId(rotationId, zoneId), zoneId, batchId: rotationId } : { rotationId, zoneId, batchId: undefined },
        );

  const subjectOf = (d: { material: string; zone_id?: string; role?: string }): string =>
    d.zone_id ? `zone:${d.zone_id}` : d.role ? `role:${d.role}` : `material:${d.material}`;

  async function oldKeyPending(request: AcceptedRequest): Promise<number | undefined> {
    if (request.entry.overlap !== 'none' || request.entry.drain.length === 0) return undefined;
    const targets = await expandDrainTargets(redis, drainSetOf(request.entry, { streamPrefix: streams.prefix, caracalNamespace }));
    return (await inspectDrain(redis, targets)).reduce((sum, r) => sum + r.pending, 0);
  }

  async function plannedEvents(pending: PendingRequest, request: AcceptedRequest): Promise<OutgoingEvent[]> {
    const ctx = { requestedAt: pending.requested_at, streamPrefix: streams.prefix, caracalNamespace, oldKeyPending: await oldKeyPending(request) };
    return rotationsOf(pending.rotation_id, request).map(({ rotationId, zoneId, batchId }) => ({
      stream: streams.planned,
      name: 'planned',
      eventId: stageEventId(rotationId, 'planner', 'plan'),
      rotationId,
      data: { material: request.material, zone_id: zoneId, role: request.role, batch_id: batchId, plan: buildPlan(request, zoneId, ctx) } satisfies PlannedData,
    }));
  }

  async function onRequested(event: RotationEvent<Record<string, unknown>>): Promise<OutgoingEvent[]> {
    let data = event.data;
    if (data.zone_id === '*') {
      const all = { material: String(data.material ?? ''), zone_id: '*' };
      if (!zoneDirectory) {
        return [rejected(event.rotationId, 'invalid_request', 'zone_id "*" needs the STS zone directory (ZONE_DIRECTORY_URL), which this planner is not configured with', all)];
      }
      const zones = await zoneDirectory.list();
      if (zones.length === 0) return [rejected(event.rotationId, 'unknown_zone', 'the STS knows no zone', all)];
      // From here on the request is the explicit batch it stands for; a queued copy keeps the same zones.
      data = { ...data, zone_id: undefined, zone_ids: zones };
    }
    const verdict = validateRequest(data, catalog);
    if (!verdict.ok) return [rejected(event.rotationId, verdict.code, verdict.message, verdict)];
    const request = verdict.request;
    const problem = await checkStore(store, request);
    if (problem) return [rejected(event.rotationId, problem.code, problem.message, request.data)];

    const pending: PendingRequest = { rotation_id: event.rotationId, requested_at: event.occurredAt, data };
    if (request.data.dry_run) return plannedEvents(pending, request);

    const item: QueueItem = {
      rotation_id: event.rotationId,
      class: request.material,
      joinable: request.entry.needs !== 'nothing',
      holds: rotationsOf(event.rotationId, request).map((r) => [subjectOf({ material: request.material, zone_id: r.zoneId, role: request.role }), r.rotationId]),
      request: pending,
    };
    const result = await lock.acquire(item);
    if (result.outcome === 'acquired') return plannedEvents(pending, request);
    if (result.outcome === 'duplicate') {
      const what = result.subjects.map((s) => s.replace(/^[a-z]+:/, '')).join(', ');
      return [rejected(event.rotationId, 'duplicate_in_flight', `${what} is already being rotated; wait for it to complete or fail`, request.data)];
    }
    const queued: QueuedData = {
      material: request.material,
      zone_id: request.data.zone_id,
      role: request.role,
      waiting_for: (result.waitingFor || request.material) as QueuedData['waiting_for'],
      position: result.position,
    };
    return [{ stream: streams.queued, name: 'queued', eventId: stageEventId(event.rotationId, 'planner', 'queue'), rotationId: event.rotationId, data: queued }];
  }

  /** A rotation ended: free its subject and plan whatever the queue hands over. */
  async function onEnded(event: RotationEvent<CompletedData | FailedData>): Promise<OutgoingEvent[]> {
    const out: OutgoingEvent[] = [];
    let handed = await lock.release(event.eventId, { subject: subjectOf(event.data), rotationId: event.rotationId });
    while (handed.length > 0) {
      const next: QueueItem[] = [];
      for (const item of handed) {
        const pending = item.request as PendingRequest;
        const verdict = validateRequest(pending.data, catalog);
        const problem = verdict.ok ? await checkStore(store, verdict.request) : undefined;
        if (verdict.ok && !problem) {
          out.push(...(await plannedEvents(pending, verdict.request)));
          continue;
        }
        const why = verdict.ok ? problem! : { code: verdict.code, message: verdict.message };
        out.push(rejected(item.rotation_id, why.code, why.message, { material: item.class }));
        // The rejected request held the lock: hand it on at once.
        for (const [subject, rotationId] of item.holds) next.push(...(await lock.release(`${event.eventId}/${rotationId}`, { subject, rotationId })));
      }
      handed = next;
    }
    return out;
  }

  return {
    lock,
    subscriptions: [
      subscribe({ stream: streams.requested, event: 'requested', parse: (d) => anyObject.parse(d), handle: onRequested }),
      subscribe<CompletedData>({ stream: streams.completed, event: 'completed', handle: onEnded }),
      subscribe<FailedData>({ stream: streams.failed, event: 'failed', handle: onEnded }),
    ],
  };
}
