import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sandboxProgram } from './programs.js';
import { MEMBER_NAMES, type MemberName } from './members.js';
import { createLog, errorMessage } from './member/log.js';
import { startControlApi } from './supervisor/control-api.js';
import { fetchBootInfo } from './supervisor/health-probe.js';
import { memberEnv } from './supervisor/member-env.js';
import { MemberProcess } from './supervisor/member-process.js';
import { pickFreePorts } from './supervisor/ports.js';
import type { Fleet, FleetMember, FleetOptions, MemberStatus, RestartResult } from './supervisor/types.js';

export type * from './supervisor/types.js';

const MEMBER_BIN = (): string => sandboxProgram('member');
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/**
 * Starts the sandbox fleet: each member its own child process, restartable
 * one at a time, plus the control API a roller uses to restart them.
 */
export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  const names = opts.members ?? [...MEMBER_NAMES];
  const namespace = opts.namespace ?? '';
  const ports = await assignPorts(names, opts.basePort ?? 'ephemeral');
  if (opts.logDir) await mkdir(opts.logDir, { recursive: true });
  const members: Partial<Record<MemberName, FleetMember>> = {};
  for (const name of names) {
    const port = ports.get(name) as number;
    members[name] = { port, url: `http://127.0.0.1:${port}` };
  }
  const acceptPrevious = { ...opts.acceptPrevious };
  const pins = { ...opts.pins };
  const processes = new Map<MemberName, MemberProcess>();
  for (const name of names) {
    const url = (members[name] as FleetMember).url;
    processes.set(name, new MemberProcess({ name, url, memberBin: MEMBER_BIN(), cwd: PACKAGE_DIR, logDir: opts.logDir }));
  }

  const envFor = (name: MemberName) =>
    memberEnv({
      name,
      port: (members[name] as FleetMember).port,
      // Absolute, because members run with the package directory as cwd.
      secretsDir: path.resolve(opts.secretsDir),
      redisUrl: opts.redisUrl,
      redisClusterNodes: opts.redisClusterNodes,
      namespace,
      acceptPrevious: acceptPrevious[name] ?? true,
      pins: pins[name] ?? {},
      peerUrls: { sts: members.sts?.url, api: members.api?.url, coordinator: members.coordinator?.url },
      databaseUrl: opts.databaseUrl,
      jwksPreviousWindowMs: opts.jwksPreviousWindowMs,
    });

  // One operation at a time per member, so two restart requests cannot
  // interleave their stop and start.
  const queues = new Map<MemberName, Promise<unknown>>();
  const serial = <T>(name: MemberName, op: () => Promise<T>): Promise<T> => {
    const next = (queues.get(name) ?? Promise.resolve()).then(op, op);
    queues.set(name, next.catch(() => undefined));
    return next;
  };
  const proc = (name: MemberName): MemberProcess => {
    const p = processes.get(name);
    if (!p) throw new Error(`this fleet does not run ${name}`);
    return p;
  };

  const restart = (name: MemberName): Promise<RestartResult> =>
    serial(name, async () => {
      const p = proc(name);
      const before = await fetchBootInfo((members[name] as FleetMember).url);
      await p.stop();
      const after = await p.start(envFor(name), before?.boot_id);
      return { member: name, before, after };
    });
  const stopMember = (name: MemberName) =>
    serial(name, async () => {
      const before = await fetchBootInfo((members[name] as FleetMember).url);
      await proc(name).stop();
      return { member: name, before };
    });
  const startMember = (name: MemberName) => serial(name, async () => ({ member: name, after: await proc(name).start(envFor(name)) }));
  const status = (): MemberStatus[] =>
    names.map((name) => {
      const p = proc(name);
      const boot = p.running ? p.boot : null;
      return { name, ...(members[name] as FleetMember), running: p.running, pid: boot?.pid ?? null, boot_id: boot?.boot_id ?? null, started_at: boot?.started_at ?? null };
    });

  let control: { url: string; server: Server } | undefined;
  const stop = async () => {
    await Promise.all([...processes.values()].map((p) => p.dispose()));
    const server = control?.server;
    control = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  };

  try {
    await Promise.all(names.map((name) => startMember(name)));
    const controlPort = opts.controlPort ?? (typeof opts.basePort === 'number' ? opts.basePort + MEMBER_NAMES.length : 0);
    const log = createLog('sandbox-supervisor', String(process.pid));
    control = await startControlApi({ restart, stopMember, startMember, status }, controlPort, (err) =>
      log('error', 'control request failed', { error: errorMessage(err) }),
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    members,
    controlUrl: control.url,
    namespace,
    url: (name) => {
      const member = members[name];
      if (!member) throw new Error(`this fleet does not run ${name}`);
      return member.url;
    },
    restart,
    stopMember,
    startMember,
    status,
    setPins: (name, memberPins) => {
      pins[name] = { ...memberPins };
    },
    setAcceptPrevious: (name, accept) => {
      acceptPrevious[name] = accept;
    },
    stop,
  };
}

async function assignPorts(names: readonly MemberName[], basePort: number | 'ephemeral'): Promise<Map<MemberName, number>> {
  if (basePort === 'ephemeral') {
    const free = await pickFreePorts(names.length);
    return new Map(names.map((name, i) => [name, free[i] as number]));
  }
  return new Map(names.map((name) => [name, basePort + MEMBER_NAMES.indexOf(name)]));
}
