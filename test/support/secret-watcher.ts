import { Worker } from 'node:worker_threads';

export interface WatchViolation {
  file: string;
  problem: 'empty' | 'not_lowercase_hex' | 'wrong_length' | 'wrong_mode' | 'not_a_url';
  length: number;
  mode?: string;
  /** ms since the watcher started. */
  at: number;
}

export interface WatchResult {
  durationMs: number;
  /** Passes over the directory. */
  passes: number;
  /** File reads that returned content (absent files between listing and reading are not counted). */
  reads: number;
  /** Files that vanished between listing and reading (an overlap file being retired): expected, not a fault. */
  vanished: number;
  /** Per file: reads and how many times its value changed. */
  files: Record<string, { reads: number; changes: number }>;
  violations: WatchViolation[];
  violationCount: number;
}

export interface SecretWatcher {
  stop(): Promise<WatchResult>;
}

// Runs in a worker thread so that sampling every few milliseconds neither
// stalls nor is stalled by the test's event loop (which follows the streams
// and drives the rotations meanwhile). It never reports a value, only lengths.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const { dir, intervalMs, lengths, stopFlag } = workerData;
const flag = new Int32Array(stopFlag);
const started = Date.now();
const files = {};
const last = {};
const violations = [];
let violationCount = 0, passes = 0, reads = 0, vanished = 0;
const violate = (v) => { violationCount++; if (violations.length < 100) violations.push({ ...v, at: Date.now() - started }); };
while (Atomics.load(flag, 0) === 0) {
  passes++;
  let names = [];
  try { names = fs.readdirSync(dir); } catch { names = []; }
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const file = path.join(dir, name);
    let text, st;
    try { st = fs.statSync(file); if (!st.isFile()) continue; text = fs.readFileSync(file, 'utf8'); }
    catch (err) { if (err && err.code === 'ENOENT') { vanished++; continue; } throw err; }
    reads++;
    const f = files[name] || (files[name] = { reads: 0, changes: 0 });
    f.reads++;
    if (last[name] !== undefined && last[name] !== text) f.changes++;
    last[name] = text;
    const base = name.replace(/Previous$/, '');
    const expected = lengths[base] || (/Password$/.test(base) ? [48] : lengths['*']);
    if (text.length === 0) violate({ file: name, problem: 'empty', length: 0 });
    else if (/Url$/.test(base)) { if (!/^[a-z]+:\\/\\/\\S+$/.test(text)) violate({ file: name, problem: 'not_a_url', length: text.length }); }
    else if (!/^[0-9a-f]+$/.test(text)) violate({ file: name, problem: 'not_lowercase_hex', length: text.length });
    else if (!expected.includes(text.length)) violate({ file: name, problem: 'wrong_length', length: text.length });
    if ((st.mode & 0o777) !== 0o444) violate({ file: name, problem: 'wrong_mode', length: text.length, mode: (st.mode & 0o777).toString(8) });
  }
  Atomics.wait(flag, 0, 0, intervalMs);
}
parentPort.postMessage({ durationMs: Date.now() - started, passes, reads, vanished, files, violations, violationCount });
`;

/**
 * Samples every secret file of `dir` every `intervalMs` until stopped: each
 * read must be non-empty, clean lowercase hex of the expected length (64 hex
 * for keys and tokens, 48 for passwords; derived `*Url` files a whole URL),
 * mode 0444.
 */
export function watchSecrets(dir: string, intervalMs: number, lengths: Record<string, number[]> = { '*': [64] }): SecretWatcher {
  const stopFlag = new SharedArrayBuffer(4);
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { dir, intervalMs, lengths, stopFlag } });
  const result = new Promise<WatchResult>((resolve, reject) => {
    worker.once('message', (m: WatchResult) => resolve(m));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`secret watcher exited with ${code} before reporting`)));
  });
  return {
    async stop() {
      const flag = new Int32Array(stopFlag);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      const r = await result;
      await worker.terminate();
      return r;
    },
  };
}
