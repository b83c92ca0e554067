import { counterOf, readMetrics } from '@caracal-rotation/caracal-client';
import type { CaracalService } from '@caracal-rotation/contracts';
import type { CheckContext } from './context.js';

/** A service's base URL from the holders file; a check whose service is not listed cannot run. */
export function serviceUrl(ctx: CheckContext, service: CaracalService): string {
  const holder = ctx.holders.services[service];
  if (!holder) throw new Error(`the holders file lists no ${service} service`);
  return holder.url;
}

/** Where a service's per-process counters are read: each replica listed as an instance, else its URL. */
export function instancesOf(ctx: CheckContext, service: CaracalService): string[] {
  const holder = ctx.holders.services[service];
  if (!holder) throw new Error(`the holders file lists no ${service} service`);
  return holder.instances?.length ? [...holder.instances] : [holder.url];
}

/** One counter of every instance of a service, by instance URL. */
export async function sampleCounter(ctx: CheckContext, service: CaracalService, name: string): Promise<Map<string, number>> {
  const bearer = await ctx.material.credential(ctx.holders.caracal.metrics_bearer_file);
  const out = new Map<string, number>();
  for (const url of instancesOf(ctx, service)) out.set(url, counterOf(await readMetrics(url, bearer, { signal: ctx.signal }), name));
  return out;
}

/** Several counters of every instance, by counter then instance. */
export async function sampleCounters<N extends string>(ctx: CheckContext, service: CaracalService, names: readonly N[]): Promise<Record<N, Map<string, number>>> {
  const bearer = await ctx.material.credential(ctx.holders.caracal.metrics_bearer_file);
  const out = Object.fromEntries(names.map((n) => [n, new Map<string, number>()])) as Record<N, Map<string, number>>;
  for (const url of instancesOf(ctx, service)) {
    const counters = await readMetrics(url, bearer, { signal: ctx.signal });
    for (const name of names) out[name].set(url, counterOf(counters, name));
  }
  return out;
}

/** `url a→b` per instance, for a detail line. */
export const changes = (before: Map<string, number>, after: Map<string, number>): string =>
  [...after.entries()].map(([url, value]) => `${url} ${before.get(url) ?? '?'}→${value}`).join(', ');

/** Instances whose counter went down: the process restarted between the two readings, so nothing can be concluded from it. */
export const restartedBetween = (before: Map<string, number>, after: Map<string, number>): string[] =>
  [...after.entries()].filter(([url, value]) => value < (before.get(url) ?? 0)).map(([url]) => url);
