import { childrenOf, commandOf, cpuBetween, memoryOf, treeCpu } from './machine.js';
import { round } from './stats.js';

/**
 * Processes whose CPU and memory a pipeline run reports:
 * - `service`: the orchestrator's five services;
 * - `replica`: the sandbox replica of Caracal (its program, its five services, its Redis and Postgres);
 * - `shared`: the machine's Redis and Postgres servers the bus and the projection live on (whole
 *   servers: other users' work is included).
 * Each counts with its descendants (a Postgres server with its backends).
 */
export interface MeasuredProcess {
  name: string;
  kind: 'service' | 'replica' | 'shared';
  pid: number;
  /** Count only the process itself, not its descendants (the replica's program, whose children are listed apart). */
  alone?: boolean;
}

/** The replica's program and each process it started, named by what it runs. */
export function replicaProcesses(sandboxPid: number): MeasuredProcess[] {
  const name = (pid: number): string => {
    const cmd = commandOf(pid);
    const service = /service\.js (\w+)/.exec(cmd)?.[1];
    if (service) return `replica ${service}`;
    // The replica's Postgres runs as the postgres user: `runuser -u postgres -- postgres -D …`.
    const argv = cmd.includes(' -- ') ? cmd.slice(cmd.indexOf(' -- ') + 4).split(' ') : cmd.split(' ');
    return `replica ${argv[0] === 'node' ? argv[1] : argv[0]}`;
  };
  return [{ name: 'replica caracal-sandbox', kind: 'replica', pid: sandboxPid, alone: true }, ...childrenOf(sandboxPid).map((pid) => ({ name: name(pid), kind: 'replica' as const, pid }))];
}

export type CpuReading = Map<string, Map<number, number>>;

export function readCpu(procs: readonly MeasuredProcess[]): CpuReading {
  return new Map(
    procs.map((p) => {
      const tree = treeCpu(p.pid);
      return [p.name, p.alone ? new Map([...tree].filter(([pid]) => pid === p.pid)) : tree];
    }),
  );
}

export interface ProcessFigures {
  name: string;
  kind: MeasuredProcess['kind'];
  pid: number;
  command: string;
  cpuS: number;
  cpuPctOfOneCore: number;
  cpuMsPerRotation: number | null;
  /** VmHWM of the process itself (not its descendants). */
  peakRssMiB: number | null;
  rssMiB: number | null;
}

/** CPU each process used between two readings, per rotation, and its peak and current resident set (read now). */
export function processFigures(procs: readonly MeasuredProcess[], before: CpuReading, after: CpuReading, wallS: number, rotations: number): ProcessFigures[] {
  return procs.map((p) => {
    const cpuS = cpuBetween(before.get(p.name) ?? new Map(), after.get(p.name) ?? new Map());
    const mem = memoryOf(p.pid);
    return {
      name: p.name,
      kind: p.kind,
      pid: p.pid,
      command: commandOf(p.pid),
      cpuS: round(cpuS, 2),
      cpuPctOfOneCore: round((cpuS / wallS) * 100, 0),
      cpuMsPerRotation: rotations > 0 ? round((cpuS * 1000) / rotations, 2) : null,
      peakRssMiB: mem?.hwmMiB ?? null,
      rssMiB: mem?.rssMiB ?? null,
    };
  });
}

/** CPU ms per rotation summed over the processes of each kind. */
export function cpuPerRotation(figures: readonly ProcessFigures[], rotations: number): Record<MeasuredProcess['kind'], number | null> {
  const sum = (kind: MeasuredProcess['kind']) => {
    const of = figures.filter((f) => f.kind === kind);
    return of.length && rotations > 0 ? round((of.reduce((s, f) => s + f.cpuS, 0) * 1000) / rotations, 2) : null;
  };
  return { service: sum('service'), replica: sum('replica'), shared: sum('shared') };
}
