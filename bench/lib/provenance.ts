import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/** Originals the prototype in bench/scratch (batched-apply.ts, copied by hand) was derived from. */
export const PROTOTYPE_SOURCES = ['libs/projection/src/apply-event.ts'];

/** Code the figures depend on most: its hashes go into latest.json, so a figure can be tied to a version. */
export const MEASURED_SOURCES = [
  ...PROTOTYPE_SOURCES,
  'libs/bus/src/consumer.ts',
  'services/recorder/src/main.ts',
  'services/recorder/src/config.ts',
  'services/recorder/src/recorder.ts',
  'services/recorder/src/project-event.ts',
  'services/recorder/src/retirement-timer.ts',
  'services/recorder/src/drain-marks.ts',
  'libs/bus/src/publisher.ts',
  'libs/bus/src/signature.ts',
  'libs/bus/src/redis.ts',
  'libs/bus/src/drain.ts',
  'libs/projection/src/rotation-patch.ts',
  'services/secret-writer/src/writers/zone-key-writer.ts',
  'services/verifier/src/verifier.ts',
  'services/planner/src/planner.ts',
];

export async function hashSources(files: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of files) {
    try {
      out[f] = createHash('sha256').update(await readFile(join(ROOT, f))).digest('hex').slice(0, 16);
    } catch {
      out[f] = 'missing';
    }
  }
  return out;
}

/** Originals changed since bench/scratch/sync.ts last recorded their hashes (after the prototype was brought up to date). */
export async function prototypeDrift(): Promise<string[]> {
  let recorded: Record<string, string> = {};
  try {
    recorded = JSON.parse(await readFile(join(ROOT, 'bench', 'scratch', 'SOURCES.json'), 'utf8')) as Record<string, string>;
  } catch {
    return ['bench/scratch/SOURCES.json is missing: run node --import tsx bench/scratch/sync.ts'];
  }
  const now = await hashSources(PROTOTYPE_SOURCES);
  return PROTOTYPE_SOURCES.filter((f) => recorded[f] !== now[f]);
}
