import { ORCHESTRATOR_SERVICES } from '@caracal-rotation/contracts';
import { stepsOf } from '@caracal-rotation/lifecycle';
import { readKeyringReports } from '@caracal-rotation/runtime';
import { fail, pass, requireNewKid, until, type Check } from './context.js';

/**
 * Every live instance of the orchestrator holds the new bus key (each
 * reports its keyring every few seconds; libs/runtime keyring-report.ts),
 * every service the phase reloads has a live instance, and after retirement
 * none holds the old key any more. Reports are read again until the
 * verification's deadline: a busy instance reports late, not wrongly.
 */
export const busKeyLoaded: Check = async (ctx) => {
  const kid = requireNewKid(ctx);
  const services = new Set(stepsOf(ctx.plan, ctx.phase).roll.flat().filter((s) => (ORCHESTRATOR_SERVICES as readonly string[]).includes(s)));
  let problems: string[] = [];
  let seen = '';
  let stale: string[] = [];
  await until(ctx, async () => {
    const reports = await readKeyringReports(ctx.busRedis, ctx.streamPrefix);
    const lacking = [...reports].filter(([, r]) => !r.kids.includes(kid)).map(([i]) => i);
    stale = ctx.phase === 'retire' && ctx.previousKid ? [...reports].filter(([, r]) => r.kids.includes(ctx.previousKid!)).map(([i]) => i) : [];
    const absent = [...services].filter((s) => ![...reports.keys()].some((i) => i.startsWith(`${s}/`)));
    problems = [
      ...(lacking.length ? [`without kid ${kid}: ${lacking.join(', ')}`] : []),
      ...(stale.length ? [`still holding the old kid ${ctx.previousKid}: ${stale.join(', ')}`] : []),
      ...(absent.length ? [`no live instance reports: ${absent.join(', ')}`] : []),
    ];
    seen = `${reports.size} live instances`;
    return problems.length ? undefined : true;
  });
  return problems.length ? fail(`${problems.join('; ')} (${seen})`) : pass(`${seen} hold kid ${kid}${stale.length === 0 && ctx.phase === 'retire' ? ', none the old one' : ''}`);
};
