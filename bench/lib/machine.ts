import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
/** User + system CPU seconds a process has used so far (/proc/<pid>/stat fields 14 and 15). */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}
