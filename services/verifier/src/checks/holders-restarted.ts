import { stepsOf } from '@caracal-rotation/lifecycle';
import { fail, pass, type Check } from './context.js';

/**
 * Every holder the phase rolls was restarted, with the platform's proof, and
 * came back ready (the roller's `rolled`). A phase that restarts nothing
 * (a single-value material's retirement) has nothing to prove.
 */
export const holdersRestarted: Check = async (ctx) => {
  const planned = stepsOf(ctx.plan, ctx.phase).roll.flat();
  if (planned.length === 0) return pass(`the ${ctx.phase} phase restarts no holder`);
  if (!ctx.rolled) return fail(`the ${ctx.phase} phase restarts ${planned.join(', ')}, but no rolled event reports them`);
  const failed = ctx.rolled.filter((h) => !h.ok).map((h) => `${h.service}: ${h.error ?? 'not ok'}`);
  const missing = planned.filter((s) => !ctx.rolled!.some((h) => h.service === s));
  if (failed.length || missing.length) return fail([...failed, ...missing.map((s) => `${s}: not in the rolled event`)].join('; '));
  return pass(ctx.rolled.map((h) => `${h.service} ${h.restarted_at ? `restarted ${h.restarted_at}` : 'reloaded'}, ready ${h.ready_at ?? '?'}`).join('; '));
};
