import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Keyring, createRedis, type Redis } from '@caracal-rotation/bus';
import { deleteMatching, globEscape, readAll } from '../lib/redis-util.js';
import { entryMs, round, summarize } from '../lib/stats.js';
import { startHopWorker } from '../lib/worker.js';
import type { HopMode } from '../workers/hop-worker.js';
import { BATCH_SIZE, MAX_IN_FLIGHT, signedWrittenEvents, type Env } from './bus-hop.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Offers `rate` events/s for `seconds` to one stage (its own process) and
 * measures each event's hop: the output's stream entry time minus the input's,
 * both stamped by the Redis server, so the harness's clock plays no part.
 */
async function offer(env: Env, redis: Redis, mode: HopMode, rate: number, seconds: number, prefix: string) {
  const keyHex = randomBytes(32).toString('hex');
  const keyring = Keyring.fromHex(keyHex);
  const inStream = `${prefix}.${mode}.written`;
  const outStream = `${prefix}.${mode}.rolled`;
  const total = Math.round(rate * seconds);
  const events = signedWrittenEvents(keyring, inStream, prefix, total);
  const worker = startHopWorker(
    { mode, redisUrl: env.redisUrl, keyHex, inStream, outStream, group: 'bench-stage', count: total, batchSize: BATCH_SIZE, maxInFlight: MAX_IN_FLIGHT, blockMs: 1000 },
    seconds * 1000 + 120_000,
  );
  try {
    await worker.ready;
    const started = performance.now();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
      if (due > sent) {
        const p = redis.pipeline();
        for (const flat of events.slice(sent, due)) p.xadd(inStream, '*', ...flat);
        await p.exec();
        sent = due;
      }
      await sleep(1);
    }
    const offeredFor = (performance.now() - started) / 1000;
    const result = await worker.done;
    const inputs = await readAll(redis, inStream);
    const outputs = await readAll(redis, outStream);
    const inAt = new Map(inputs.map((e) => [e.fields.rotation_id!, entryMs(e.id)]));
    const t0 = inputs.length ? entryMs(inputs[0]!.id) : 0;
    const timed = outputs
      .map((o) => {
        const at = inAt.get(o.fields.rotation_id!) ?? Number.NaN;
        return { at: at - t0, hop: entryMs(o.id) - at };
      })
      .filter((h) => Number.isFinite(h.hop));
    const hops = timed.map((h) => h.hop);
    const s = summarize(hops);
    // The first second includes the stage's JIT warm-up; reported apart so a cold start is not mistaken for steady state.
    const warm = summarize(timed.filter((h) => h.at >= 1000).map((h) => h.hop));
    const perSecondP99 = Array.from({ length: Math.ceil(seconds) }, (_, i) => summarize(timed.filter((h) => h.at >= i * 1000 && h.at < (i + 1) * 1000).map((h) => h.hop)).p99);
    return {
      mode,
      offeredPerS: round(total / offeredFor, 0),
      events: total,
      outputs: outputs.length,
      hopMs: { p50: s.p50, p90: s.p90, p99: s.p99, max: s.max, mean: round(s.mean, 2) },
      afterWarmupMs: { p50: warm.p50, p99: warm.p99, max: warm.max },
      perSecondP99,
      over20ms: hops.filter((h) => h > 20).length,
      stageLoopDelayMs: { p99: round(result.loopDelayP99Ms, 1), max: round(result.loopDelayMaxMs, 1) },
      stageCpuMsPerEvent: round((result.cpuUserMs + result.cpuSystemMs) / total, 3),
    };
  } finally {
    worker.kill();
    await redis.unlink(inStream, outStream);
    await deleteMatching(redis, `seen:${globEscape(inStream)}:*`);
  }
}

export async function offeredLoad(env: Env, opts: { rate: number; seconds: number }) {
  const redis = createRedis(env.redisUrl);
  const prefix = `bench-offered-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  try {
    const runs = [];
    for (const mode of ['consumer', 'bare'] as HopMode[]) {
      env.log(`offered load: ${opts.rate} events/s for ${opts.seconds} s through one stage (${mode})`);
      const r = await offer(env, redis, mode, opts.rate, opts.seconds, prefix);
      env.log(`  ${mode}: hop p50 ${r.hopMs.p50} ms, p99 ${r.hopMs.p99} ms, max ${r.hopMs.max} ms (${r.over20ms} of ${r.events} over 20 ms); p99 per second ${r.perSecondP99.join(' ')}; stage event-loop delay p99 ${r.stageLoopDelayMs.p99} ms, max ${r.stageLoopDelayMs.max} ms`);
      runs.push(r);
    }
    return { rate: opts.rate, seconds: opts.seconds, runs };
  } finally {
    await deleteMatching(redis, `${prefix}*`);
    redis.disconnect();
  }
}
