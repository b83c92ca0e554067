/**
 * Records the hash of each original the bench's prototype was derived from in
 * bench/scratch/SOURCES.json: `node --import tsx bench/scratch/sync.ts`.
 * `npm run bench` reports an original that changed since (see lib/provenance.ts),
 * so a prototype figure is never silently compared against different code.
 *
 * The one prototype left, batched-apply.ts, is written by hand from
 * libs/projection/src/apply-event.ts (its per-event statements are copied, marked
 * in the file): when the original changes, bring the copy up to date by hand,
 * then run this to record the new hash.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashSources, PROTOTYPE_SOURCES } from '../lib/provenance.js';

await writeFile(join(import.meta.dirname, 'SOURCES.json'), `${JSON.stringify(await hashSources(PROTOTYPE_SOURCES), null, 2)}\n`);
process.stdout.write('hashes of the prototype originals recorded in bench/scratch/SOURCES.json\n');
