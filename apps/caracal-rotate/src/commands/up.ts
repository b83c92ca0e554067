import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sandboxCatalog } from '@caracal-rotation/contracts';
import { startServices, type RunningServices } from '@caracal-rotation/launcher';
import { createDatabaseIfMissing } from '@caracal-rotation/projection';
import { defaultOperatorName, initRotationDir } from '@caracal-rotation/runtime';
import { EXIT, UsageError, requireServers } from '../environment.js';
import { flag, secondsFlag, type Command } from './command.js';

/** The compiled services live beside this program (apps/caracal-rotate/dist → the project or image root). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface SandboxReady {
  secrets_dir: string;
  holders: string;
  redis_url_file: string;
  services: Record<string, string>;
  zones: string[];
}

/**
 * Starts the sandbox replica of Caracal, a development tool of the source
 * repository (`caracal-sandbox`, not part of an installed orchestrator), and
 * waits for its ready line.
 */
function startSandbox(runDir: string, zones: number, log: (line: string) => void): Promise<{ child: ChildProcess; ready: SandboxReady }> {
  return new Promise((resolve, reject) => {
    const child = spawn('caracal-sandbox', ['up', '--home', join(runDir, 'caracal'), '--run-dir', join(runDir, 'sandbox'), '--zones', String(zones), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new UsageError('--sandbox needs caracal-sandbox, the replica of Caracal that comes with the source repository (npm ci && npm run build there); it is not part of an installed orchestrator', EXIT.usage) : err),
    );
    child.once('exit', (code) => reject(new Error(`caracal-sandbox exited with ${code} before it was ready; see ${join(runDir, 'sandbox')}`)));
    createInterface({ input: child.stderr! }).on('line', log);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as Partial<SandboxReady> & { state?: string };
        if (parsed.state === 'ready') resolve({ child, ready: parsed as SandboxReady });
      } catch {
        log(line);
      }
    });
  });
}

/** Resolves on SIGINT/SIGTERM, or when a service exits on its own (a supervisor must not hide that). */
function untilStopped(services: RunningServices): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string) => {
      clearInterval(timer);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(why);
    };
    const onInt = () => done('SIGINT');
    const onTerm = () => done('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    const timer = setInterval(() => {
      const dead = services.services.find((s) => !s.running);
      if (dead) done(`${dead.instance} exited`);
    }, 1000);
  });
}

