import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, freemem, hostname, loadavg, release, totalmem } from 'node:os';

/** `uptime` at one moment, plus the CPU counters needed to tell how busy the machine was in between. */
export interface LoadSnapshot {
  at: string;
  uptime: string;
  loadavg: [number, number, number];
  /** /proc/stat aggregate jiffies. */
  cpuTotal: number;
  cpuIdle: number;
}

export interface LoadWindow {
  start: LoadSnapshot;
  end: LoadSnapshot;
  /** Share of all cores' time that was busy (anyone's work, ours included) between start and end. */
  machineBusyPct: number;
}

function procStat(): { total: number; idle: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { total: f.reduce((a, b) => a + b, 0), idle };
  } catch {
    return { total: 0, idle: 0 };
  }
}

export function loadSnapshot(): LoadSnapshot {
  let up = '';
  try {
    up = execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    up = `load average: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`;
  }
  const { total, idle } = procStat();
  return { at: new Date().toISOString(), uptime: up, loadavg: loadavg().map((l) => Math.round(l * 100) / 100) as [number, number, number], cpuTotal: total, cpuIdle: idle };
}

export function loadWindow(start: LoadSnapshot, end: LoadSnapshot): LoadWindow {
  const total = end.cpuTotal - start.cpuTotal;
  const busy = total - (end.cpuIdle - start.cpuIdle);
  return { start, end, machineBusyPct: total > 0 ? Math.round((busy / total) * 1000) / 10 : Number.NaN };
}

export function machineInfo() {
  const c = cpus();
  return {
    hostname: hostname(),
    kernel: release(),
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    node: process.version,
  };
}

/** Peak and current resident set of a process, from /proc/<pid>/status (kB → MiB). */
export function memoryOf(pid: number): { hwmMiB: number; rssMiB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { hwmMiB: Math.round((kb('VmHWM') / 1024) * 10) / 10, rssMiB: Math.round((kb('VmRSS') / 1024) * 10) / 10 };
  } catch {
    return undefined;
  }
}

const CLK_TCK = 100;

/** Fields of /proc/<pid>/stat after the command name (field 3 onwards), or undefined when the process is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds a process has used so far (/proc/<pid>/stat fields 14 and 15). */
export function cpuSecondsOf(pid: number): number | undefined {
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12])) / CLK_TCK : undefined;
}

/** The process and every descendant of it, from the parent ids in /proc. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = Number(statFields(Number(entry))?.[1]);
    if (!Number.isFinite(ppid)) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** Direct children of a process. */
export const childrenOf = (pid: number): number[] => processTree(pid).filter((p) => Number(statFields(p)?.[1]) === pid);

/**
 * CPU seconds of every process of a tree, each with what its exited children
 * used (cutime/cstime: a Postgres backend that ended counts in its postmaster).
 * Per pid, so a later reading can be subtracted pid by pid.
 */
export function treeCpu(root: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of processTree(root)) {
    const f = statFields(pid);
    if (f) out.set(pid, (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK);
  }
  return out;
}

/**
 * CPU seconds a tree used between two readings: processes present at the end
 * count from their first reading (or from zero if they started in between).
 * A process that ended in between counts in its parent's children's time.
 */
export function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, s] of after) total += s - (before.get(pid) ?? 0);
  return total;
}

/** A process's command line, shortened: what it is. */
export function commandOf(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return argv.map((a) => (a.includes('/') ? a.slice(a.lastIndexOf('/') + 1) : a)).join(' ').slice(0, 80);
  } catch {
    return `pid ${pid}`;
  }
}

/** The parent of a process. */
export const parentOf = (pid: number): number | undefined => {
  const ppid = Number(statFields(pid)?.[1]);
  return Number.isFinite(ppid) && ppid > 0 ? ppid : undefined;
};
