import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRedis, type Redis } from '@caracal-rotation/bus';
import { connectOperator } from '@caracal-rotation/caracal-rotate';
import { SERVICE_NAMES, type ServiceName } from '@caracal-rotation/launcher';
import { startStack, type Stack } from '@caracal-rotation/stack';
import { EVENT_NAMES, rotationStreams, sandboxCatalog, type EventName } from '@caracal-rotation/contracts';
import { dropSchema, tempSecretsDir, testSchemaUrl } from '@caracal-rotation/testing';
import pg from 'pg';
import { profilesIn, summarizeProfile, type ProfileSummary } from '../lib/cpuprofile.js';
import { cpuSecondsOf, memoryOf } from '../lib/machine.js';
import { scrape, type PromSample } from '../lib/prom.js';
import { deleteMatching, globEscape, groupsOf, readAll, type RawEntry } from '../lib/redis-util.js';
import { entryMs, round, summarize } from '../lib/stats.js';
import type { Env } from './bus-hop.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const PRELOAD = join(import.meta.dirname, '..', 'lib', 'cpu-prof-preload.mjs');

export interface PipelineOptions {
  zones: number;
  timeoutS: number;
  /** Extra environment for every service. */
  env: Record<string, string>;
  /** Run every service and fleet member under the CPU profiler and summarise the profiles. */
  profileDir?: string;
}

/** The hops of one zone rotation, in pipeline order: [label, from, to]. */
const HOPS: [string, string, string][] = [
  ['requested → planned (planner)', 'requested', 'planned'],
  ['planned → written(deploy) (secret-writer)', 'planned', 'written:deploy'],
  ['written → rolled (deploy, roller)', 'written:deploy', 'rolled:deploy'],
  ['rolled → verified (deploy, verifier)', 'rolled:deploy', 'verified:deploy'],
  ['verified(deploy) → retiring (recorder: projection + timer + drain gate)', 'verified:deploy', 'retiring'],
  ['retiring → written(retire) (secret-writer)', 'retiring', 'written:retire'],
  ['written → rolled (retire, roller)', 'written:retire', 'rolled:retire'],
  ['rolled → verified (retire, verifier)', 'rolled:retire', 'verified:retire'],
  ['verified(retire) → completed (same verifier handler)', 'verified:retire', 'completed'],
];

/** Which stage's measured work (stage_duration metric or check durations) sits inside each hop. */
const HOP_WORK: Record<string, { stage: string; phase: string } | 'checks' | undefined> = {
  'planned → written(deploy) (secret-writer)': { stage: 'secret-writer', phase: 'deploy' },
  'written → rolled (deploy, roller)': { stage: 'roller', phase: 'deploy' },
  'rolled → verified (deploy, verifier)': 'checks',
  'retiring → written(retire) (secret-writer)': { stage: 'secret-writer', phase: 'retire' },
  'written → rolled (retire, roller)': { stage: 'roller', phase: 'retire' },
  'rolled → verified (retire, verifier)': 'checks',
};

interface Timeline {
  at: Map<string, number>;
  checksMs: Map<string, number>;
}

function timelines(byStream: Map<EventName, RawEntry[]>, requestMs: number) {
  const rotations = new Map<string, Timeline>();
  const get = (id: string) => {
    let t = rotations.get(id);
    if (!t) rotations.set(id, (t = { at: new Map([['requested', requestMs]]), checksMs: new Map() }));
    return t;
  };
  for (const [name, entries] of byStream) {
    if (name === 'requested') continue;
    for (const e of entries) {
      const id = e.fields.rotation_id;
      if (!id) continue;
      let data: { phase?: string; checks?: { duration_ms: number }[] } = {};
      try {
        data = JSON.parse(e.fields.data ?? '{}') as typeof data;
      } catch {
        continue;
      }
      const key = data.phase && name !== 'failed' ? `${name}:${data.phase}` : name;
      const t = get(id);
      // A retried stage re-emits the same event: keep the first.
      if (!t.at.has(key)) t.at.set(key, entryMs(e.id));
      if (name === 'verified' && data.checks) t.checksMs.set(key, data.checks.reduce((s, c) => s + c.duration_ms, 0));
    }
  }
  return rotations;
}

