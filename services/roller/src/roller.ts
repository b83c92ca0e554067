import { subscribe } from '@caracal-rotation/bus';
import { stageEventId, type HoldersConfig, type RolledData, type RotationEvent, type WrittenData } from '@caracal-rotation/contracts';
import type { ServiceRuntime } from '@caracal-rotation/runtime';
import { rollPlan } from './roll-plan.js';
import type { RollOptions } from './roll-holder.js';

/** The roller stage: `written` → restart the plan's holders → `rolled`. */
export function createRoller(runtime: ServiceRuntime, holders: HoldersConfig, opts: RollOptions) {
  const { streams, metrics, logger } = runtime;

  async function onWritten(e: RotationEvent<WrittenData>) {
    const { phase, plan, changed } = e.data;
    const timer = metrics.stageDuration.startTimer({ stage: 'roller', phase });
    const rolled = changed ? await rollPlan(plan, phase, holders, opts) : [];
    const failedHolders = rolled.filter((h) => !h.ok);
    timer({ outcome: failedHolders.length ? 'error' : 'ok' });
    logger.info({ rotation_id: e.rotationId, material: plan.material, phase, holders: rolled.map((h) => `${h.service}:${h.ok ? 'ok' : 'failed'}`) }, 'holders rolled');
    const { material, zone_id, role, batch_id, new: next, previous } = e.data;
    const data: RolledData = { phase, material, zone_id, role, batch_id, plan, new: next, previous, holders: rolled };
    return [{ stream: streams.rolled, name: 'rolled' as const, eventId: stageEventId(e.rotationId, 'roller', phase), rotationId: e.rotationId, data }];
  }

  return [subscribe<WrittenData>({ stream: streams.written, event: 'written', handle: onWritten })];
}
