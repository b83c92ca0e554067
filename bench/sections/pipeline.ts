import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRedis, type Redis } from '@caracal-rotation/bus';
import { EVENT_NAMES, deadLetterStream, planSchema, rotationStreams, sandboxCatalog, stateKeys, type Plan } from '@caracal-rotation/contracts';
import { SERVICE_NAMES, type ServiceName } from '@caracal-rotation/launcher';
import { startStack, type Stack } from '@caracal-rotation/stack';
import { deleteKeys, dropSchema, testSchemaUrl } from '@caracal-rotation/testing';
import pg from 'pg';
import { profilesIn, summarizeProfile, type ProfileSummary } from '../lib/cpuprofile.js';
import { memoryOf, parentOf } from '../lib/machine.js';
import { caracalRotate } from '../lib/operator-cli.js';
import { cpuPerRotation, processFigures, readCpu, replicaProcesses, type MeasuredProcess } from '../lib/processes.js';
import { scrape, type PromSample } from '../lib/prom.js';
import { groupsOf } from '../lib/redis-util.js';
import { StreamFollower } from '../lib/stream-follower.js';
import { BatchOutcomes } from '../lib/batch-outcomes.js';
import { entryMs, round, summarize } from '../lib/stats.js';
import { childTimelines, hops, stageWork } from '../lib/timeline.js';
import type { Env } from './bus-hop.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const PRELOAD = join(import.meta.dirname, '..', 'lib', 'cpu-prof-preload.mjs');
const OPERATOR = 'bench@local';
/** The event that completes a rotation (see BatchOutcomes). */
const COMPLETED = 'verified:retire';

export interface PipelineOptions {
  zones: number;
  timeoutS: number;
  /** Extra environment for every service. */
  env: Record<string, string>;
  /** Run every service under the CPU profiler and summarise the profiles. */
  profileDir?: string;
}

const spread = (values: number[]) => {
  const s = summarize(values);
  return { p50: s.p50, p99: s.p99, mean: round(s.mean, 0) };
};
const maxOf = (values: readonly number[]): number => values.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a), Number.NaN);
const minOf = (values: readonly number[]): number => values.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a), Number.NaN);

/** The shared Redis server's pid (INFO) and the shared Postgres postmaster's (the parent of our backend), when they run on this machine. */
async function sharedServers(redis: Redis, pool: pg.Pool): Promise<MeasuredProcess[]> {
  const out: MeasuredProcess[] = [];
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1] ?? 0);
  if (redisPid && memoryOf(redisPid)) out.push({ name: 'shared redis-server', kind: 'shared', pid: redisPid });
  const backend = Number((await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0);
  const postmaster = backend ? parentOf(backend) : undefined;
  if (postmaster) out.push({ name: 'shared postgres', kind: 'shared', pid: postmaster });
  return out;
}

/**
 * One operator request `caracal-rotate request ZONE_SIGNING_KEY --zone '*'`
 * through the real services (startStack: the five services as processes) on
 * the sandbox replica of Caracal with N seeded zones and a catalog whose
 * safety windows are zero. Every time comes from stream entry ids (the Redis
 * server's clock); CPU and memory from /proc.
 */
