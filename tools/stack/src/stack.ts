import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sandboxCatalog } from '@caracal-rotation/contracts';
import { startServices, type RunningServices, type ServiceName, type ServiceProcess } from '@caracal-rotation/launcher';
import { createDatabaseIfMissing } from '@caracal-rotation/projection';
import { initRotationDir } from '@caracal-rotation/runtime';
import { launchSandbox, type LaunchedSandbox } from '@caracal-rotation/sandbox';

/** The project root: the compiled services and the CLI live under it (src/ and dist/ are equally deep). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface StackOptions {
  /** The orchestrator's bus (its own streams and state). */
  redisUrl: string;
  /** Seed nodes (`host:port`) of a Redis Cluster for the bus instead of `redisUrl`. */
  redisClusterNodes?: readonly string[];
  /** The projection's database (created if missing). */
  databaseUrl: string;
  /** Logs, the sandbox's home and run files, the orchestrator's directory, generated catalogs. */
  runDir: string;
  streamPrefix?: string;
  /** Start a replica of a `caracal up` deployment and rotate it; false to rotate what `holdersPath` describes. */
  sandbox?: { zones?: number } | false;
  /** Catalog file for the services; with the sandbox and none given, the sandbox catalog (windows of `sandboxWindowMs`). */
  catalogPath?: string;
  sandboxWindowMs?: number;
  /** Holders file, secrets directory and Caracal Redis URL file of a deployment other than the sandbox. */
  holdersPath?: string;
  secretsDir?: string;
  caracalRedisUrlFile?: string;
  /** The operator the stack's own key is registered as. */
  operator?: string;
  replicas?: number;
  logLevel?: string;
  /** Extra environment per service (or for all, under `*`). */
  env?: Partial<Record<ServiceName | '*', NodeJS.ProcessEnv>>;
}

export interface Stack {
  sandbox: LaunchedSandbox | undefined;
  services: ServiceProcess[];
  holdersPath: string;
  catalogPath: string | undefined;
  secretsDir: string;
  rotationDir: string;
  /** The environment an operator's caracal-rotate needs to reach this stack. */
  operatorEnv: NodeJS.ProcessEnv;
  instances(name: ServiceName): ServiceProcess[];
  stop(): Promise<void>;
}

/**
 * Starts what the demo, the end-to-end tests and the benchmarks rotate: the
 * sandbox replica of Caracal (its own Redis and Postgres, its services behind
 * a Docker socket), the orchestrator's directory (`caracal-rotate init`, with
 * a zone reader token minted through the replica's API), and the five
 * services as real processes.
 */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const logDir = join(opts.runDir, 'logs');
  await mkdir(logDir, { recursive: true });
  let sandbox: LaunchedSandbox | undefined;
  let running: RunningServices | undefined;
  const stop = async () => {
    await running?.stop();
    await sandbox?.stop();
  };
  try {
    let holdersPath = opts.holdersPath;
    let secretsDir = opts.secretsDir;
    let caracalRedisUrlFile = opts.caracalRedisUrlFile;
    let catalogPath = opts.catalogPath;
    if (opts.sandbox) {
      sandbox = await launchSandbox({ home: join(opts.runDir, 'caracal'), runDir: join(opts.runDir, 'sandbox'), zones: opts.sandbox.zones });
      holdersPath = sandbox.holders;
      secretsDir = sandbox.secrets_dir;
      caracalRedisUrlFile = sandbox.redis_url_file;
      if (!catalogPath) {
        catalogPath = join(opts.runDir, 'catalog.sandbox.json');
        await writeFile(catalogPath, JSON.stringify(sandboxCatalog(opts.sandboxWindowMs ?? 2000), null, 2));
      }
    }
    if (!holdersPath || !secretsDir) throw new Error('without the sandbox, give holdersPath and secretsDir');
    const rotationDir = join(opts.runDir, 'rotation');
    await initRotationDir({
      rotationDir,
      secretsDir,
      operator: opts.operator ?? 'stack-operator',
      zoneReader: sandbox ? { apiUrl: sandbox.services.api, adminTokenFile: join(secretsDir, 'caracalAdminToken') } : undefined,
    });
    // The recorder would create it too, but only once it starts; the CLI may ask earlier.
    await createDatabaseIfMissing(opts.databaseUrl);

    const bus: NodeJS.ProcessEnv = {
      REDIS_URL: opts.redisUrl,
      ...(opts.redisClusterNodes?.length ? { REDIS_CLUSTER_NODES: opts.redisClusterNodes.join(',') } : {}),
      DATABASE_URL: opts.databaseUrl,
      CARACAL_SECRETS_DIR: secretsDir,
      CARACAL_ROTATION_DIR: rotationDir,
      CARACAL_HOLDERS: holdersPath,
      ...(opts.streamPrefix ? { STREAM_PREFIX: opts.streamPrefix } : {}),
      ...(catalogPath ? { CARACAL_CATALOG: catalogPath } : {}),
    };
    running = await startServices({
      root: PROJECT_ROOT,
      env: { ...bus, ...(caracalRedisUrlFile ? { CARACAL_REDIS_URL_FILE: caracalRedisUrlFile } : {}), LOG_LEVEL: opts.logLevel ?? 'info', ...opts.env?.['*'] },
      perService: opts.env,
      logDir,
      replicas: opts.replicas,
    });
    const services = running;
    return {
      sandbox,
      services: services.services,
      holdersPath,
      catalogPath,
      secretsDir,
      rotationDir,
      operatorEnv: { ...bus, CARACAL_OPERATOR_KEY_FILE: join(rotationDir, 'operatorKey') },
      instances: (name) => services.instances(name),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
