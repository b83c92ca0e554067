import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sandboxCatalog, type HoldersConfig } from '@caracal-rotation/contracts';
import { createDatabaseIfMissing } from '@caracal-rotation/projection';
import {
  bootstrapPostgresRoles,
  bootstrapRedisAclUser,
  dropRedisAclUser,
  ensureSandboxSecrets,
  resealProgram,
  seedSandbox,
  startFleet,
  startSandboxPostgres,
  type Fleet,
  type FleetOptions,
  type SeedOptions,
} from '@caracal-rotation/sandbox';
import { SERVICE_NAMES, ServiceProcess, serviceEntry, type ServiceName } from '@caracal-rotation/launcher';

export interface StackOptions {
  redisUrl: string;
  /**
   * Seed nodes (`host:port`) of a Redis Cluster: the services and the fleet
   * get them as REDIS_CLUSTER_NODES and use the cluster instead of `redisUrl`.
   */
  redisClusterNodes?: readonly string[];
  databaseUrl: string;
  secretsDir: string;
  /** Where the stack keeps its logs and generated files (holders, sandbox catalog). */
  runDir: string;
  streamPrefix?: string;
  /** Start the sandbox fleet, with these options. */
  sandbox?: Omit<FleetOptions, 'secretsDir' | 'redisUrl' | 'redisClusterNodes'> | false;
  /** Zones and sealed secrets to create in a fresh sandbox. */
  seed?: SeedOptions;
  /** Pause between re-seal batches (tests use it to interrupt the job). */
  resealPauseMs?: number;
  /**
   * Password targets for the sandbox: a private Postgres that checks passwords
   * (roles per catalog role) and an ACL user on the Redis (never the default user).
   */
  stores?: { postgres?: boolean; redisAclUser?: string };
  /** Catalog file for the services; with the sandbox and none given, the sandbox catalog (windows of `sandboxWindowMs`). */
  catalogPath?: string;
  sandboxWindowMs?: number;
  /** Holders file; with the sandbox and none given, one is written for the fleet. */
  holdersPath?: string;
  replicas?: number;
  logLevel?: string;
  /** Extra environment per service (or for all, under `*`). */
  env?: Partial<Record<ServiceName | '*', NodeJS.ProcessEnv>>;
}

export interface Stack {
  fleet: Fleet | undefined;
  services: ServiceProcess[];
  holdersPath: string | undefined;
  catalogPath: string | undefined;
  instances(name: ServiceName): ServiceProcess[];
  stop(): Promise<void>;
}

/**
 * The holders file for a sandbox fleet: every member restarts through the
 * supervisor; zone keys live in its STS; the KEK re-seal job is the sandbox's.
 */
export function sandboxHolders(fleet: Fleet, databaseUrl: string, resealPauseMs = 0): HoldersConfig {
  return {
    version: 1,
    caracal_namespace: fleet.namespace,
    zones: { sts: 'sts', admin_token_file: 'stsAdminToken', canary_ttl_seconds: 3600 },
    kek_reseal: {
      command: [process.execPath, resealProgram(), '--batch', '25', '--pause-ms', String(resealPauseMs)],
      env: {
        SECRET_STORE_KEK_FILE: '{secrets_dir}/secretStoreKek',
        SECRET_STORE_KEK_PREVIOUS_FILE: '{secrets_dir}/secretStoreKekPrevious',
        DATABASE_URL: databaseUrl,
      },
      timeout_ms: 600_000,
      attempts: 3,
    },
    holders: Object.fromEntries(
      Object.entries(fleet.members).map(([name, m]) => [
        name,
        { url: m!.url, restart: { adapter: 'http' as const, url: `${fleet.controlUrl}/members/${name}/restart` }, ready_timeout_ms: 15_000 },
      ]),
    ),
  };
}

/** The project root: the compiled services live under it. */
const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const SANDBOX_DB_ROLES = ['api', 'sts', 'gateway', 'audit', 'coordinator'];

