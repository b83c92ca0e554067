/**
 * One stage of the bus, in a process of its own so that the producer (the
 * harness) never shares its event loop. Modes:
 *   consumer     the real StreamConsumer of libs/bus (read, verify, parse, dedupe, handle, publish, ack)
 *   bare         plain ioredis: XREADGROUP (same COUNT), XADD of an output (the input's fields), XACK
 *   bare-dedupe  the consumer's Redis commands without its crypto and parsing: EXISTS of the
 *                de-duplication key, then one script that appends the output, sets the key and
 *                acknowledges (the consumer's emit-and-ack round trip)
 * Every mode uses libs/bus createRedis's connection (auto-pipelining on, its default).
 * Prints one JSON line `{"ready":true}` once reading, then `{"done":true,…}` after `count` events were acknowledged.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Keyring, Publisher, Signers, StaticKeyringSource, StreamConsumer, createRedis, duplicateForBlocking, subscribe, type Redis } from '@caracal-rotation/bus';
import { stageEventId, type RolledData, type WrittenData } from '@caracal-rotation/contracts';

export type HopMode = 'consumer' | 'bare' | 'bare-dedupe';

export interface HopWorkerConfig {
  mode: HopMode;
  redisUrl: string;
  keyHex: string;
  inStream: string;
  outStream: string;
  group: string;
  count: number;
  batchSize: number;
  maxInFlight: number;
  blockMs: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as HopWorkerConfig;
const say = (obj: object) => process.stdout.write(`${JSON.stringify(obj)}\n`);

let processed = 0;
let finish!: () => void;
const finished = new Promise<void>((resolve) => (finish = resolve));
const onDone = () => {
  processed += 1;
  if (processed === config.count) finish();
};

async function runConsumer(): Promise<() => Promise<void>> {
  const redis = createRedis(config.redisUrl);
  const keyring = new StaticKeyringSource(Keyring.fromHex(config.keyHex));
  const publisher = new Publisher(redis, keyring, 'bench-stage/worker');
  const options = {
    redis,
    group: config.group,
    consumer: 'bench-1',
    signers: new Signers({ bus: keyring }),
    publisher,
    batchSize: config.batchSize,
    blockMs: config.blockMs,
    maxInFlight: config.maxInFlight,
    onOutcome: (_stream: string, outcome: string) => {
      if (outcome === 'ok') onDone();
    },
    subscriptions: [
      subscribe<WrittenData>({
        stream: config.inStream,
        event: 'written',
        signers: ['bus'],
        // The trivial handler: a roller with nothing to restart (a zone key's plan has no holders).
        handle: async (e) => {
          const { phase, material, zone_id, role, batch_id, plan, new: next, previous } = e.data;
          const data: RolledData = { phase, material, zone_id, role, batch_id, plan, new: next, previous, holders: [] };
          return [{ stream: config.outStream, name: 'rolled' as const, eventId: stageEventId(e.rotationId, 'roller', phase), rotationId: e.rotationId, data }];
        },
      }),
    ],
  };
  const consumer = new StreamConsumer(options);
  await consumer.start();
  return async () => {
    await consumer.stop();
    redis.disconnect();
  };
}

// The shape of the consumer's emit-and-ack script (libs/bus/src/consumer.ts) for one output.
const EMIT_SET_ACK = `
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 4))
redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
return redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])`;

async function runBare(dedupe: boolean): Promise<() => Promise<void>> {
  const redis: Redis = createRedis(config.redisUrl);
  const reader = duplicateForBlocking(redis);
  try {
    await redis.xgroup('CREATE', config.inStream, config.group, '0', 'MKSTREAM');
  } catch (err) {
    if (!String(err).includes('BUSYGROUP')) throw err;
  }
  let running = true;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  const one = async (id: string, flat: string[]) => {
    if (!dedupe) {
      await redis.xadd(config.outStream, '*', ...flat);
      await redis.xack(config.inStream, config.group, id);
      return;
    }
    // Same key shape as the consumer's de-duplication key.
    const seenKey = `seen:${config.inStream}:${config.group}:${flat[flat.indexOf('event_id') + 1]}`;
    if (await redis.exists(seenKey)) {
      await redis.xack(config.inStream, config.group, id);
      return;
    }
    await redis.eval(EMIT_SET_ACK, 3, config.outStream, seenKey, config.inStream, config.group, id, 7 * 24 * 3600, ...flat);
  };
  const loop = (async () => {
    while (running) {
      const room = config.maxInFlight - inFlight;
      if (room <= 0) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = (await reader.xreadgroup('GROUP', config.group, 'bench-1', 'COUNT', Math.min(room, config.batchSize), 'BLOCK', config.blockMs, 'STREAMS', config.inStream, '>')) as
          | [string, [string, string[]][]][]
          | null;
      } catch (err) {
        if (!running) return;
        throw err;
      }
      for (const [, entries] of reply ?? []) {
        for (const [id, flat] of entries) {
          inFlight += 1;
          void one(id, flat)
            .then(onDone, (err: unknown) => say({ error: String(err) }))
            .finally(() => {
              inFlight -= 1;
              wake?.();
              wake = undefined;
            });
        }
      }
    }
  })();
  return async () => {
    running = false;
    reader.disconnect();
    await loop.catch(() => undefined);
    redis.disconnect();
  };
}

async function main() {
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  // How late the event loop ran its timers: on a loaded machine, mostly time this process waited for a CPU.
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const t0 = performance.now();
  const stop = config.mode === 'consumer' ? await runConsumer() : await runBare(config.mode === 'bare-dedupe');
  say({ ready: true });
  await finished;
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  delay.disable();
  say({
    done: true,
    processed,
    elapsedMs,
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    eventLoopUtilization: elu.utilization,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    loopDelayMaxMs: delay.max / 1e6,
  });
  await stop();
  process.exit(0);
}

process.on('SIGTERM', () => process.exit(0));
main().catch((err: unknown) => {
  say({ error: err instanceof Error ? err.stack ?? err.message : String(err) });
  process.exit(1);
});