export async function pipeline(env: Env, opts: PipelineOptions) {
  const tag = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const prefix = `bench-${tag}.caracal.rotation`;
  const streams = rotationStreams(prefix);
  const runDir = await mkdtemp(join(tmpdir(), 'caracal-bench-'));
  const { url: databaseUrl, schema } = await testSchemaUrl('bench_pipe');
  const catalogPath = join(runDir, 'catalog.zero-window.json');
  await writeFile(catalogPath, JSON.stringify(sandboxCatalog(0), null, 2));
  const redis: Redis = createRedis(env.redisUrl);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });

  const serviceEnv: Record<string, string> = { ...opts.env };
  const perService: Partial<Record<ServiceName, NodeJS.ProcessEnv>> = {};
  if (opts.profileDir) {
    // Node 20 refuses --cpu-prof in NODE_OPTIONS and the launcher spawns `node <dist/main.js>` with fixed
    // arguments, so every service preloads bench/lib/cpu-prof-preload.mjs, which profiles through the inspector.
    const nodeOptions = [process.env.NODE_OPTIONS, `--import ${PRELOAD}`].filter(Boolean).join(' ');
    for (const name of SERVICE_NAMES) {
      await mkdir(join(opts.profileDir, name), { recursive: true });
      perService[name] = { ...serviceEnv, NODE_OPTIONS: nodeOptions, BENCH_CPU_PROF_DIR: join(opts.profileDir, name) };
    }
  }

  let stack: Stack | undefined;
  let follower: StreamFollower | undefined;
  let stopped = false;
  const stopStack = async () => {
    if (stopped) return;
    stopped = true;
    await stack?.stop().catch(() => undefined);
  };
  const cleanup = async () => {
    await follower?.stop().catch(() => undefined);
    await stopStack();
    await pool.end().catch(() => undefined);
    for (const p of [prefix, `{${prefix}}`, `seen:${prefix}`]) await deleteKeys(redis, p).catch(() => undefined);
    redis.disconnect();
    await dropSchema(schema).catch(() => undefined);
    if (!process.env.BENCH_KEEP_RUN) await rm(runDir, { recursive: true, force: true });
  };

  try {
    const t0 = performance.now();
    env.log(`pipeline: starting the sandbox replica of Caracal with ${opts.zones} zones, then the five services`);
    // Seeding creates every zone through the API, which allows 600 /v1 requests a minute by
    // default: the replica's API gets a budget the seeding fits in (see docs/sandbox.md).
    // The orchestrator's own /v1 traffic is a handful of zone-list pages either way.
    process.env.API_V1_RATE_LIMIT_PER_MIN ??= String(Math.max(600, opts.zones * 2));
    stack = await startStack({
      redisUrl: env.redisUrl,
      databaseUrl,
      runDir,
      streamPrefix: prefix,
      sandbox: { zones: opts.zones },
      catalogPath,
      operator: OPERATOR,
      logLevel: 'info',
      env: { '*': serviceEnv, ...perService },
    });
    const startupS = round((performance.now() - t0) / 1000, 1);
    const zones = stack.sandbox!.zones.length;
    env.log(`  stack up in ${startupS} s (${zones} zones seeded)`);
    const services = stack.services;
    const procs: MeasuredProcess[] = [
      ...services.map((s) => ({ name: s.instance, kind: 'service' as const, pid: s.pid! })),
      ...replicaProcesses(stack.sandbox!.pid),
      ...(await sharedServers(redis, pool)),
    ];
    const commandStats = async () => {
      const stats = new Map<string, { calls: number; usec: number }>();
      for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) stats.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
      return stats;
    };
    const commandsBefore = await commandStats();
    const keyspaceBefore = await redis.dbsize();
    const harnessCpuBefore = process.cpuUsage();
    const cpuBefore = readCpu(procs);

    // Backlog of every group (entries not yet delivered + delivered and not acknowledged), once a second.
    const backlog: { t: number; groups: Record<string, { lag: number; pending: number }> }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const t = Date.now();
        const groups: Record<string, { lag: number; pending: number }> = {};
        for (const name of EVENT_NAMES) {
          for (const g of await groupsOf(redis, streams[name])) groups[`${name}/${g.name}`] = { lag: g.lag ?? 0, pending: g.pending };
        }
        backlog.push({ t, groups });
        await sleep(1000);
      }
    })();

    // Every entry as it arrives: the recorder trims what every group has acknowledged.
    follower = new StreamFollower(redis, streams);
    const outcomes = new BatchOutcomes();
    follower.onEntry((e) => outcomes.add(e));

    // The operator's own command, with the operator key the stack registered (every right).
    const operatorEnv = { ...stack.operatorEnv, CARACAL_SECRETS_DIR: stack.secretsDir };
    const started = Date.now();
    const windowFromUs = Number(process.hrtime.bigint() / 1000n);
    const requested = await caracalRotate(['request', 'ZONE_SIGNING_KEY', '--zone', '*', '--reason', 'bench: rotate every zone', '--ticket', 'BENCH-1'], operatorEnv);
    const batchId = String(requested.rotation_id);
    outcomes.forBatch(batchId);
    env.log(`  caracal-rotate request ZONE_SIGNING_KEY --zone '*': batch ${batchId}`);
    let lastLog = Date.now();
    while (Date.now() - started < opts.timeoutS * 1000) {
      if (outcomes.counts.ended >= zones || outcomes.refused) break;
      if (Date.now() - lastLog > 15_000) {
        const c = outcomes.counts;
        env.log(`  … ${c.completed} completed, ${c.failed} failed, ${c.rejected} rejected after ${Math.round((Date.now() - started) / 1000)} s`);
        lastLog = Date.now();
      }
      await sleep(250);
    }
    const finishedWallS = (Date.now() - started) / 1000;
    const windowToUs = Number(process.hrtime.bigint() / 1000n);
    const { completed: done, failed, rejected, ended } = outcomes.counts;
    const { refused, firstFailures } = outcomes;
    const timedOut = ended < zones && !refused;
    env.log(`  ${done} completed, ${failed} failed, ${rejected} rejected in ${round(finishedWallS, 1)} s${timedOut ? ' (TIMED OUT)' : ''}${refused ? `; the request was rejected: ${refused}` : ''}`);
    for (const f of firstFailures) env.log(`  ${f}`);

    const cpuAfter = readCpu(procs);
    const harnessCpu = process.cpuUsage(harnessCpuBefore);
    const processes = processFigures(procs, cpuBefore, cpuAfter, finishedWallS, done);
    const commandsAfter = await commandStats();
    const keyspaceAfter = await redis.dbsize();
    const redisCommands = [...commandsAfter.entries()]
      .map(([cmd, a]) => {
        const b = commandsBefore.get(cmd) ?? { calls: 0, usec: 0 };
        return { cmd, calls: a.calls - b.calls, serverMs: round((a.usec - b.usec) / 1000, 0) };
      })
      .filter((c) => c.calls > 0)
      .sort((x, y) => y.serverMs - x.serverMs)
      .slice(0, 12);
    const harnessMem = memoryOf(process.pid);
    const metrics = new Map<string, PromSample[]>();
    for (const s of services) metrics.set(s.instance, await scrape(s.url));

    // The recorder may still be projecting: wait (bounded) until every entry of every rotation stream is in
    // rotation_events, then read its lag from Postgres.
    await follower.stop();
    const streamEntries = follower.entries.length;
    const projectionWaitStart = Date.now();
    while (Date.now() - projectionWaitStart < 120_000) {
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM rotation_events');
      if (Number(rows[0]!.n) >= streamEntries) break;
      await sleep(500);
    }
    const projectionCaughtUpS = round((Date.now() - started) / 1000, 1);
    sampling = false;
    await sampler;
    const deadLetters = Object.fromEntries(
      (await Promise.all(EVENT_NAMES.map(async (n) => [n, await redis.xlen(deadLetterStream(streams[n]))] as const))).filter(([, len]) => len > 0),
    );

    // Stream entries: the Redis server's clock for every hop.
    const request = follower.entries.find((e) => e.name === 'requested' && e.rotationId === batchId);
    const requestMs = request ? request.ms : started;
    const rotations = childTimelines(follower.entries, batchId, requestMs);
    // The children of a batch carry their batch's plan, stored under the batch's id.
    const planText = await redis.get(stateKeys(prefix).plan(batchId));
    const plan: Plan | undefined = planText ? planSchema.parse(JSON.parse(planText)) : undefined;
    const completedAt = [...rotations.values()].map((t) => t.at.get(COMPLETED)).filter((x): x is number => x !== undefined);
    const lastCompleted = maxOf(completedAt);
    const deployDone = [...rotations.values()].map((t) => t.at.get('verified:deploy')).filter((x): x is number => x !== undefined);
    const lat = summarize(completedAt.map((at) => at - requestMs));
    const work = stageWork(metrics.values());

    // Recorder lag per event type, and the split of verified(deploy) → retiring into projection lag and timer/drain wait.
    const { rows: recorded } = await pool.query<{ rotation_id: string; type: string; phase: string | null; entry_id: string; recorded_ms: string }>(
      `SELECT rotation_id, type, data->>'phase' AS phase, entry_id, (extract(epoch FROM recorded_at) * 1000)::bigint AS recorded_ms FROM rotation_events`,
    );
    const recorderLag = new Map<string, number[]>();
    const verifiedDeployRecorded = new Map<string, number>();
    for (const r of recorded) {
      const key = r.phase ? `${r.type}(${r.phase})` : r.type;
      const lag = Number(r.recorded_ms) - entryMs(r.entry_id);
      let lags = recorderLag.get(key);
      if (!lags) recorderLag.set(key, (lags = []));
      lags.push(lag);
      if (r.type === 'rotation.verified' && r.phase === 'deploy') verifiedDeployRecorded.set(r.rotation_id, Number(r.recorded_ms));
    }
    const projectionPart: number[] = [];
    const timerPart: number[] = [];
    for (const [id, t] of rotations) {
      const v = t.at.get('verified:deploy');
      const rec = verifiedDeployRecorded.get(id);
      const ret = t.at.get('retiring');
      if (v === undefined || rec === undefined || ret === undefined) continue;
      projectionPart.push(rec - v);
      timerPart.push(ret - rec);
    }
    const peakBacklog = new Map<string, { peak: number; atS: number }>();
    for (const b of backlog) {
      for (const [g, v] of Object.entries(b.groups)) {
        const total = v.lag + v.pending;
        const cur = peakBacklog.get(g);
        if (!cur || total > cur.peak) peakBacklog.set(g, { peak: total, atS: round((b.t - started) / 1000, 0) });
      }
    }
    const recordedMs = recorded.map((r) => Number(r.recorded_ms));
    const recorderSpanS = (maxOf(recordedMs) - minOf(recordedMs)) / 1000;

    const durationS = (lastCompleted - requestMs) / 1000;
    const result = {
      zones,
      prefix,
      batchId,
      serviceEnv,
      startupS,
      completed: done,
      failed,
      rejected,
      timedOut,
      deadLetters,
      firstFailures,
      refused: refused ?? null,
      rotationsPerS: round(completedAt.length / durationS, 1),
      durationS: round(durationS, 1),
      firstCompletedS: round((minOf(completedAt) - requestMs) / 1000, 1),
      deployPhaseDoneS: deployDone.length ? round((maxOf(deployDone) - requestMs) / 1000, 1) : null,
      latencyMs: { p50: lat.p50, p90: lat.p90, p99: lat.p99, max: lat.max },
      hops: plan ? hops(rotations, plan, work) : [],
      retiringSplitMs: { projectionLag: spread(projectionPart), timerAndDrainGate: spread(timerPart) },
      recorder: {
        eventsProjected: recorded.length,
        eventsPerS: round(recorded.length / recorderSpanS, 0),
        caughtUpS: projectionCaughtUpS,
        lagMs: Object.fromEntries(
          [...recorderLag.entries()].sort().map(([k, v]) => {
            const s = summarize(v);
            return [k, { p50: s.p50, p99: s.p99, max: s.max }];
          }),
        ),
      },
      peakBacklog: Object.fromEntries([...peakBacklog.entries()].filter(([, v]) => v.peak > 0).sort((a, b) => b[1].peak - a[1].peak)),
      processes,
      cpuMsPerRotation: cpuPerRotation(processes, done),
      redisCommands,
      keyspace: { before: keyspaceBefore, after: keyspaceAfter },
      harness: { cpuS: round((harnessCpu.user + harnessCpu.system) / 1e6, 1), peakRssMiB: harnessMem?.hwmMiB ?? null },
      serviceMetrics: Object.fromEntries(
        [...metrics.entries()].map(([instance, samples]) => [
          instance,
          {
            eventLoopLagP99Ms: round((samples.find((s) => s.name === 'nodejs_eventloop_lag_p99_seconds')?.value ?? Number.NaN) * 1000, 1),
            stageWorkMs: Object.fromEntries([...stageWork([samples]).entries()].map(([k, v]) => [k, { meanMs: round(v.meanMs, 1), count: v.count }])),
          },
        ]),
      ),
    };

    let profiles: { group: string; summary: ProfileSummary }[] | undefined;
    if (opts.profileDir) {
      env.log('  stopping the stack so every service writes its CPU profile');
      await stopStack();
      const pidName = new Map(processes.map((p) => [String(p.pid), p.name]));
      profiles = [];
      for (const p of await profilesIn(opts.profileDir)) {
        const pid = p.file.split('/').pop()!.split('.')[3]!;
        // Only the run itself (request → last completion), not start-up or shutdown.
        profiles.push({ group: pidName.get(pid) ?? `${p.group} (pid ${pid})`, summary: await summarizeProfile(p.file, 15, { fromUs: windowFromUs, toUs: windowToUs }) });
      }
    }
    return { ...result, profiles };
  } finally {
    await cleanup();
  }
}
