// Preloaded with NODE_OPTIONS="--import <this file>" by the bench's profile section:
// Node 20 refuses --cpu-prof in NODE_OPTIONS, and the stack spawns its processes with
// fixed arguments, so the profile is taken through the inspector instead. It writes
// <BENCH_CPU_PROF_DIR>/CPU.<date>.<time>.<pid>.0.001.cpuprofile when the process exits
// (services exit through process.exit after a graceful SIGTERM shutdown).
import { Session } from 'node:inspector';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir && isMainThread) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    // The in-process session answers synchronously, so this works inside 'exit'.
    session.post('Profiler.stop', (err, result) => {
      if (err || !result) return;
      const d = new Date();
      const p = (n, w = 2) => String(n).padStart(w, '0');
      const stamp = `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}.${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `CPU.${stamp}.${process.pid}.0.001.cpuprofile`), JSON.stringify(result.profile));
    });
  };
  process.on('exit', write);
}
