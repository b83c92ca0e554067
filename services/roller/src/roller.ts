import { subscribe, type SignedEvent } from '@caracal-rotation/bus';
import { stageEventId, type HoldersConfig, type RolledData, type WrittenData } from '@caracal-rotation/contracts';
import { actionOf, lifecycleEvent } from '@caracal-rotation/lifecycle';
import { noReplayGuard, type ReplayGuard } from '@caracal-rotation/projection';
import type { ServiceRuntime } from '@caracal-rotation/runtime';
import { rollGroups } from './roll-plan.js';
import type { RollOptions } from './roll-holder.js';
import { keyringReloads } from './keyring-reload.js';
import { drainBeforeSwitch, type SwitchDrainOptions } from './switch-drain.js';

/** The roller stage: a `written` whose phase restarts something → restart those holders → `rolled`. */
export function createRoller(runtime: ServiceRuntime, holders: HoldersConfig, opts: RollOptions & { switchDrain: SwitchDrainOptions }, replays: ReplayGuard = noReplayGuard) {
  const { streams, metrics, logger, plans } = runtime;
  const reloads = keyringReloads(runtime.redis, streams.prefix, opts);

  async function onWritten(e: SignedEvent<WrittenData>) {
    const plan = await plans.get(e.data.plan);
    const event = lifecycleEvent('written', e.data);
    const action = actionOf('roller', event, plan);
    if (!action) return [];
    if (await replays.superseded(e.rotationId, event, plan)) {
      logger.warn({ rotation_id: e.rotationId, event_id: e.eventId, phase: action.phase }, 'the rotation has moved past this written event (a replay): nothing restarted');
      return [];
    }
    const { phase } = action;
    const timer = metrics.stageDuration.startTimer({ stage: 'roller', phase });
    let told = false;
    const onWaiting = (waiting: readonly { group: string }[]) => {
      if (told) return;
      told = true;
      logger.info({ rotation_id: e.rotationId, material: plan.material, groups: waiting.slice(0, 20).map((w) => w.group) }, "waiting for Caracal's consumers to read what the old key signed before restarting its holders");
    };
    const switchDrain =
      phase === 'deploy' && plan.drain_before_switch && plan.drain.length > 0 ? await drainBeforeSwitch(runtime.caracalRedis, plan.drain, { ...opts.switchDrain, onWaiting }) : undefined;
    if (switchDrain && !switchDrain.drained) {
      logger.warn({ rotation_id: e.rotationId, material: plan.material, waited_ms: switchDrain.waited_ms, undrained: switchDrain.undrained }, 'switching before every consumer drained: messages still pending may be dropped');
    }
    // The written event's time is the write's: every restart must be proven after it.
    const rolled = await rollGroups(action.groups, phase, holders, new Date(e.occurredAt), opts, (services) => reloads.wait(services, phase, e.data));
    const failedHolders = rolled.filter((h) => !h.ok);
    timer({ outcome: failedHolders.length ? 'error' : 'ok' });
    logger.info({ rotation_id: e.rotationId, material: plan.material, phase, holders: rolled.map((h) => `${h.service}:${h.ok ? 'ok' : 'failed'}`) }, 'holders rolled');
    const { material, zone_id, role, batch_id, plan: ref, new: next, previous } = e.data;
    const data: RolledData = { phase, material, zone_id, role, batch_id, plan: ref, new: next, previous, holders: rolled, ...(switchDrain ? { switch_drain: switchDrain } : {}) };
    return [{ stream: streams.rolled, name: 'rolled' as const, eventId: stageEventId(e.rotationId, 'roller', phase), rotationId: e.rotationId, data }];
  }

  return [subscribe<WrittenData>({ stream: streams.written, event: 'written', signers: ['bus'], handle: onWritten })];
}
