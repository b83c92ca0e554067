import { createRedisClient, expandDrainTargets, inspectDrain, type RedisClient } from '@caracal-rotation/bus';
import { rotationStreams, type Plan } from '@caracal-rotation/contracts';
import { buildPlan, validateRequest } from '@caracal-rotation/planning';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadEffectiveCatalog } from '../catalog-source.js';
import { EXIT, UsageError, connectRedis, type CliEnvironment } from '../environment.js';
import { defaultOperatorName } from '@caracal-rotation/runtime';
import { drainRow, printPlan, type DrainView } from '../plan-report.js';
import { requestDataFrom } from '../request-data.js';
import { SELECTOR_OPTIONS, type Command } from './command.js';

/** Caracal's streams live on Caracal's Redis (its redisUrl file), ours on the bus; both are read only. */
async function caracalRedis(env: CliEnvironment): Promise<RedisClient | undefined> {
  const url = (await readFile(join(env.secretsDir, 'redisUrl'), 'utf8').catch(() => '')).trim();
  return url ? createRedisClient({ url }, { maxRetriesPerRequest: 1, connectionName: 'caracal-rotate-plan', lazyConnect: true }) : undefined;
}

/** The drain set as it stands (SCAN, XINFO, XPENDING, read-only); without Redis the plan is still shown. */
async function inspect(env: CliEnvironment, plan: Plan, prefix: string): Promise<DrainView> {
  if (plan.drain.length === 0) return { inspected: true, targets: [] };
  const ours = plan.drain.filter((d) => d.stream.startsWith(prefix));
  const theirs = plan.drain.filter((d) => !d.stream.startsWith(prefix));
  const bus = connectRedis(env, 'caracal-rotate-plan');
  const caracal = theirs.length ? await caracalRedis(env) : undefined;
  try {
    const targets = [
      ...(ours.length ? (await inspectDrain(bus, await expandDrainTargets(bus, ours))).map(drainRow) : []),
      ...(caracal ? (await inspectDrain(caracal, await expandDrainTargets(caracal, theirs))).map(drainRow) : []),
    ];
    return { inspected: true, targets, ...(theirs.length && !caracal ? { note: "Caracal's redisUrl is not in the secrets directory: its streams were not inspected" } : {}) };
  } catch (err) {
    return { inspected: false, note: (err as Error).message, targets: [] };
  } finally {
    bus.disconnect();
    caracal?.disconnect();
  }
}

export const planCommand: Command = {
  name: 'plan',
  summary: 'show what a request would do (phases, restarts, checks, window, rollback, drain set); writes nothing',
  usage: 'plan <MATERIAL> [--zone Z]... [--role R] [--emergency]',
  details: `Validates the request and computes the plan here, with the planner's own code
(libs/planning), the effective catalog (CARACAL_CATALOG or the built-in one) and the holders
file (CARACAL_HOLDERS). It publishes nothing and writes nothing; when Redis answers it shows
how many entries the drain set holds now.

The plan says what it leaves out and why: a check whose service the holders file does not
list, a holder that re-reads its file by itself. It also says what a rollback would do
(restore, roll forward, or nothing possible) and the warnings the operator must read first.

A request the planner would refuse prints its reason code and exits 1.

Examples:
  caracal-rotate plan STREAMS_HMAC_KEY
  caracal-rotate plan ZONE_SIGNING_KEY --zone z1 --zone z2 --json
  caracal-rotate plan CARACAL_ADMIN_TOKEN`,
  options: SELECTOR_OPTIONS,
  positionals: ['MATERIAL'],
  required: 1,
  async run({ out, env, values, positionals }) {
    const { catalog, source } = await loadEffectiveCatalog(env);
    const holders = await env.holders();
    if (!holders) throw new UsageError('plan needs the holders file: set CARACAL_HOLDERS (it says which of Caracal\'s services exist and how each restarts)', EXIT.usage);
    const data = requestDataFrom(positionals[0]!, values, 'plan preview');
    const verdict = validateRequest(data, catalog);
    if (!verdict.ok) {
      out.line(`REJECTED ${verdict.code}: ${verdict.message}`);
      out.result({ ok: false, material: data.material, reason_code: verdict.code, message: verdict.message });
      return EXIT.failed;
    }
    const prefix = rotationStreams(env.streamPrefix).prefix;
    const plan = buildPlan(verdict.request, { requestedAt: new Date().toISOString(), actor: defaultOperatorName(), streamPrefix: prefix, holders });
    const drain = await inspect(env, plan, prefix);
    printPlan(out, plan, drain, source);
    out.result({ ok: true, material: plan.material, catalog: source, plan, drain });
    return EXIT.ok;
  },
};
