import type { ServiceProcess } from '@caracal-rotation/launcher';

/** A small seeded PRNG (mulberry32), so a chaos run can be repeated from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface KillRecord {
  service: string;
  instance: string;
  pid: number | undefined;
  /** ms since the chaos loop started. */
  at: number;
  /** How long the process stayed down (kill to /health answering again). */
  downMs: number;
  restartAttempts: number;
  restarted: boolean;
}

export interface ChaosOptions {
  random: () => number;
  /** Pause between kills, uniformly in [min, max] ms. */
  intervalMs: [number, number];
  /** How long a killed process stays down before its restart, uniformly in [0, max] ms. */
  downMaxMs: number;
}

export interface Chaos {
  kills: KillRecord[];
  /** Ends the loop after the kill in progress; every process is running again when it resolves. */
  stop(): Promise<void>;
}

/**
 * SIGKILLs a randomly chosen service process at random moments and starts it
 * again (ServiceProcess.kill() then start(): same instance name, so the
 * restarted consumer first re-reads its own pending entries; while it is down
 * the other replica's reaper may claim them). One process at a time.
 */
export function startChaos(processes: ServiceProcess[], o: ChaosOptions): Chaos {
  const kills: KillRecord[] = [];
  const started = Date.now();
  let running = true;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  const between = ([min, max]: [number, number]) => min + o.random() * (max - min);

  const restart = async (p: ServiceProcess, record: KillRecord) => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      record.restartAttempts = attempt;
      try {
        await p.start(60_000);
        record.restarted = true;
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };

  const loop = (async () => {
    while (running) {
      await sleep(between(o.intervalMs));
      if (!running) break;
      const p = processes[Math.floor(o.random() * processes.length)]!;
      const record: KillRecord = { service: p.name, instance: p.instance, pid: p.pid, at: Date.now() - started, downMs: 0, restartAttempts: 0, restarted: false };
      const t0 = Date.now();
      await p.kill();
      kills.push(record);
      await new Promise((r) => setTimeout(r, o.random() * o.downMaxMs));
      await restart(p, record);
      record.downMs = Date.now() - t0;
    }
  })();

  return {
    kills,
    async stop() {
      running = false;
      wake?.();
      await loop;
      for (const p of processes) if (!p.running) await p.start(60_000);
    },
  };
}