function stageWork(metrics: Map<string, PromSample[]>) {
  const out = new Map<string, { meanMs: number; count: number }>();
  for (const samples of metrics.values()) {
    const sums = samples.filter((s) => s.name === 'caracal_rotation_stage_duration_seconds_sum');
    for (const s of sums) {
      const key = `${s.labels.stage}:${s.labels.phase}`;
      const count = samples.find(
        (c) => c.name === 'caracal_rotation_stage_duration_seconds_count' && c.labels.stage === s.labels.stage && c.labels.phase === s.labels.phase && c.labels.outcome === s.labels.outcome,
      )?.value;
      if (!count) continue;
      const cur = out.get(key) ?? { meanMs: 0, count: 0 };
      const total = cur.meanMs * cur.count + s.value * 1000;
      cur.count += count;
      cur.meanMs = total / cur.count;
      out.set(key, cur);
    }
  }
  return out;
}

export async function pipeline(env: Env, opts: PipelineOptions) {
  const tag = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const prefix = `bench-${tag}.caracal.rotation`;
  const namespace = `bench-${tag}:`;
  const streams = rotationStreams(prefix);
  const zones = Array.from({ length: opts.zones }, (_, i) => `zone-${String(i).padStart(5, '0')}`);
  const secretsDir = await tempSecretsDir();
  const runDir = await mkdtemp(join(tmpdir(), 'caracal-bench-'));
  const { url: databaseUrl, schema } = await testSchemaUrl('bench_pipe');
  const catalogPath = join(runDir, 'catalog.zero-window.json');
  await writeFile(catalogPath, JSON.stringify(sandboxCatalog(0), null, 2));
  const redis: Redis = createRedis(env.redisUrl);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });

  const serviceEnv: Record<string, string> = { ...opts.env };
  const perService: Partial<Record<ServiceName, NodeJS.ProcessEnv>> = {};
  const savedNodeOptions = process.env.NODE_OPTIONS;
  const savedProfDir = process.env.BENCH_CPU_PROF_DIR;
  if (opts.profileDir) {
    // Node 20 refuses --cpu-prof in NODE_OPTIONS and ServiceProcess spawns `node --import tsx <main>` with fixed
    // arguments, so every process preloads bench/lib/cpu-prof-preload.mjs, which profiles through the inspector.
    const nodeOptions = [savedNodeOptions, `--import ${PRELOAD}`].filter(Boolean).join(' ');
    for (const name of SERVICE_NAMES) {
      await mkdir(join(opts.profileDir, name), { recursive: true });
      perService[name] = { NODE_OPTIONS: nodeOptions, BENCH_CPU_PROF_DIR: join(opts.profileDir, name) };
    }
    await mkdir(join(opts.profileDir, 'fleet'), { recursive: true });
    // Fleet members inherit the harness's environment at spawn; the services get their own directories above.
    process.env.NODE_OPTIONS = nodeOptions;
    process.env.BENCH_CPU_PROF_DIR = join(opts.profileDir, 'fleet');
  }

  let stack: Stack | undefined;
  let stopped = false;
  const stopStack = async () => {
    if (stopped) return;
    stopped = true;
    await stack?.stop().catch(() => undefined);
  };
  const cleanup = async () => {
    await stopStack();
    await pool.end().catch(() => undefined);
    for (const p of [prefix, `{${prefix}}`, namespace, `seen:${prefix}`]) await deleteMatching(redis, `${globEscape(p)}*`).catch(() => undefined);
    redis.disconnect();
    await dropSchema(schema).catch(() => undefined);
    await rm(secretsDir, { recursive: true, force: true });
    if (!process.env.BENCH_KEEP_RUN) await rm(runDir, { recursive: true, force: true });
  };

  try {
    const t0 = performance.now();
    env.log(`pipeline: starting the sandbox fleet and five services, seeding ${opts.zones} zones`);
    try {
      stack = await startStack({
        redisUrl: env.redisUrl,
        databaseUrl,
        secretsDir,
        runDir,
        streamPrefix: prefix,
        sandbox: { namespace, basePort: 'ephemeral' },
        seed: { zones },
        catalogPath,
        logLevel: 'info',
        env: { '*': serviceEnv, ...perService },
      });
    } finally {
      if (opts.profileDir) {
        if (savedNodeOptions === undefined) delete process.env.NODE_OPTIONS;
        else process.env.NODE_OPTIONS = savedNodeOptions;
        if (savedProfDir === undefined) delete process.env.BENCH_CPU_PROF_DIR;
        else process.env.BENCH_CPU_PROF_DIR = savedProfDir;
      }
    }
    const startupS = round((performance.now() - t0) / 1000, 1);
    env.log(`  stack up in ${startupS} s`);
    const services = stack.services;

    const procs = [
      ...services.map((s) => ({ name: s.instance, kind: 'service' as const, pid: s.pid })),
      ...(stack.fleet?.status() ?? []).map((m) => ({ name: `fleet:${m.name}`, kind: 'fleet' as const, pid: m.pid ?? undefined })),
    ];
    const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1] ?? 0) || undefined;
    const cpuBefore = new Map(procs.map((p) => [p.name, p.pid ? cpuSecondsOf(p.pid) : undefined]));
    const redisCpuBefore = redisPid ? cpuSecondsOf(redisPid) : undefined;
    const commandStats = async () => {
      const stats = new Map<string, { calls: number; usec: number }>();
      for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) stats.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
      return stats;
    };
    const commandsBefore = await commandStats();
    const keyspaceBefore = await redis.dbsize();
    const harnessCpuBefore = process.cpuUsage();

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

    const operator = await connectOperator({ redisUrl: env.redisUrl, databaseUrl, secretsDir, catalogPath, streamPrefix: prefix });
    const started = Date.now();
    const windowFromUs = Number(process.hrtime.bigint() / 1000n);
    const batchId = await operator.request({ material: 'ZONE_SIGNING_KEY', zone_id: '*', reason: 'bench: rotate every zone', actor: 'bench@local' });
    env.log(`  requested ${opts.zones} zone rotations (batch ${batchId})`);
    let done = 0;
    let failed = 0;
    let rejected = 0;
    let lastLog = Date.now();
    while (Date.now() - started < opts.timeoutS * 1000) {
      [done, failed, rejected] = await Promise.all([redis.xlen(streams.completed), redis.xlen(streams.failed), redis.xlen(streams.rejected)]);
      if (done + failed >= opts.zones || rejected > 0) break;
      if (Date.now() - lastLog > 15_000) {
        env.log(`  … ${done} completed, ${failed} failed after ${Math.round((Date.now() - started) / 1000)} s`);
        lastLog = Date.now();
      }
      await sleep(250);
    }
    const finishedWallS = (Date.now() - started) / 1000;
    const windowToUs = Number(process.hrtime.bigint() / 1000n);
    const timedOut = done + failed < opts.zones && rejected === 0;
    env.log(`  ${done} completed, ${failed} failed, ${rejected} rejected in ${round(finishedWallS, 1)} s${timedOut ? ' (TIMED OUT)' : ''}`);

    const harnessCpu = process.cpuUsage(harnessCpuBefore);
    const cpu = procs.map((p) => {
      const before = cpuBefore.get(p.name);
      const after = p.pid ? cpuSecondsOf(p.pid) : undefined;
      const mem = p.pid ? memoryOf(p.pid) : undefined;
      return { name: p.name, kind: p.kind, pid: p.pid, cpuS: before !== undefined && after !== undefined ? round(after - before, 1) : null, peakRssMiB: mem?.hwmMiB ?? null, rssMiB: mem?.rssMiB ?? null };
    });
    const redisCpuAfter = redisPid ? cpuSecondsOf(redisPid) : undefined;
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

    // The recorder may still be projecting (it can record a `completed` before a late `rolled`): wait until
    // every entry of every rotation stream is in rotation_events (bounded), then read its lag from Postgres.
    const projectionWaitStart = Date.now();
    const streamEntries = (await Promise.all(EVENT_NAMES.map((n) => redis.xlen(streams[n])))).reduce((a, b) => a + b, 0);
    while (Date.now() - projectionWaitStart < 120_000) {
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM rotation_events');
      if (Number(rows[0]!.n) >= streamEntries) break;
      await sleep(500);
    }
    const projectionCaughtUpS = round((Date.now() - started) / 1000, 1);
    sampling = false;
    await sampler;
    await operator.close();

    // Stream entries: the Redis server's clock for every hop.
    const byStream = new Map<EventName, RawEntry[]>();
    for (const name of EVENT_NAMES) byStream.set(name, await readAll(redis, streams[name]));
    const request = byStream.get('requested')!.find((e) => e.fields.rotation_id === batchId);
    const requestMs = request ? entryMs(request.id) : started;
    const rotations = timelines(byStream, requestMs);
    const completedAt = [...rotations.values()].map((t) => t.at.get('completed')).filter((x): x is number => x !== undefined);
    const lastCompleted = completedAt.length ? Math.max(...completedAt) : Number.NaN;
    const firstCompleted = completedAt.length ? Math.min(...completedAt) : Number.NaN;
    const deployDone = [...rotations.values()].map((t) => t.at.get('verified:deploy')).filter((x): x is number => x !== undefined);
    const latencies = [...rotations.values()].filter((t) => t.at.has('completed')).map((t) => t.at.get('completed')! - requestMs);
    const lat = summarize(latencies);
    const work = stageWork(metrics);

    const hops = HOPS.map(([label, from, to]) => {
      const values: number[] = [];
      const queue: number[] = [];
      for (const t of rotations.values()) {
        const a = t.at.get(from);
        const b = t.at.get(to);
        if (a === undefined || b === undefined) continue;
        values.push(b - a);
        if (HOP_WORK[label] === 'checks') queue.push(b - a - (t.checksMs.get(to) ?? 0));
      }
      const s = summarize(values);
      const w = HOP_WORK[label];
      const workMs = w === 'checks' ? (queue.length ? s.mean - queue.reduce((x, y) => x + y, 0) / queue.length : Number.NaN) : w ? (work.get(`${w.stage}:${w.phase}`)?.meanMs ?? Number.NaN) : Number.NaN;
      return {
        hop: label,
        n: s.n,
        p50Ms: s.p50,
        p99Ms: s.p99,
        maxMs: s.max,
        meanMs: round(s.mean, 1),
        meanWorkMs: round(workMs, 1),
        meanWaitMs: Number.isFinite(workMs) ? round(s.mean - workMs, 1) : null,
      };
    });

    // Recorder lag per event type, and the split of verified(deploy) → retiring into projection lag and timer/drain wait.
    const { rows: recorded } = await pool.query<{ rotation_id: string; type: string; phase: string | null; entry_id: string; recorded_ms: string }>(
      `SELECT rotation_id, type, data->>'phase' AS phase, entry_id, (extract(epoch FROM recorded_at) * 1000)::bigint AS recorded_ms FROM rotation_events`,
    );
    const recorderLag = new Map<string, number[]>();
    const verifiedDeployRecorded = new Map<string, number>();
    for (const r of recorded) {
      const key = r.phase ? `${r.type}(${r.phase})` : r.type;
      const lag = Number(r.recorded_ms) - entryMs(r.entry_id);
      recorderLag.set(key, [...(recorderLag.get(key) ?? []), lag]);
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
    const eventsProjected = recorded.length;
    const recordedMs = recorded.map((r) => Number(r.recorded_ms));
    const recorderSpanS = recordedMs.length ? (Math.max(...recordedMs) - Math.min(...recordedMs)) / 1000 : Number.NaN;

    const durationS = (lastCompleted - requestMs) / 1000;
    const result = {
      zones: opts.zones,
      prefix,
      serviceEnv,
      startupS,
      completed: done,
      failed,
      rejected,
      timedOut,
      rotationsPerS: round(completedAt.length / durationS, 1),
      durationS: round(durationS, 1),
      firstCompletedS: round((firstCompleted - requestMs) / 1000, 1),
      deployPhaseDoneS: deployDone.length ? round((Math.max(...deployDone) - requestMs) / 1000, 1) : null,
      latencyMs: { p50: lat.p50, p90: lat.p90, p99: lat.p99, max: lat.max },
      hops,
      retiringSplitMs: {
        projectionLag: (() => {
          const s = summarize(projectionPart);
          return { p50: s.p50, p99: s.p99, mean: round(s.mean, 0) };
        })(),
        timerAndDrainGate: (() => {
          const s = summarize(timerPart);
          return { p50: s.p50, p99: s.p99, mean: round(s.mean, 0) };
        })(),
      },
      recorder: {
        eventsProjected,
        eventsPerS: round(eventsProjected / recorderSpanS, 0),
        caughtUpS: projectionCaughtUpS,
        lagMs: Object.fromEntries(
          [...recorderLag.entries()].sort().map(([k, v]) => {
            const s = summarize(v);
            return [k, { p50: s.p50, p99: s.p99, max: s.max }];
          }),
        ),
      },
      peakBacklog: Object.fromEntries([...peakBacklog.entries()].filter(([, v]) => v.peak > 0).sort((a, b) => b[1].peak - a[1].peak)),
      processes: cpu.map((p) => ({
        ...p,
        cpuPctOfOneCore: p.cpuS !== null ? round((p.cpuS / finishedWallS) * 100, 0) : null,
        cpuMsPerRotation: p.cpuS !== null && done > 0 ? round((p.cpuS * 1000) / done, 1) : null,
      })),
      redisCommands,
      keyspace: { before: keyspaceBefore, after: keyspaceAfter },
      redisServerCpuS: redisCpuBefore !== undefined && redisCpuAfter !== undefined ? round(redisCpuAfter - redisCpuBefore, 1) : null,
      harness: { cpuS: round((harnessCpu.user + harnessCpu.system) / 1e6, 1), peakRssMiB: harnessMem?.hwmMiB ?? null },
      serviceMetrics: Object.fromEntries(
        [...metrics.entries()].map(([instance, samples]) => [
          instance,
          {
            eventLoopLagP99Ms: round((samples.find((s) => s.name === 'nodejs_eventloop_lag_p99_seconds')?.value ?? Number.NaN) * 1000, 1),
            stageWorkMs: Object.fromEntries([...stageWork(new Map([[instance, samples]])).entries()].map(([k, v]) => [k, { meanMs: round(v.meanMs, 1), count: v.count }])),
          },
        ]),
      ),
    };

    let profiles: { group: string; summary: ProfileSummary }[] | undefined;
    if (opts.profileDir) {
      env.log('  stopping the stack so every process writes its CPU profile');
      await stopStack();
      const pidName = new Map((result.processes ?? []).map((p) => [String(p.pid), p.name]));
      profiles = [];
      for (const p of await profilesIn(opts.profileDir)) {
        const pid = p.file.split('/').pop()!.split('.')[3]!;
        // Only the run itself (request → last completion), not start-up or shutdown.
        profiles.push({ group: pidName.get(pid) ?? `${p.group}(pid ${pid})`, summary: await summarizeProfile(p.file, 15, { fromUs: windowFromUs, toUs: windowToUs }) });
      }
    }
    return { ...result, profiles };
  } finally {
    await cleanup();
  }
}