/** The holders-file sections of the sandbox's password targets, after bootstrapping them. */
async function startSandboxStores(opts: StackOptions, cleanups: (() => Promise<unknown>)[]): Promise<Partial<HoldersConfig>> {
  const sections: Partial<HoldersConfig> = {};
  if (opts.stores?.postgres) {
    const pg = await startSandboxPostgres();
    cleanups.push(() => pg.stop());
    const target = { admin_url_file: 'postgresAdminUrl', role_template: 'caracal{role}', database_url_template: `postgres://{user}:{password}@127.0.0.1:${pg.port}/postgres` };
    await bootstrapPostgresRoles(pg.adminUrl, opts.secretsDir, { roles: SANDBOX_DB_ROLES, roleTemplate: target.role_template, databaseUrlTemplate: target.database_url_template });
    sections.postgres = target;
  }
  if (opts.stores?.redisAclUser) {
    // ACL users live per node; the sandbox bootstraps one on a standalone Redis only.
    if (opts.redisClusterNodes?.length) throw new Error('the sandbox Redis ACL user (stores.redisAclUser) needs a standalone Redis, not a cluster');
    const user = opts.stores.redisAclUser;
    const { host } = new URL(opts.redisUrl);
    const target = { admin_url_file: 'redisAdminUrl', user, url_template: `redis://{user}:{password}@${host}` };
    await bootstrapRedisAclUser(opts.redisUrl, opts.secretsDir, { user, urlTemplate: target.url_template });
    cleanups.push(() => dropRedisAclUser(opts.redisUrl, user));
    sections.redis_acl = target;
  }
  return sections;
}

/**
 * Starts the five services (optionally several replicas each) and, when
 * asked, the sandbox fleet they rotate against. Everything runs as real
 * processes; `stop()` ends them gracefully.
 */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const logDir = join(opts.runDir, 'logs');
  await mkdir(logDir, { recursive: true });
  let fleet: Fleet | undefined;
  let holdersPath = opts.holdersPath;
  let catalogPath = opts.catalogPath;
  const services: ServiceProcess[] = [];

  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    await Promise.allSettled(services.map((s) => s.stop()));
    await fleet?.stop();
    await Promise.allSettled(cleanups.map((c) => c()));
  };

  try {
    if (opts.sandbox !== undefined && opts.sandbox !== false) {
      await ensureSandboxSecrets(opts.secretsDir);
      // The fleet keeps sealed zone secrets in the same database; the recorder would create it only later.
      await createDatabaseIfMissing(opts.databaseUrl);
      fleet = await startFleet({
        databaseUrl: opts.databaseUrl,
        ...opts.sandbox,
        secretsDir: opts.secretsDir,
        redisUrl: opts.redisUrl,
        ...(opts.redisClusterNodes?.length ? { redisClusterNodes: [...opts.redisClusterNodes] } : {}),
        logDir,
      });
      if (opts.seed) await seedSandbox(fleet, opts.secretsDir, opts.seed);
      if (!holdersPath) {
        const holders = sandboxHolders(fleet, opts.databaseUrl, opts.resealPauseMs);
        Object.assign(holders, await startSandboxStores(opts, cleanups));
        holdersPath = join(opts.runDir, 'holders.json');
        await writeFile(holdersPath, JSON.stringify(holders, null, 2));
      }
      if (!catalogPath) {
        catalogPath = join(opts.runDir, 'catalog.sandbox.json');
        await writeFile(catalogPath, JSON.stringify(sandboxCatalog(opts.sandboxWindowMs ?? 2000), null, 2));
      }
    }

    const common: NodeJS.ProcessEnv = {
      REDIS_URL: opts.redisUrl,
      ...(opts.redisClusterNodes?.length ? { REDIS_CLUSTER_NODES: opts.redisClusterNodes.join(',') } : {}),
      DATABASE_URL: opts.databaseUrl,
      CARACAL_SECRETS_DIR: opts.secretsDir,
      LOG_LEVEL: opts.logLevel ?? 'info',
      ...(opts.streamPrefix ? { STREAM_PREFIX: opts.streamPrefix } : {}),
      ...(catalogPath ? { CARACAL_CATALOG: catalogPath } : {}),
      ...(holdersPath ? { CARACAL_HOLDERS: holdersPath } : {}),
      ...(fleet
        ? {
            CARACAL_NAMESPACE: fleet.namespace,
            ZONE_DIRECTORY_URL: `${fleet.url('sts')}/internal/zones`,
            ZONE_DIRECTORY_TOKEN_FILE: join(opts.secretsDir, 'stsAdminToken'),
          }
        : {}),
      ...opts.env?.['*'],
    };
    const replicas = opts.replicas ?? 1;
    // The recorder first: it creates the database and migrates before others emit.
    const order: ServiceName[] = ['recorder', ...SERVICE_NAMES.filter((n) => n !== 'recorder')];
    for (const name of order) {
      const batch = Array.from({ length: replicas }, (_, i) => new ServiceProcess(name, `${name}-${i + 1}`, serviceEntry(PROJECT_ROOT, name), { ...common, ...opts.env?.[name] }, logDir));
      services.push(...batch);
      await Promise.all(batch.map((s) => s.start()));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    fleet,
    services,
    holdersPath,
    catalogPath,
    instances: (name) => services.filter((s) => s.name === name),
    stop,
  };
}