export const upCommand: Command = {
  name: 'up',
  summary: 'run the five services (with --sandbox, a replica of Caracal too) in the foreground until Ctrl-C',
  usage: 'up [--sandbox [--zones N] [--window SECONDS]]',
  details: `Runs the planner, secret-writer, roller, verifier and recorder as processes in the
foreground, prints their URLs (/health, /ready, /metrics), and stops them gracefully on
SIGINT or SIGTERM (in-flight work finishes first).

Without --sandbox it rotates the Caracal that CARACAL_HOLDERS describes, whose secrets are
in CARACAL_SECRETS_DIR; run caracal-rotate init first.

With --sandbox it first starts caracal-sandbox, a replica of a \`caracal up\` deployment
that comes with the source repository (its own Redis and Postgres, Caracal's services
behind a Docker socket, N seeded zones), creates the orchestrator's directory with
caracal-rotate init (and a zone reader token), and uses the sandbox catalog, whose safety
windows are --window seconds (default 10), unless CARACAL_CATALOG says otherwise.

Examples:
  caracal-rotate up --sandbox --zones 1000
  CARACAL_SECRETS_DIR=/srv/caracal/secrets CARACAL_HOLDERS=/etc/caracal-rotation/holders.json caracal-rotate up`,
  options: { sandbox: { type: 'boolean' }, zones: { type: 'string' }, window: { type: 'string' } },
  positionals: [],
  required: 0,
  async run({ out, env, values }) {
    const sandbox = flag(values, 'sandbox');
    const windowMs = secondsFlag(values, 'window', 10);
    const zones = Number(values.zones ?? 3);
    if (!Number.isInteger(zones) || zones < 0 || zones > 100_000) throw new UsageError('--zones takes a whole number from 0 to 100000', EXIT.usage);
    if (!sandbox && values.zones !== undefined) throw new UsageError('--zones seeds the sandbox: give it with --sandbox', EXIT.usage);
    await requireServers(env);
    const runDir = await mkdtemp(join(tmpdir(), 'caracal-rotate-up-'));
    let child: ChildProcess | undefined;
    let holdersPath = env.holdersPath;
    let secretsDir = env.secretsDir;
    let redisUrlFile: string | undefined;
    let catalogPath = env.catalogPath;
    if (sandbox) {
      out.line(`starting the sandbox replica of Caracal with ${zones} zones …`);
      const started = await startSandbox(runDir, zones, () => undefined);
      child = started.child;
      ({ holders: holdersPath, secrets_dir: secretsDir, redis_url_file: redisUrlFile } = started.ready);
      if (!catalogPath) {
        catalogPath = join(runDir, 'catalog.sandbox.json');
        await writeFile(catalogPath, JSON.stringify(sandboxCatalog(windowMs), null, 2));
      }
      await initRotationDir({ rotationDir: env.rotationDir, secretsDir, operator: defaultOperatorName(), zoneReader: { apiUrl: started.ready.services.api!, adminTokenFile: join(secretsDir, 'caracalAdminToken') } });
    } else if (!holdersPath) {
      throw new UsageError("without --sandbox, set CARACAL_HOLDERS to the holders file (where Caracal's services run and how to restart them), or run caracal-rotate up --sandbox", EXIT.usage);
    }
    await createDatabaseIfMissing(env.databaseUrl);
    out.line('starting the five services …');
    let services: RunningServices;
    try {
      services = await startServices({
        root: ROOT,
        logDir: join(runDir, 'logs'),
        env: {
          REDIS_URL: env.redisUrl,
          ...(env.redisClusterNodes.length ? { REDIS_CLUSTER_NODES: env.redisClusterNodes.join(',') } : {}),
          DATABASE_URL: env.databaseUrl,
          CARACAL_SECRETS_DIR: secretsDir,
          CARACAL_ROTATION_DIR: env.rotationDir,
          CARACAL_HOLDERS: holdersPath,
          STREAM_PREFIX: env.streamPrefix,
          LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
          ...(catalogPath ? { CARACAL_CATALOG: catalogPath } : {}),
          ...(redisUrlFile ? { CARACAL_REDIS_URL_FILE: redisUrlFile } : {}),
        },
      });
    } catch (err) {
      child?.kill('SIGTERM');
      throw err;
    }
    out.line('running; Ctrl-C (SIGINT) or SIGTERM stops everything gracefully');
    out.line('services (/health /ready /metrics):');
    for (const s of services.services) out.line(`  ${s.instance.padEnd(16)} ${s.url}`);
    out.line(`secrets   ${secretsDir}`);
    out.line(`rotation  ${env.rotationDir}`);
    out.line(`holders   ${holdersPath}`);
    out.line(`catalog   ${catalogPath ?? 'built-in'}`);
    out.line(`logs      ${join(runDir, 'logs')}`);
    if (sandbox) out.line(`try       caracal-rotate request AUDIT_HMAC_KEY --reason "first rotation" --wait   (with CARACAL_HOLDERS=${holdersPath} CARACAL_SECRETS_DIR=${secretsDir})`);
    out.result({
      state: 'running',
      services: services.services.map((s) => ({ name: s.name, instance: s.instance, url: s.url, pid: s.pid ?? null })),
      secrets_dir: secretsDir,
      rotation_dir: env.rotationDir,
      holders: holdersPath,
      catalog: catalogPath ?? null,
      logs: join(runDir, 'logs'),
    });
    const why = await untilStopped(services);
    const crashed = why.endsWith('exited');
    if (crashed) out.error(`${why} unexpectedly; see ${join(runDir, 'logs')}. Stopping the others.`, EXIT.failed);
    out.line(`${why}: stopping gracefully …`);
    await services.stop();
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    out.line('stopped.');
    return crashed ? EXIT.failed : EXIT.ok;
  },
};
