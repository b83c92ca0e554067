// Scratch: profile the hop worker in one mode (node --cpu-prof), print the summary.
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring, createRedis } from '@caracal-rotation/bus';
import { signedWrittenEvents, xaddAll } from '../sections/bus-hop.js';
import { profilesIn, summarizeProfile } from '../lib/cpuprofile.js';

const mode = process.argv[2] ?? 'consumer';
const n = Number(process.argv[3] ?? 10000);
const redis = createRedis('redis://127.0.0.1:6379');
const keyHex = randomBytes(32).toString('hex');
const prefix = `bench-prof-${Date.now()}`;
const inStream = `${prefix}.in`;
await xaddAll(redis, inStream, signedWrittenEvents(Keyring.fromHex(keyHex), inStream, prefix, n));
const dir = mkdtempSync(join(tmpdir(), 'hopprof-'));
const cfg = { mode, redisUrl: 'redis://127.0.0.1:6379', keyHex, inStream, outStream: `${prefix}.out`, group: 'g', count: n, batchSize: 64, maxInFlight: 256, blockMs: 1000 };
const r = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', 'bench/workers/hop-worker.ts', JSON.stringify(cfg)], { encoding: 'utf8' });
process.stdout.write(r.stdout + r.stderr);
for (const p of await profilesIn(dir)) {
  const s = await summarizeProfile(p.file, 30);
  process.stdout.write(JSON.stringify({ ...s, top: undefined, ownInclusive: undefined, byOrigin: s.byOrigin.map((o) => `${o.origin} ${o.selfPct}%`) }) + '\n');
  for (const f of s.top) process.stdout.write(`${String(f.selfPct).padStart(5)}% ${String(f.selfMs).padStart(6)}ms ${f.fn} ${f.where}\n`);
  process.stdout.write('--- inclusive, own code\n');
  for (const f of s.ownInclusive) process.stdout.write(`${String(f.totalPct).padStart(5)}% ${String(f.totalMs).padStart(6)}ms ${f.fn} ${f.where}\n`);
}
await redis.unlink(inStream, `${prefix}.out`);
let cursor = '0';
do { const [next, keys] = await redis.scan(cursor, 'MATCH', `seen:${prefix}*`, 'COUNT', 2000); if (keys.length) await redis.unlink(...keys); cursor = next; } while (cursor !== '0');
redis.disconnect();
