// Scratch: summarise existing .cpuprofile files (no window), e.g. node --import tsx bench/scratch/resummarize.ts <dir> [filter]
import { profilesIn, summarizeProfile } from '../lib/cpuprofile.js';
for (const p of await profilesIn(process.argv[2]!)) {
  if (process.argv[3] && !p.file.includes(process.argv[3]) && p.group !== process.argv[3]) continue;
  const s = await summarizeProfile(p.file, 20);
  process.stdout.write(`== ${p.group} ${p.file.split('/').pop()} busy ${s.busyMs}/${s.wallMs}\n`);
  for (const f of s.top) process.stdout.write(`${String(f.selfPct).padStart(5)}% ${f.fn} ${f.where} ${f.via ? '<- ' + f.via : ''}\n`);
}
