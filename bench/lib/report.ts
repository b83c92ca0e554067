import type { busHop } from '../sections/bus-hop.js';
import type { offeredLoad } from '../sections/offered-load.js';
import type { pipeline } from '../sections/pipeline.js';
import type { recorderSection } from '../sections/recorder.js';
import type { BenchArgs, Section } from './args.js';
import type { LoadWindow, machineInfo } from './machine.js';

type Bus = Awaited<ReturnType<typeof busHop>>;
type Offered = Awaited<ReturnType<typeof offeredLoad>>;
type Recorder = Awaited<ReturnType<typeof recorderSection>>;
type Pipeline = Awaited<ReturnType<typeof pipeline>> & { profileDir?: string };

export interface Report {
  startedAt: string;
  sources: Record<string, string>;
  finishedAt: string;
  wallS: number;
  args: BenchArgs;
  machine: ReturnType<typeof machineInfo>;
  loads: Partial<Record<Section, LoadWindow>>;
  sections: Record<string, unknown>;
  errors: Record<string, string>;
}

const fmt = (x: number | null | undefined, unit = ''): string => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : `${x.toLocaleString('en-US')}${unit}`);
const table = (head: string[], rows: (string | number)[][]): string =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const loadCell = (w: LoadWindow | undefined): string =>
  w ? `${w.start.loadavg[0]} → ${w.end.loadavg[0]} (${fmt(w.machineBusyPct)}% busy)` : '';

/** The project's performance goals, as the summary states them beside each figure (reported, never asserted). */
export const GOALS = {
  busRatio: '≥ 0.6',
  stageHopP99: '< 20 ms',
  recorderEventsPerS: '≥ 10,000/s',
  rotationsPerS: '≥ 300/s at 2,000 zones',
  tenThousandZones: '< 30 s at 10,000 zones',
  cpuMsPerRotation: '≤ 6 ms',
  peakRssPerService: '< 150 MiB',
} as const;

