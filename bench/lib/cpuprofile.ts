import { existsSync, readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface FunctionCost {
  fn: string;
  where: string;
  selfMs: number;
  selfPct: number;
  /** For natives and node internals: the nearest caller in a package or in our code, with its share of this function's self time. */
  via?: string;
}

export interface ProfileSummary {
  file: string;
  /** Wall time the profile covers. */
  wallMs: number;
  /** Sampled time not in (idle): what the main thread spent working. */
  busyMs: number;
  /** busyMs / wallMs: how saturated the main thread was. */
  busyPct: number;
  gcPct: number;
  /** Self time of each function, biggest first (share of busy time). */
  top: FunctionCost[];
  /** Self time by code origin (package, library, node internals), share of busy time. */
  byOrigin: { origin: string; selfMs: number; selfPct: number }[];
  /** Inclusive time (self + callees) of this project's own functions, share of busy time. */
  ownInclusive: { fn: string; where: string; totalMs: number; totalPct: number }[];
}

const REPO = join(import.meta.dirname, '..', '..');

/** Where a function lives: an npm package, a workspace library or service, node itself. */
export function originOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const rel = relative(REPO, path);
  const parts = rel.split('/');
  if (['libs', 'services', 'apps', 'tools'].includes(parts[0]!)) return `${parts[0]}/${parts[1]}`;
  if (parts[0] === 'bench') return 'bench';
  return rel.startsWith('..') ? path : rel;
}

const sourceMaps = new Map<string, SourceMap | null>();
function sourceMapOf(path: string): SourceMap | null {
  let map = sourceMaps.get(path);
  if (map === undefined) {
    try {
      map = existsSync(`${path}.map`) ? new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8'))) : null;
    } catch {
      map = null;
    }
    sourceMaps.set(path, map);
  }
  return map;
}

/**
 * The services run compiled (one bundled dist/main.js each, with a linked
 * source map): a frame in a bundle is moved back to the source file it came
 * from, so origins and own functions are told apart as they were before bundling.
 */
function originalFrame(frame: ProfileNode['callFrame']): ProfileNode['callFrame'] {
  if (!frame.url.startsWith('file://') || !frame.url.includes('/dist/')) return frame;
  const path = frame.url.slice('file://'.length);
  const map = sourceMapOf(path);
  const entry = map?.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
  if (!entry?.originalSource) return frame;
  const source = entry.originalSource.startsWith('file://') ? entry.originalSource.slice('file://'.length) : resolve(dirname(path), entry.originalSource);
  return { ...frame, url: `file://${source}`, lineNumber: entry.originalLine ?? frame.lineNumber };
}

// Line numbers are shown for node internals only: in files tsx transpiled (the hop worker) they point into esbuild's output.
const shortWhere = (url: string, line: number): string => {
  if (!url) return '';
  if (url.startsWith('node:')) return `${url}:${line + 1}`;
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  return nm >= 0 ? path.slice(nm + '/node_modules/'.length) : relative(REPO, path).startsWith('..') ? path : relative(REPO, path);
};
const isOwn = (origin: string): boolean => origin.startsWith('libs/') || origin.startsWith('services/') || origin.startsWith('apps/');

/**
 * Self and inclusive time per function. With `window` (microseconds of the monotonic clock, which V8's
 * profile timestamps and process.hrtime share on Linux) only samples inside it count, so start-up and
 * shutdown do not dilute the figures of a run.
 */
