import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePorts } from '@caracal-rotation/launcher';

const execFileAsync = promisify(execFile);

/** Where Debian/Ubuntu install PostgreSQL 15; override with PG_BIN_DIR. */
export const DEFAULT_PG_BIN_DIR = '/usr/lib/postgresql/15/bin';
/** The OS user the server runs as when we are root (Postgres refuses to run as root). */
const PG_OS_USER = 'postgres';
const LOG_TAIL_BYTES = 64 * 1024;
const ERROR_TAIL_BYTES = 4096;

export interface SandboxPostgresOptions {
  /** TCP port on 127.0.0.1; default a free one. */
  port?: number;
  /** How long to wait for the server to accept logins. */
  startTimeoutMs?: number;
  /** Directory of `initdb` and `postgres`; default PG_BIN_DIR, else DEFAULT_PG_BIN_DIR. */
  binDir?: string;
  /** The bootstrap superuser initdb creates; default `postgres`. */
  superuser?: string;
  /** Its password; default 24 fresh random bytes as hex. */
  password?: string;
}

export interface SandboxPostgres {
  /** Superuser URL (`postgres://postgres:<pw>@127.0.0.1:<port>/postgres`). It holds a password: keep it in a secret file. */
  adminUrl: string;
  port: number;
  /** The temporary directory holding the data and socket directories (removed by stop()). */
  dir: string;
  /** The server's recent output (its log goes to stderr), at most the last 64 KiB. */
  log(): string;
  /** Fast shutdown (SIGINT), then the data and socket directories are removed. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A private PostgreSQL 15 with password authentication (scram-sha-256 for
 * every connection), so that a wrong or retired password is really refused:
 * the shared test server trusts everyone. Data lives in a temporary
 * directory, fsync is off; everything is removed by stop().
 *
 * As root (here and in CI) initdb and postgres run as the `postgres` OS user
 * through `runuser`, with the temporary directories chowned to it.
 */
export async function startSandboxPostgres(options: SandboxPostgresOptions = {}): Promise<SandboxPostgres> {
  const binDir = options.binDir ?? process.env.PG_BIN_DIR ?? DEFAULT_PG_BIN_DIR;
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'caracal-pg-'));
  const superuser = options.superuser ?? PG_OS_USER;
  const dataDir = path.join(root, 'data');
  const socketDir = path.join(root, 'sock');
  const pwFile = path.join(root, 'pwfile');
  const password = options.password ?? randomBytes(24).toString('hex');
  let server: RunningServer | undefined;
  try {
    const owner = process.getuid?.() === 0 ? await osUser(PG_OS_USER) : undefined;
    const command = (bin: string, args: string[]): [string, string[]] =>
      owner ? ['runuser', ['-u', PG_OS_USER, '--', path.join(binDir, bin), ...args]] : [path.join(binDir, bin), args];

    await fs.mkdir(socketDir, { mode: 0o700 });
    await fs.writeFile(pwFile, password, { mode: 0o600 });
    if (owner) {
      for (const p of [root, socketDir, pwFile]) await fs.chown(p, owner.uid, owner.gid);
    }
    const [initdb, initdbArgs] = command('initdb', [
      '-D',
      dataDir,
      '--auth=scram-sha-256',
      `--username=${superuser}`,
      `--pwfile=${pwFile}`,
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ]);
    try {
      await execFileAsync(initdb, initdbArgs, { env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 4 * 1024 * 1024 });
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? '').slice(-LOG_TAIL_BYTES);
      throw new Error(`initdb failed: ${stderr.slice(-ERROR_TAIL_BYTES) || (err as Error).message}`);
    } finally {
      await fs.rm(pwFile, { force: true });
    }

    const timeoutMs = options.startTimeoutMs ?? 30_000;
    // A free port can be taken between picking and binding: try another one.
    for (let attempt = 0; ; attempt++) {
      const port = options.port ?? (await freePorts(1))[0]!;
      const [bin, args] = command('postgres', [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-k',
        socketDir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
      ]);
      server = startServer(bin, args, dataDir);
      const adminUrl = `postgres://${encodeURIComponent(superuser)}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
      const ready = await waitReady(server, adminUrl, timeoutMs);
      if (ready === 'ready') return { adminUrl, port, dir: root, log: server.log, stop: stopper(server, root) };
      await server.stop();
      const bindFailed = /could not (bind|create listen socket)|address already in use/i.test(server.log());
      if (ready === 'exited' && bindFailed && options.port === undefined && attempt < 3) continue;
      throw new Error(`the sandbox Postgres did not start (${ready}): ${server.log().slice(-ERROR_TAIL_BYTES)}`);
    }
  } catch (err) {
    await server?.stop().catch(() => undefined);
    await fs.rm(root, { recursive: true, force: true });
    throw err;
  }
}

interface RunningServer {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited(): boolean;
  log(): string;
  stop(): Promise<void>;
}

function startServer(bin: string, args: string[], dataDir: string): RunningServer {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-LOG_TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      done = true;
      resolve();
    });
    child.once('error', (err) => {
      keep(Buffer.from(`spawn failed: ${err.message}\n`));
      done = true;
      resolve();
    });
  });
  // A test run that ends without stop() must not leave a server behind.
  const onExit = () => signalPostmaster(dataDir, child, 'SIGINT');
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      process.off('exit', onExit);
      if (done) return;
      // runuser does not forward SIGINT, so the postmaster is signalled directly
      // (its pid is the first line of postmaster.pid). SIGINT: fast shutdown.
      signalPostmaster(dataDir, child, 'SIGINT');
      if (await exitsWithin(exited, 15_000)) return;
      signalPostmaster(dataDir, child, 'SIGQUIT');
      if (await exitsWithin(exited, 5_000)) return;
      signalPostmaster(dataDir, child, 'SIGKILL');
      child.kill('SIGKILL');
      await exitsWithin(exited, 5_000);
    })());
  return { child, exited, hasExited: () => done, log: () => tail, stop };
}

function signalPostmaster(dataDir: string, child: ChildProcess, signal: NodeJS.Signals): void {
  const pid = postmasterPid(dataDir) ?? child.pid;
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** The postmaster's pid, read synchronously (also used from an `exit` handler). */
function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function exitsWithin(exited: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([exited.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls a superuser login until it works, the server exits, or time runs out. */
async function waitReady(server: RunningServer, adminUrl: string, timeoutMs: number): Promise<'ready' | 'exited' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.hasExited()) return 'exited';
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return 'ready';
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return server.hasExited() ? 'exited' : 'timeout';
}

function stopper(server: RunningServer, root: string): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  return () =>
    (stopped ??= (async () => {
      await server.stop();
      await fs.rm(root, { recursive: true, force: true });
    })());
}

async function osUser(name: string): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string) => Number((await execFileAsync('id', [flag, name])).stdout.trim());
  const uid = await id('-u');
  const gid = await id('-g');
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`cannot resolve the ${name} OS user`);
  return { uid, gid };
}
