import { expandDrainTargets, inspectDrain } from '@caracal-rotation/bus';
import { rotationStreams, type Plan } from '@caracal-rotation/contracts';
import { buildPlan, checkStore, drainSetOf, validateRequest, type AcceptedRequest } from '@caracal-rotation/planning';
import { SecretStore } from '@caracal-rotation/secrets';
import { loadEffectiveCatalog } from '../catalog-source.js';
import { EXIT, connectRedis, requireServers, type CliEnvironment } from '../environment.js';
import { drainRow, printPlan, type DrainView } from '../plan-report.js';
import { requestDataFrom } from '../request-data.js';
import { SELECTOR_OPTIONS, type Command } from './command.js';

/**
 * The drain set as it stands, read-only (SCAN, XINFO, XPENDING). Without
 * Redis the plan is still shown, only without the numbers.
 */
async function inspect(env: CliEnvironment, request: AcceptedRequest, prefix: string): Promise<DrainView> {
  try {
    await requireServers(env, { redis: true });
  } catch (err) {
    return { inspected: false, note: (err as Error).message, targets: [] };
  }
  const redis = connectRedis(env, 'caracal-rotate-plan');
  try {
    const targets = await expandDrainTargets(redis, drainSetOf(request.entry, { streamPrefix: prefix, caracalNamespace: env.caracalNamespace ?? '' }));
    return { inspected: true, targets: (await inspectDrain(redis, targets)).map(drainRow) };
  } finally {
    redis.disconnect();
  }
}

export const planCommand: Command = {
  name: 'plan',
  summary: 'show what a request would do (holders, roll order, checks, window, drain set); writes nothing',
  usage: 'plan <MATERIAL> [--zone Z]... [--role R] [--emergency] [--reason TEXT] [--actor A] [--ticket T]',
  details: `Validates the request and computes the plan here, with the planner's own code
(libs/planning) and the effective catalog (CARACAL_CATALOG or the built-in one). It
publishes nothing, writes no row and no file: it only reads the secrets directory's
metadata and, when Redis answers, the drain set's pending entries and lag.

A request the planner would refuse prints its reason code (unknown_material,
invalid_request, unsafe_store, material_missing, ...) and exits 1.

Examples:
  caracal-rotate plan STREAMS_HMAC_KEY
  caracal-rotate plan ZONE_SIGNING_KEY --zone z1 --zone z2 --json
  caracal-rotate plan AUDIT_HMAC_KEY --emergency`,
  options: SELECTOR_OPTIONS,
  positionals: ['MATERIAL'],
  required: 1,
  async run({ out, env, values, positionals }) {
    const { catalog, source } = await loadEffectiveCatalog(env);
    const data = requestDataFrom(positionals[0]!, values, 'plan preview');
    const refuse = (code: string, message: string) => {
      out.line(`REJECTED ${code}: ${message}`);
      if (code === 'unsafe_store' || code === 'material_missing') {
        out.line(`  (secrets directory ${env.secretsDir}; for a sandbox, caracal-rotate up --sandbox creates it)`);
      }
      out.result({ ok: false, material: data.material, reason_code: code, message });
      return EXIT.failed;
    };
    const verdict = validateRequest(data, catalog);
    if (!verdict.ok) return refuse(verdict.code, verdict.message);
    const request = verdict.request;
    // The planner answers the same for '*' (it has no zone directory).
    if (request.zones.includes('*')) return refuse('invalid_request', 'zone_id "*" needs the STS zone directory, which this planner is not configured with');
    const store = new SecretStore({ dir: env.secretsDir, workspaceRoots: (process.env.CARACAL_WORKSPACE_ROOTS ?? '').split(',').map((s) => s.trim()).filter(Boolean) });
    const problem = await checkStore(store, request);
    if (problem) return refuse(problem.code, problem.message);

    const prefix = rotationStreams(env.streamPrefix).prefix;
    const drain = await inspect(env, request, prefix);
    const oldKeyPending = request.entry.overlap === 'none' && request.entry.drain.length > 0 && drain.inspected ? drain.targets.reduce((n, t) => n + t.pending, 0) : undefined;
    const ctx = { requestedAt: new Date().toISOString(), streamPrefix: prefix, caracalNamespace: env.caracalNamespace ?? '', oldKeyPending };
    const plans: Plan[] = request.zones.length === 0 ? [buildPlan(request, undefined, ctx)] : request.zones.map((z) => buildPlan(request, z, ctx));

    printPlan(out, plans[0]!, request.zones, drain, source);
    out.result({ ok: true, material: request.material, catalog: source, rotations: plans.length, plans, drain });
    return EXIT.ok;
  },
};