export async function summarizeProfile(file: string, topN = 15, window?: { fromUs: number; toUs: number }): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  for (const node of profile.nodes) node.callFrame = originalFrame(node.callFrame);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i; attribute each sample the time until the next one.
  const weight: number[] = [];
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    const inWindow = !window || (at >= window.fromUs && at <= window.toUs);
    const dt = inWindow ? (deltas[i + 1] ?? 0) / 1000 : 0;
    weight.push(dt);
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + dt);
  }
  const wallMs = window
    ? (Math.min(window.toUs, profile.endTime) - Math.max(window.fromUs, profile.startTime)) / 1000
    : (profile.endTime - profile.startTime) / 1000;
  let idle = 0;
  let gc = 0;
  const fns = new Map<string, FunctionCost>();
  const origins = new Map<string, number>();
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += ms;
      continue;
    }
    if (functionName === '(garbage collector)') gc += ms;
    const fn = functionName || '(anonymous)';
    const where = shortWhere(url, lineNumber);
    const key = `${fn}@${where}`;
    const cur = fns.get(key) ?? { fn, where, selfMs: 0, selfPct: 0 };
    cur.selfMs += ms;
    fns.set(key, cur);
    const origin = originOf(url, fn);
    origins.set(origin, (origins.get(origin) ?? 0) + ms);
  }
  // Inclusive time of our own functions: each sample counts once for every distinct own function on its stack.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = new Map<number, { key: string; fn: string; where: string } | null>();
  for (const n of profile.nodes) {
    const { functionName, url, lineNumber } = n.callFrame;
    const fn = functionName || '(anonymous)';
    keyOf.set(n.id, isOwn(originOf(url, fn)) ? { key: `${fn}@${shortWhere(url, lineNumber)}`, fn, where: shortWhere(url, lineNumber) } : null);
  }
  const inclusive = new Map<string, { fn: string; where: string; ms: number }>();
  for (let i = 0; i < samples.length; i++) {
    const dt = weight[i]!;
    if (dt === 0) continue;
    const seen = new Set<string>();
    for (let id: number | undefined = samples[i]; id !== undefined; id = parent.get(id)) {
      const k = keyOf.get(id);
      if (!k || seen.has(k.key)) continue;
      seen.add(k.key);
      const cur = inclusive.get(k.key) ?? { fn: k.fn, where: k.where, ms: 0 };
      cur.ms += dt;
      inclusive.set(k.key, cur);
    }
  }
  // Who calls the natives and node internals: the nearest frame in a package or in our own code.
  const viaOf = new Map<string, Map<string, number>>();
  for (let i = 0; i < samples.length; i++) {
    const dt = weight[i]!;
    if (dt === 0) continue;
    const leaf = byId.get(samples[i]!);
    if (!leaf) continue;
    const leafOrigin = originOf(leaf.callFrame.url, leaf.callFrame.functionName);
    if (leafOrigin !== 'node internals' && leafOrigin !== '(native)') continue;
    const key = `${leaf.callFrame.functionName || '(anonymous)'}@${shortWhere(leaf.callFrame.url, leaf.callFrame.lineNumber)}`;
    let via = '?';
    for (let id = parent.get(leaf.id); id !== undefined; id = parent.get(id)) {
      const n = byId.get(id)!;
      const o = originOf(n.callFrame.url, n.callFrame.functionName);
      if (o !== 'node internals' && o !== '(native)' && !o.startsWith('(')) {
        via = `${n.callFrame.functionName || '(anonymous)'} (${o})`;
        break;
      }
    }
    const m = viaOf.get(key) ?? new Map<string, number>();
    m.set(via, (m.get(via) ?? 0) + dt);
    viaOf.set(key, m);
  }
  const sampled = [...self.values()].reduce((a, b) => a + b, 0);
  const busyMs = sampled - idle;
  const pct = (ms: number) => Math.round((ms / Math.max(busyMs, 1e-9)) * 1000) / 10;
  const r = (x: number) => Math.round(x);
  return {
    file,
    wallMs: r(wallMs),
    busyMs: r(busyMs),
    busyPct: Math.round((busyMs / Math.max(wallMs, 1e-9)) * 1000) / 10,
    gcPct: pct(gc),
    top: [...fns.values()]
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, topN)
      .map((f) => {
        const vias = viaOf.get(`${f.fn}@${f.where}`);
        const total = vias ? [...vias.values()].reduce((a, b) => a + b, 0) : 0;
        const via = vias
          ? [...vias.entries()]
              .sort((a, b) => b[1] - a[1])
              .slice(0, 2)
              .map(([v, ms]) => `${v} ${Math.round((ms / total) * 100)}%`)
              .join(', ')
          : undefined;
        return { ...f, selfMs: r(f.selfMs), selfPct: pct(f.selfMs), via };
      }),
    byOrigin: [...origins.entries()]
      .map(([origin, ms]) => ({ origin, selfMs: r(ms), selfPct: pct(ms) }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, 12),
    ownInclusive: [...inclusive.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, topN)
      .map((f) => ({ fn: f.fn, where: f.where, totalMs: r(f.ms), totalPct: pct(f.ms) })),
  };
}

/** Every .cpuprofile under dir (one level of subdirectories: one per process kind). */
export async function profilesIn(dir: string): Promise<{ group: string; file: string }[]> {
  const out: { group: string; file: string }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory()) {
      for (const f of await readdir(join(dir, entry.name)).catch(() => [] as string[])) {
        // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (others are tsx's loader worker).
        if (f.endsWith('.cpuprofile') && f.split('.')[4] === '0') out.push({ group: entry.name, file: join(dir, entry.name, f) });
      }
    } else if (entry.name.endsWith('.cpuprofile') && entry.name.split('.')[4] === '0') {
      out.push({ group: '', file: join(dir, entry.name) });
    }
  }
  return out;
}
