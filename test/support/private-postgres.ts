import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '@caracal-rotation/launcher';

const PG_BIN = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

export interface PrivatePostgres {
  port: number;
  dataDir: string;
  /** Where the server writes its output (appended across restarts). */
  logFile: string;
  /** A connection URL for `database` on this server (trust auth, user postgres). */
  url(database: string): string;
  readonly running: boolean;
  /** Starts the server (again) on the same data directory and port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Fast shutdown (SIGINT to the postmaster this helper started); resolves when it has exited. */
  stop(): Promise<void>;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

/** The postgres account's ids when we run as root (initdb and postgres refuse to run as root). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

async function accepting(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A PostgreSQL server of our own (initdb into a temp directory, trust auth,
 * a free port, its socket in the temp directory), so a test can stop and
 * start it without touching the shared server other tests use. Only the
 * process this helper spawned is ever signalled.
 */
export async function startPrivatePostgres(label = 'pg'): Promise<PrivatePostgres> {
  const base = await mkdtemp(join(tmpdir(), `caracal-${label}-`));
  const dataDir = join(base, 'data');
  const socketDir = join(base, 'sock');
  const logFile = join(base, 'postgres.log');
  const ids = runAs();
  await mkdir(dataDir, { mode: 0o700 });
  await mkdir(socketDir, { mode: 0o700 });
  await (await open(logFile, 'a')).close();
  if (ids) for (const p of [base, dataDir, socketDir, logFile]) await chown(p, ids.uid, ids.gid);

  execFileSync(join(PG_BIN, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], {
    cwd: base,
    stdio: 'ignore',
    ...(ids ?? {}),
  });
  const port = await freePort();
  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const isRunning = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const start = async () => {
    if (isRunning()) return;
    const log = await open(logFile, 'a');
    const proc = spawn(
      join(PG_BIN, 'postgres'),
      ['-D', dataDir, '-p', String(port), '-k', socketDir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200'],
      { cwd: base, stdio: ['ignore', log.fd, log.fd], ...(ids ?? {}) },
    );
    await log.close();
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const deadline = Date.now() + 30_000;
    while (!(await accepting(url('postgres')))) {
      if (!isRunning()) throw new Error(`private postgres exited during start; see ${logFile}`);
      if (Date.now() > deadline) throw new Error(`private postgres did not accept connections within 30 s; see ${logFile}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const stop = async () => {
    if (!isRunning()) return;
    const proc = child!;
    proc.kill('SIGINT');
    const escalate = setTimeout(() => proc.kill('SIGQUIT'), 15_000);
    const kill = setTimeout(() => proc.kill('SIGKILL'), 25_000);
    await exited;
    clearTimeout(escalate);
    clearTimeout(kill);
  };

  await start();
  return {
    port,
    dataDir,
    logFile,
    url,
    get running() {
      return isRunning();
    },
    start,
    stop,
    async destroy() {
      await stop();
      await rm(base, { recursive: true, force: true });
    },
  };
}