export function renderMarkdown(r: Report): string {
  const bus = r.sections.bus as Bus | undefined;
  const offered = r.sections.offered as Offered | undefined;
  const rec = r.sections.recorder as Recorder | undefined;
  const pipeKey: Section = r.sections.pipeline ? 'pipeline' : 'profile';
  const pipe = r.sections[pipeKey] as Pipeline | undefined;
  const out: string[] = [];

  out.push(`# Rotation orchestrator benchmark — ${r.startedAt}`);
  out.push('');
  out.push(
    `Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memGiB} GiB, Linux ${r.machine.kernel}, Node ${r.machine.node}. ` +
      `The load average (1 min) at the start and end of each section, and how busy all cores were in between (anyone's work), are given beside each figure. ` +
      `Run: \`npm run bench${r.args.quick ? ' -- --quick' : ''}\` (zones ${r.args.zones}, sections ${r.args.only.join(', ')}), ${r.wallS} s in all.`,
  );
  out.push('');

  const rows: (string | number)[][] = [];
  if (bus) {
    const s = bus.summary;
    rows.push(['1. Bus hop: events/s through one stage (real StreamConsumer)', fmt(s.consumer.eventsPerS), `bare ioredis loop ${fmt(s.bare.eventsPerS)}`, `consumer ÷ bare **${bus.ratio}** (goal ${GOALS.busRatio})`, loadCell(r.loads.bus)]);
    rows.push(['   … CPU ms per 1000 events (stage process)', fmt(s.consumer.cpuMsPer1k), `bare ${fmt(s.bare.cpuMsPer1k)}`, `${Math.round((s.consumer.cpuMsPer1k / s.bare.cpuMsPer1k) * 10) / 10}×`, '']);
    rows.push(["   … vs bare + the consumer's Redis commands (EXISTS, emit-and-ack script)", fmt(s.consumer.eventsPerS), `bare-dedupe ${fmt(s['bare-dedupe'].eventsPerS)}`, `${bus.ratioVsBareDedupe}`, '']);
  }
  if (offered) {
    const c = offered.runs.find((x) => x.mode === 'consumer');
    const b = offered.runs.find((x) => x.mode === 'bare');
    rows.push([
      `Stage hop p99 at ${offered.rate} events/s offered (one stage)`,
      `${fmt(c?.hopMs.p99, ' ms')} (p50 ${fmt(c?.hopMs.p50, ' ms')}; after 1 s warm-up ${fmt(c?.afterWarmupMs.p99, ' ms')})`,
      `bare ${fmt(b?.hopMs.p99, ' ms')} (p50 ${fmt(b?.hopMs.p50, ' ms')})`,
      `goal ${GOALS.stageHopP99}; stage's own event-loop delay p99 ${fmt(c?.stageLoopDelayMs.p99, ' ms')} (bare ${fmt(b?.stageLoopDelayMs.p99, ' ms')})`,
      loadCell(r.loads.offered),
    ]);
  }
  if (rec) {
    rows.push([
      `3. Recorder: events/s projected (applyEvents, ${rec.batchSize} per batch, ${rec.poolMax} connections)`,
      `**${fmt(rec.results.applyEvents.eventsPerS)}**`,
      `floor (multi-row INSERT only) ${fmt(rec.results.insertFloor.eventsPerS)}; one event per transaction ${fmt(rec.results.applyEvent.eventsPerS)}`,
      `goal ${GOALS.recorderEventsPerS}; ${rec.ratioVsFloor} of the floor`,
      loadCell(r.loads.recorder),
    ]);
  }
  if (pipe) {
    const perRotation = pipe.zones > 0 ? pipe.recorder.eventsProjected / pipe.zones : Number.NaN;
    const ceiling = bus ? Math.round(bus.summary.consumer.eventsPerS / perRotation) : Number.NaN;
    rows.push([
      `2. Pipeline: ${pipe.zones}-zone ZONE_SIGNING_KEY batch (deploy + retire), rotations/s`,
      `**${fmt(pipe.rotationsPerS)}** (${pipe.completed} completed, ${pipe.failed} failed, ${pipe.rejected} rejected; last after **${fmt(pipe.durationS, ' s')}**${pipe.timedOut ? ', TIMED OUT' : ''})`,
      bus ? `bus ceiling ≈ ${fmt(ceiling)}/s (consumer events/s ÷ ${fmt(Math.round(perRotation * 10) / 10)} events each rotation brings the recorder)` : 'n/a',
      `goal ${GOALS.rotationsPerS}; ${GOALS.tenThousandZones}`,
      loadCell(r.loads[pipeKey]),
    ]);
    rows.push(['   … request → completed latency p50 / p99', `${fmt(pipe.latencyMs.p50, ' ms')} / ${fmt(pipe.latencyMs.p99, ' ms')}`, '', '', '']);
    const c = pipe.cpuMsPerRotation;
    rows.push([
      '   … CPU ms per rotation, summed over the five services',
      `**${fmt(c.service)}**`,
      `with the Caracal replica: ${fmt(c.service !== null && c.replica !== null ? Math.round((c.service + c.replica) * 100) / 100 : null)}; shared Redis + Postgres servers (others' work included): ${fmt(c.shared)}`,
      `goal ${GOALS.cpuMsPerRotation}`,
      '',
    ]);
    const services = pipe.processes.filter((p) => p.kind === 'service');
    rows.push([
      '4. Peak RSS (VmHWM) per service during (2)',
      services.map((p) => `${p.name.replace(/-1$/, '')} ${fmt(p.peakRssMiB)}`).join(', ') + ' MiB',
      `replica processes up to ${fmt(Math.max(...pipe.processes.filter((p) => p.kind === 'replica').map((p) => p.peakRssMiB ?? 0)))} MiB`,
      `goal ${GOALS.peakRssPerService} each`,
      '',
    ]);
    const worst = [...pipe.hops].sort((a, b) => b.p99Ms - a.p99Ms)[0];
    if (worst) rows.push(['   … worst hop p99', `${worst.hop}: ${fmt(worst.p99Ms, ' ms')}`, `its mean work ${fmt(worst.meanWorkMs, ' ms')}`, '', '']);
  }
  out.push('## Summary');
  out.push('');
  out.push(table(['figure', 'measured', 'baseline (same run)', 'ratio / goal', 'load avg 1 min start → end'], rows));
  out.push('');

  if (bus) {
    out.push(`## 1. Bus hop (${bus.events} pre-filled events per run, COUNT ${bus.batchSize}, ${bus.maxInFlight} in flight; best of ${bus.reps}, order alternated)`);
    out.push('');
    out.push(
      table(
        ['mode', 'rep', 'events/s', 'CPU ms / 1000 events', 'event-loop utilisation'],
        bus.runs.map((x) => [x.mode, x.rep, fmt(x.eventsPerS), fmt(x.cpuMsPer1k), x.eventLoopUtilization]),
      ),
    );
    out.push('');
    out.push(`All outputs delivered and nothing left pending: ${bus.allDelivered ? 'yes' : '**NO**'}.`);
    out.push('');
  }
  if (offered) {
    out.push(`## Stage hop at ${offered.rate} events/s offered (${offered.seconds} s, one stage in its own process)`);
    out.push('');
    out.push(
      table(
        ['mode', 'offered/s', 'hop p50', 'p90', 'p99', 'max', 'p99 after 1 s warm-up', '> 20 ms', 'p99 per second', 'stage loop delay p99 / max', 'stage CPU ms/event'],
        offered.runs.map((x) => [
          x.mode,
          fmt(x.offeredPerS),
          fmt(x.hopMs.p50, ' ms'),
          fmt(x.hopMs.p90, ' ms'),
          fmt(x.hopMs.p99, ' ms'),
          fmt(x.hopMs.max, ' ms'),
          fmt(x.afterWarmupMs.p99, ' ms'),
          `${x.over20ms}/${x.events}`,
          x.perSecondP99.join(' '),
          `${fmt(x.stageLoopDelayMs.p99, ' ms')} / ${fmt(x.stageLoopDelayMs.max, ' ms')}`,
          fmt(x.stageCpuMsPerEvent),
        ]),
      ),
    );
    out.push('');
  }
  if (rec) {
    out.push(`## 3. Recorder (${rec.events} events of ${rec.rotations} rotations: ${Object.entries(rec.mix).map(([k, v]) => `${v} ${k}`).join(', ')})`);
    out.push('');
    out.push(
      table(
        ['variant', 'events/s', 'statements/event', 'concurrency', 'what it does'],
        Object.entries(rec.results).map(([k, v]) => [k, fmt(v.eventsPerS), v.queriesPerEvent, v.concurrency, v.note]),
      ),
    );
    out.push('');
    out.push(
      `applyEvents in batches and applyEvent one event at a time leave the same projection (rotations, events, checks, drains, retirements, plans): ${rec.sameProjection ? 'yes' : '**NO**'}. ` +
        `Batches vs one event per transaction: ${rec.batchSpeedup}×.`,
    );
    out.push('');
  }
  for (const [title, pipe] of [
    ['2. Pipeline at scale', r.sections.pipeline as Pipeline | undefined],
    ['Pipeline under the profiler (section profile)', r.sections.profile as Pipeline | undefined],
  ] as const) {
    if (!pipe) continue;
    out.push(`## ${title} (${pipe.zones} zones, zero safety window; service env ${JSON.stringify(pipe.serviceEnv)})`);
    out.push('');
    out.push(
      `One operator request (\`caracal-rotate request ZONE_SIGNING_KEY --zone '*'\`, batch ${pipe.batchId}). ` +
        `Stack start-up (the sandbox replica with ${pipe.zones} zones seeded through its API with API_V1_RATE_LIMIT_PER_MIN ${process.env.API_V1_RATE_LIMIT_PER_MIN ?? 600}, five services) ${fmt(pipe.startupS, ' s')}. First rotation completed after ${fmt(pipe.firstCompletedS, ' s')}; ` +
        `every deploy verified after ${fmt(pipe.deployPhaseDoneS, ' s')}; last completed after ${fmt(pipe.durationS, ' s')}. ` +
        `Latency request → completed: p50 ${fmt(pipe.latencyMs.p50, ' ms')}, p90 ${fmt(pipe.latencyMs.p90, ' ms')}, p99 ${fmt(pipe.latencyMs.p99, ' ms')}, max ${fmt(pipe.latencyMs.max, ' ms')}.`,
    );
    out.push('');
    if (Object.keys(pipe.deadLetters).length) out.push(`**Dead letters**: ${Object.entries(pipe.deadLetters).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
    out.push('');
    out.push(
      "Hops along the path libs/lifecycle expects for the batch's plan, from stream entry ids (Redis server clock). Work = the stage's own stage_duration metric (mean), or for the verifier the check durations it reports; wait = mean hop − work (queueing, reads, publish). A rotation completes with its passing `verified(retire)` (the lifecycle's `completed`; the verifier's `completed` announcement goes to Caracal's Redis).",
    );
    out.push('');
    out.push(
      table(
        ['hop', 'n', 'p50', 'p99', 'max', 'mean', 'mean work', 'mean wait'],
        pipe.hops.map((h) => [h.hop, h.n, fmt(h.p50Ms, ' ms'), fmt(h.p99Ms, ' ms'), fmt(h.maxMs, ' ms'), fmt(h.meanMs, ' ms'), fmt(h.meanWorkMs, ' ms'), fmt(h.meanWaitMs, ' ms')]),
      ),
    );
    out.push('');
    out.push(
      `verified(deploy) → retiring splits into the recorder's projection lag of verified(deploy) (p50 ${fmt(pipe.retiringSplitMs.projectionLag.p50, ' ms')}, p99 ${fmt(pipe.retiringSplitMs.projectionLag.p99, ' ms')}) ` +
        `and the retirement timer + drain gate after it (p50 ${fmt(pipe.retiringSplitMs.timerAndDrainGate.p50, ' ms')}, p99 ${fmt(pipe.retiringSplitMs.timerAndDrainGate.p99, ' ms')}).`,
    );
    out.push('');
    out.push(`Recorder: ${pipe.recorder.eventsProjected} events projected at ${fmt(pipe.recorder.eventsPerS)} events/s on average; caught up ${fmt(pipe.recorder.caughtUpS, ' s')} after the request. Lag (recorded_at − entry time) per event type:`);
    out.push('');
    out.push(table(['event', 'p50', 'p99', 'max'], Object.entries(pipe.recorder.lagMs).map(([k, v]) => [k, fmt(v.p50, ' ms'), fmt(v.p99, ' ms'), fmt(v.max, ' ms')])));
    out.push('');
    out.push('Peak backlog per consumer group (lag + pending, sampled once a second):');
    out.push('');
    out.push(table(['stream/group', 'peak', 'at'], Object.entries(pipe.peakBacklog).map(([k, v]) => [k, fmt(v.peak), `${v.atS} s`])));
    out.push('');
    const c = pipe.cpuMsPerRotation;
    out.push(`### Footprint and CPU during this pipeline run (request → last completion; harness ${fmt(pipe.harness.cpuS, ' CPU s')}, ${fmt(pipe.harness.peakRssMiB, ' MiB')})`);
    out.push('');
    out.push(
      `CPU ms per rotation: five services ${fmt(c.service)}, Caracal replica ${fmt(c.replica)}, shared Redis and Postgres servers ${fmt(c.shared)} (whole servers: other users' work is included). ` +
        'Each process counts with its descendants (a Postgres server with its backends, ended ones included); peak RSS is the process itself.',
    );
    out.push('');
    out.push(
      table(
        ['process', 'pid', 'peak RSS (VmHWM)', 'RSS at end', 'CPU s during run', '% of one core', 'CPU ms per rotation', 'event-loop lag p99 (prom)'],
        pipe.processes.map((p) => [
          p.name,
          p.pid,
          fmt(p.peakRssMiB, ' MiB'),
          fmt(p.rssMiB, ' MiB'),
          fmt(p.cpuS),
          fmt(p.cpuPctOfOneCore, '%'),
          fmt(p.cpuMsPerRotation),
          fmt(pipe.serviceMetrics[p.name]?.eventLoopLagP99Ms, ' ms'),
        ]),
      ),
    );
    out.push('');
    out.push(
      `Redis commands during the run (whole server: other users' commands are included; keyspace ${fmt(pipe.keyspace.before)} → ${fmt(pipe.keyspace.after)} keys): ` +
        pipe.redisCommands.map((c) => `${c.cmd} ${fmt(c.calls)} calls / ${fmt(c.serverMs)} ms`).join(', '),
    );
    out.push('');
    if (pipe.profiles?.length) {
      out.push(`## Profiles (inspector CPU profiles of every service, frames mapped to their sources; ${pipe.profileDir ?? ''})`);
      out.push('');
      for (const p of [...pipe.profiles].sort((a, b) => b.summary.busyMs - a.summary.busyMs)) {
        const s = p.summary;
        out.push(`### ${p.group}: busy ${fmt(s.busyMs, ' ms')} of ${fmt(s.wallMs, ' ms')} (${s.busyPct}%), GC ${s.gcPct}% of busy`);
        out.push('');
        out.push(`By origin: ${s.byOrigin.map((o) => `${o.origin} ${o.selfPct}%`).join(', ')}`);
        out.push('');
        out.push(table(['self %', 'self ms', 'function', 'where', 'called via'], s.top.slice(0, 12).map((f) => [f.selfPct, f.selfMs, `\`${f.fn}\``, f.where, f.via ?? ''])));
        out.push('');
        out.push(table(['incl. %', 'incl. ms', 'own function', 'where'], s.ownInclusive.slice(0, 12).map((f) => [f.totalPct, f.totalMs, `\`${f.fn}\``, f.where])));
        out.push('');
      }
    }
  }
  out.push('## Code measured');
  out.push('');
  out.push('Source hashes (sha256, 16 hex) of the code the figures depend on most are in latest.json (`sources`).');
  out.push('');
  out.push('## Load during each section');
  out.push('');
  out.push(
    table(
      ['section', 'start', 'end', 'all cores busy in between'],
      Object.entries(r.loads).map(([k, w]) => [k, `\`${w!.start.uptime}\``, `\`${w!.end.uptime}\``, `${fmt(w!.machineBusyPct)}%`]),
    ),
  );
  out.push('');
  if (Object.keys(r.errors).length) {
    out.push('## Errors');
    out.push('');
    for (const [k, v] of Object.entries(r.errors)) out.push(`- ${k}: \`${v.split('\n')[0]}\``);
    out.push('');
  }
  return out.join('\n');
}
