/**
 * The knobs of the reliability suite. `npm test` runs the CI-sized form;
 * `npm run test:reliability` sets RELIABILITY_PROFILE=release, whose defaults
 * are larger; every figure can also be set on its own through its variable.
 */
export const PROFILE_NAME = process.env.RELIABILITY_PROFILE === 'release' ? 'release' : 'ci';
const release = PROFILE_NAME === 'release';

const KNOBS: Record<string, { value: number; doc: string }> = {};

function knob(name: string, ci: number, rel: number, doc: string): number {
  const raw = process.env[name];
  const parsed = raw === undefined || raw === '' ? NaN : Number(raw);
  const value = Number.isFinite(parsed) && parsed >= 0 ? parsed : release ? rel : ci;
  KNOBS[name] = { value, doc };
  return value;
}

export const PROFILE = {
  name: PROFILE_NAME,
  /** Seed of the chaos loop's random choices (0: a fresh one per run; the report says which). */
  seed: knob('RELIABILITY_SEED', 0, 0, 'seed of the random choices (0 = fresh per run)'),
  /** Scenario 1: rotations requested one after another while processes are killed. */
  rotations: knob('RELIABILITY_ROTATIONS', 24, 300, 'crash scenario: rotations requested'),
  /** Scenario 1: the last rotation is requested only after at least this many kills. */
  kills: knob('RELIABILITY_KILLS', 8, 100, 'crash scenario: minimum SIGKILLs during the run'),
  killMinMs: knob('RELIABILITY_KILL_MIN_MS', 2000, 1000, 'crash scenario: shortest pause between kills'),
  killMaxMs: knob('RELIABILITY_KILL_MAX_MS', 5000, 4000, 'crash scenario: longest pause between kills'),
  downMaxMs: knob('RELIABILITY_DOWN_MAX_MS', 1500, 3000, 'crash scenario: longest time a killed process stays down'),
  /** Scenario 2. */
  pgRotations: knob('RELIABILITY_PG_ROTATIONS', 4, 20, 'projection Postgres outage: rotations'),
  pgOutageMs: knob('RELIABILITY_PG_OUTAGE_MS', 10_000, 30_000, 'projection Postgres outage: how long the private server is down'),
  /** Scenario 3. */
  redisRotations: knob('RELIABILITY_REDIS_ROTATIONS', 4, 20, 'bus Redis restart: rotations'),
  redisRestarts: knob('RELIABILITY_REDIS_RESTARTS', 1, 3, 'bus Redis restart: restarts during the run'),
  redisDownMs: knob('RELIABILITY_REDIS_DOWN_MS', 3000, 10_000, 'bus Redis restart: time between SHUTDOWN and start'),
  /** Scenario 7. */
  caracalOutageMs: knob('RELIABILITY_CARACAL_OUTAGE_MS', 15_000, 15_000, "Caracal's Postgres and STS outages: how long each is down"),
  /** Scenario 6. */
  inFlight: knob('RELIABILITY_IN_FLIGHT', 12, 40, 'self-rotation: other rotations in flight'),
  /** Scenario 13: rollbacks around the end of the window, the recorder paused. */
  edgeWindowMs: knob('RELIABILITY_EDGE_WINDOW_MS', 2000, 2000, 'rollback at the window edge: safety window of the rotations'),
  edgeTrials: knob('RELIABILITY_EDGE_TRIALS', 5, 21, 'rollback at the window edge: rotations, each with its rollback at another offset'),
  edgeSpreadMs: knob('RELIABILITY_EDGE_SPREAD_MS', 400, 500, 'rollback at the window edge: offsets run from minus to plus this many ms'),
  /** Scenario 12. */
  ghostAbandonMs: knob('RELIABILITY_GHOST_ABANDON_MS', 4000, 10_000, "ghost consumer group: the recorder's DRAIN_ABANDON_AFTER_MS"),
  /** Scenario 14. */
  scaleZones: knob('RELIABILITY_SCALE_ZONES', 100_000, 100_000, 'scale: zones seeded in the replica for the zone_id "*" request'),
  /** Secret-file watcher sampling interval. */
  watchMs: knob('RELIABILITY_WATCH_MS', 5, 2, 'secret-file watcher: pause between samples (ms)'),
};

/** Every knob with its effective value, for the report. */
export function knobs(): { name: string; value: number; doc: string }[] {
  return Object.entries(KNOBS).map(([name, k]) => ({ name, ...k }));
}

/** How long a scenario may take, scaled by its size (release runs are longer). */
export const minutes = (n: number): number => Math.round(n * 60_000);
