import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { basename, join } from 'node:path';
import type { LaunchedSandbox } from '@caracal-rotation/sandbox';

/**
 * Control of the sandbox replica of Caracal from outside, the way an
 * operator's platform reaches a `caracal up` deployment: its services through
 * the Docker Engine API socket the replica serves, its PostgreSQL server as a
 * process. Nothing here changes the replica's program.
 */

export type CaracalService = keyof LaunchedSandbox['services'];

export interface ContainerState {
  Status: string;
  Running: boolean;
  StartedAt: string;
  RestartCount?: number;
}

/** One Engine API call on the replica's socket; resolves with the status and the JSON body (if any). */
function engine(socketPath: string, method: 'GET' | 'POST', path: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { host: 'docker' }, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = undefined;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = text;
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} on ${socketPath} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** `docker stop` / `docker start` / `docker inspect` of the replica's containers (compose names them caracal-<service>-1). */
export class ReplicaContainers {
  constructor(private readonly socketPath: string) {}

  static containerOf(service: CaracalService): string {
    return `caracal-${service}-1`;
  }

  /** SIGTERM, the container's grace period, then SIGKILL; it stays stopped (restart policy unless-stopped). */
  async stop(service: CaracalService, graceS = 20): Promise<void> {
    const { status, body } = await engine(this.socketPath, 'POST', `/containers/${ReplicaContainers.containerOf(service)}/stop?t=${graceS}`);
    if (status !== 204 && status !== 304) throw new Error(`docker stop ${service}: ${status} ${JSON.stringify(body)}`);
  }

  async start(service: CaracalService): Promise<void> {
    const { status, body } = await engine(this.socketPath, 'POST', `/containers/${ReplicaContainers.containerOf(service)}/start`);
    if (status !== 204 && status !== 304) throw new Error(`docker start ${service}: ${status} ${JSON.stringify(body)}`);
  }

  async state(service: CaracalService): Promise<ContainerState> {
    const { status, body } = await engine(this.socketPath, 'GET', `/containers/${ReplicaContainers.containerOf(service)}/json`);
    if (status !== 200) throw new Error(`docker inspect ${service}: ${status} ${JSON.stringify(body)}`);
    const b = body as { State: ContainerState; RestartCount?: number };
    return { ...b.State, RestartCount: b.RestartCount };
  }
}

interface ProcInfo {
  pid: number;
  ppid: number;
  argv: string[];
}

async function processes(): Promise<ProcInfo[]> {
  const out: ProcInfo[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const argv = (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0').filter((a) => a.length > 0);
      out.push({ pid: Number(name), ppid, argv });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Every process below `root` (its children, their children, …). */
async function descendants(root: number): Promise<ProcInfo[]> {
  const all = await processes();
  const below = new Set([root]);
  const out: ProcInfo[] = [];
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (below.has(p.ppid) && !below.has(p.pid)) {
        below.add(p.pid);
        out.push(p);
        grew = true;
      }
    }
  }
  return out;
}

const alive = async (pid: number): Promise<boolean> => {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

const optionOf = (argv: string[], flag: string): string | undefined => {
  const at = argv.indexOf(flag);
  return at >= 0 ? argv[at + 1] : undefined;
};

/**
 * The replica's own PostgreSQL server (the postmaster the sandbox started
 * below its process, on the port its `databaseUrl` names). `stop()` is a fast
 * shutdown; `start()` runs the same server program with the same arguments
 * on the same data directory, as the postgres OS user when we are root, as
 * the sandbox itself runs it. A server started here is this helper's to
 * stop: `release()` does so (before the sandbox removes its directory).
 */
export class ReplicaPostgres {
  private postmaster: ProcInfo | undefined;
  private restarted: ChildProcess | undefined;
  private restartedExit: Promise<void> | undefined;

  private constructor(
    readonly port: number,
    private readonly argv: string[],
    readonly dataDir: string,
    private readonly logFile: string,
    postmaster: ProcInfo,
  ) {
    this.postmaster = postmaster;
  }

  /** Finds the postmaster below the sandbox process, by the port of the replica's admin URL. */
  static async find(sandbox: LaunchedSandbox, logFile: string): Promise<ReplicaPostgres> {
    const url = new URL((await readFile(sandbox.postgres.admin_url_file, 'utf8')).trim());
    const port = Number(url.port);
    const below = await descendants(sandbox.pid);
    const postmaster = below.find((p) => basename(p.argv[0] ?? '') === 'postgres' && optionOf(p.argv, '-p') === String(port) && optionOf(p.argv, '-D') !== undefined);
    if (!postmaster) throw new Error(`no postmaster on port ${port} below the sandbox process ${sandbox.pid}`);
    return new ReplicaPostgres(port, postmaster.argv, optionOf(postmaster.argv, '-D')!, logFile, postmaster);
  }

  get running(): boolean {
    return this.postmaster !== undefined;
  }

  /** Fast shutdown (SIGINT to the postmaster): connections are closed, new ones refused. Resolves once it has exited. */
  async stop(timeoutMs = 30_000): Promise<void> {
    const pm = this.postmaster;
    if (!pm) return;
    process.kill(pm.pid, 'SIGINT');
    const deadline = Date.now() + timeoutMs;
    while (await alive(pm.pid)) {
      if (Date.now() > deadline) throw new Error(`the replica's postmaster ${pm.pid} did not exit within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    if (this.restarted) await this.restartedExit;
    this.postmaster = undefined;
    this.restarted = undefined;
  }

  /** Starts the server again on the same data directory and port; resolves once the postmaster has written its pid file and listens. */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.postmaster) return;
    const [bin, ...args] = this.argv;
    const asPostgres = process.getuid?.() === 0;
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(asPostgres ? 'runuser' : bin!, asPostgres ? ['-u', 'postgres', '--', bin!, ...args] : args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    this.restarted = child;
    this.restartedExit = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pid = await readFile(join(this.dataDir, 'postmaster.pid'), 'utf8').then((t) => Number(t.split('\n')[0]), () => 0);
      const status = await readFile(join(this.dataDir, 'postmaster.pid'), 'utf8').then((t) => t.split('\n')[7]?.trim(), () => undefined);
      if (pid > 0 && status === 'ready') {
        this.postmaster = { pid, ppid: child.pid ?? 0, argv: this.argv };
        return;
      }
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the replica's Postgres exited during its restart; see ${this.logFile}`);
      if (Date.now() > deadline) throw new Error(`the replica's Postgres was not ready within ${timeoutMs} ms of its restart; see ${this.logFile}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops a server this helper restarted (the sandbox only stops the one it started). */
  async release(): Promise<void> {
    if (this.restarted) await this.stop();
  }
}
