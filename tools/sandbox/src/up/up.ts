import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDockerEngineDouble, type DockerEngineDouble } from '@caracal-rotation/testing';
import type { SandboxReady } from '../ready.js';
import { freePorts } from '@caracal-rotation/launcher';
import type { SandboxPostgres } from '../stores/postgres.js';
import { composeEnv, composeImage, SERVICES, url, type Ports, type ServiceName } from './compose-env.js';
import { startCaracalPostgres } from './database.js';
import { containerName, sandboxHolders, STOP_GRACE_S, writeHolders } from './holders.js';
import { startPrivateRedis, type PrivateRedis } from './redis-server.js';
import { bootstrapSecrets, readSecretFile } from './secrets.js';
import { seedSandbox } from './seed.js';

export interface UpOptions {
  home: string;
  secretsDir: string;
  runDir: string;
  zones: number;
  /** Human progress lines (stderr). */
  progress: (line: string) => void;
}

export interface RunningSandbox {
  ready: SandboxReady;
  stop(): Promise<void>;
}

/** The compiled programs next to this one (dist/). */
const distDir = () => path.dirname(fileURLToPath(import.meta.url));

/** compose's start order (depends_on … service_healthy): sts and audit, then api and coordinator, then gateway. */
const START_WAVES: readonly (readonly ServiceName[])[] = [['sts', 'audit'], ['api', 'coordinator'], ['gateway']];

async function waitHttp(target: string, path_: string, want: (status: number) => boolean, timeoutMs: number, why: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${target}${path_}`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (want(res.status)) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${target}${path_} did not answer in time: ${why()}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/**
 * `caracal-sandbox up`: the secrets, a private Redis and PostgreSQL, the five
 * services as "containers" behind a Docker Engine API double, the holders
 * file and the seed; `stop()` ends all of it.
 */
export async function up(opts: UpOptions): Promise<RunningSandbox> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    await mkdir(opts.runDir, { recursive: true });
    const [pgPort, redisPort, ...servicePorts] = await freePorts(2 + SERVICES.length);
    const ports = Object.fromEntries(SERVICES.map((s, i) => [s, servicePorts[i]!])) as Ports;
    const report = await bootstrapSecrets(opts.secretsDir, { pgPort: pgPort!, redisPort: redisPort! });
    opts.progress(`secrets in ${opts.secretsDir}${report.created.length ? ` (created ${report.created.join(', ')})` : ''}`);

    const redisDir = path.join(opts.runDir, 'redis');
    const redis: PrivateRedis = await startPrivateRedis({ dir: redisDir, port: redisPort!, password: await readSecretFile(opts.secretsDir, 'redisPassword') });
    cleanups.push(() => redis.stop().then(() => rm(redisDir, { recursive: true, force: true })));
    opts.progress(`redis on 127.0.0.1:${redis.port}, streams provisioned`);

    const postgres: SandboxPostgres = await startCaracalPostgres(opts.secretsDir, pgPort!);
    cleanups.push(() => postgres.stop());
    opts.progress(`postgres on 127.0.0.1:${postgres.port}, schema and roles in place`);

    const socket = path.join(opts.runDir, 'docker.sock');
    await rm(socket, { force: true });
    const engine: DockerEngineDouble = await startDockerEngineDouble({ socketPath: socket });
    cleanups.push(async () => {
      // docker compose stop: every container gets SIGTERM and its grace period, then the engine goes.
      await Promise.all(SERVICES.map((s) => engine.container(containerName(s))?.stop(STOP_GRACE_S)));
      await engine.close();
      await rm(socket, { force: true });
    });
    const serviceJs = path.join(distDir(), 'service.js');
    for (const wave of START_WAVES) {
      await Promise.all(
        wave.map(async (service) => {
          const env = composeEnv(service, opts.secretsDir, opts.home, ports);
          const container = engine.create({
            name: containerName(service),
            argv: [process.execPath, serviceJs, service],
            env,
            image: composeImage(service),
            stopTimeoutS: STOP_GRACE_S,
            restartPolicy: 'unless-stopped',
            labels: {
              'com.docker.compose.project': 'caracal',
              'com.docker.compose.service': service,
              'com.docker.compose.container-number': '1',
              'com.docker.compose.oneoff': 'False',
              'com.docker.compose.project.working_dir': opts.home,
              'com.docker.compose.project.config_files': path.join(opts.home, 'compose.yml'),
            },
          });
          // Docker gives a container its id's first 12 characters as HOSTNAME. The gateway is the
          // exception: it gets none, so each start picks a new host name, as a replaced pod does.
          if (service !== 'gateway') env.HOSTNAME = container.id.slice(0, 12);
          await container.start();
          await waitHttp(url(ports[service]), '/health', (s) => s === 200, 60_000, () => container.output().slice(-2000));
        }),
      );
    }
    for (const service of SERVICES) {
      const container = engine.container(containerName(service))!;
      await waitHttp(url(ports[service]), '/ready', (s) => s === 200, 60_000, () => container.output().slice(-2000));
    }
    opts.progress(`services ready: ${SERVICES.map((s) => `${s} ${url(ports[s])}`).join(', ')}`);

    const holders = path.join(opts.runDir, 'holders.json');
    await writeHolders(holders, sandboxHolders(ports, socket, [process.execPath, path.join(distDir(), 'reseal.js')]));
    const seeded = await seedSandbox({
      secretsDir: opts.secretsDir,
      apiUrl: url(ports.api),
      stsUrl: url(ports.sts),
      adminDbUrl: await readSecretFile(opts.secretsDir, 'databaseUrl'),
      zones: opts.zones,
    });
    opts.progress(`seeded ${seeded.zones.length} zones with signing keys, and sealed values under the current KEK`);
    return {
      ready: {
        state: 'ready',
        secrets_dir: opts.secretsDir,
        holders,
        redis_url_file: path.join(opts.secretsDir, 'redisUrl'),
        docker_socket: socket,
        services: { api: url(ports.api), sts: url(ports.sts), gateway: url(ports.gateway), audit: url(ports.audit), coordinator: url(ports.coordinator) },
        zones: seeded.zones,
        postgres: { admin_url_file: path.join(opts.secretsDir, 'databaseUrl') },
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
