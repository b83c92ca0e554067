import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/** Code the figures depend on most: its hashes go into latest.json, so a figure can be tied to a version. */
export const MEASURED_SOURCES = [
  'libs/bus/src/consumer.ts',
  'libs/bus/src/admit.ts',
  'libs/bus/src/publisher.ts',
  'libs/bus/src/signature.ts',
  'libs/bus/src/plan-store.ts',
  'libs/bus/src/redis.ts',
  'libs/bus/src/drain.ts',
  'libs/projection/src/apply-events.ts',
  'libs/projection/src/fold.ts',
  'libs/lifecycle/src/transitions.ts',
  'services/planner/src/planner.ts',
  'services/planner/src/batch.ts',
  'services/secret-writer/src/secret-writer.ts',
  'services/secret-writer/src/writers/zone-key-writer.ts',
  'services/verifier/src/verifier.ts',
  'services/recorder/src/recorder.ts',
  'services/recorder/src/projector.ts',
  'services/recorder/src/retirement-timer.ts',
  'services/recorder/src/drain-marks.ts',
  'services/recorder/src/config.ts',
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
