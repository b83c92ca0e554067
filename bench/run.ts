/**
 * `npm run bench`: the performance harness of the rotation orchestrator.
 * Sections (see bench/README.md): bus hop, offered load, recorder, pipeline
 * at scale (with footprint), and on request a profile of the pipeline.
 * Writes bench/results/latest.json and latest.md and prints the table.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from '@caracal-rotation/testing';
import { parseArgs, type Section } from './lib/args.js';
import { MEASURED_SOURCES, hashSources } from './lib/provenance.js';
import { loadSnapshot, loadWindow, machineInfo, type LoadWindow } from './lib/machine.js';
import { renderMarkdown } from './lib/report.js';
import { REPO_ROOT } from './lib/worker.js';
import { busHop, profileConsumerHop, type Env } from './sections/bus-hop.js';
import { profilesIn, summarizeProfile } from './lib/cpuprofile.js';
import { offeredLoad } from './sections/offered-load.js';
import { PRELOAD, pipeline } from './sections/pipeline.js';
import { recorderSection } from './sections/recorder.js';

const RESULTS = join(REPO_ROOT, 'bench', 'results');

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const env: Env = {
    redisUrl: process.env.REDIS_URL ?? DEFAULT_REDIS_URL,
    databaseUrl: process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    log: (line) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`),
  };
  await mkdir(RESULTS, { recursive: true });
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const loads: Partial<Record<Section, LoadWindow>> = {};
  const sections: Record<string, unknown> = {};
  const errors: Record<string, string> = {};

  const run = async <T>(name: Section, fn: () => Promise<T>) => {
    if (!args.only.includes(name)) return;
    const start = loadSnapshot();
    env.log(`── ${name}: ${start.uptime}`);
    try {
      sections[name] = await fn();
    } catch (err) {
      errors[name] = err instanceof Error ? (err.stack ?? err.message) : String(err);
      env.log(`${name} FAILED: ${errors[name]}`);
    }
    const end = loadSnapshot();
    loads[name] = loadWindow(start, end);
    env.log(`── ${name} done: ${end.uptime} (machine ${loads[name]!.machineBusyPct}% busy in between)`);
  };

  await run('bus', () => busHop(env, { events: args.busEvents, reps: args.quick ? 1 : 2 }));
  await run('offered', () => offeredLoad(env, { rate: args.offeredRate, seconds: args.offeredSeconds }));
  await run('recorder', () => recorderSection(env, { rotations: args.recorderRotations }));
  await run('pipeline', () => pipeline(env, { zones: args.zones, timeoutS: args.pipelineTimeoutS, env: args.env }));
  await run('profile', async () => {
    const dir = join(RESULTS, 'profiles', startedAt.replace(/[:.]/g, '-'));
    env.log(`profile: one bus-hop stage (real StreamConsumer, ${args.busEvents} events) under the profiler`);
    const hop = await profileConsumerHop(env, args.busEvents, join(dir, 'bus', 'consumer'), PRELOAD);
    const hopProfiles = await Promise.all((await profilesIn(join(dir, 'bus'))).map(async (p) => ({ group: 'bus-hop consumer stage', summary: await summarizeProfile(p.file, 15) })));
    const r = await pipeline(env, { zones: args.zones, timeoutS: args.pipelineTimeoutS, env: args.env, profileDir: join(dir, 'pipeline') });
    return { ...r, profiles: [...hopProfiles.map((p) => ({ ...p, group: `${p.group} (${hop.eventsPerS} events/s)` })), ...(r.profiles ?? [])], profileDir: dir };
  });

  const report = {
    startedAt,
    sources: await hashSources(MEASURED_SOURCES),
    finishedAt: new Date().toISOString(),
    wallS: Math.round((performance.now() - t0) / 100) / 10,
    args,
    machine: machineInfo(),
    loads,
    sections,
    errors,
  };
  const md = renderMarkdown(report);
  await writeFile(join(RESULTS, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(RESULTS, 'latest.md'), md);
  // Every run is also kept under history/ (ignored by git), so a profile or A/B run does not lose the previous table.
  const stem = `${startedAt.replace(/[:.]/g, '-')}-${args.only.join('+')}`;
  await mkdir(join(RESULTS, 'history'), { recursive: true });
  await writeFile(join(RESULTS, 'history', `${stem}.json`), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(RESULTS, 'history', `${stem}.md`), md);
  process.stdout.write(`\n${md}\n`);
  env.log(`wrote ${join(RESULTS, 'latest.json')} and latest.md in ${report.wallS} s`);
  // Any stray handle (a pool, a timer) must not keep the run alive.
  process.exit(Object.keys(errors).length > 0 ? 1 : 0);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
