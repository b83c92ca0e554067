import { mkdir } from 'node:fs/promises';
import { SERVICE_NAMES, ServiceProcess, serviceEntry, type ServiceName } from './service-process.js';

export interface ServicesOptions {
  /** The project (or image) root the compiled services live under. */
  root: string;
  /** Environment every service gets (REDIS_URL, CARACAL_HOLDERS, …). */
  env: NodeJS.ProcessEnv;
  /** Extra environment per service. */
  perService?: Partial<Record<ServiceName, NodeJS.ProcessEnv>>;
  logDir: string;
  replicas?: number;
}

export interface RunningServices {
  services: ServiceProcess[];
  instances(name: ServiceName): ServiceProcess[];
  /** SIGTERM to every service (in-flight work finishes), SIGKILL after the grace period. */
  stop(): Promise<void>;
}

/**
 * Starts the five services as processes, the recorder first (it creates the
 * projection's database and migrates before others emit), each waiting for
 * its /health before the next starts.
 */
export async function startServices(opts: ServicesOptions): Promise<RunningServices> {
  await mkdir(opts.logDir, { recursive: true });
  const services: ServiceProcess[] = [];
  const stop = async () => {
    await Promise.allSettled(services.map((s) => s.stop()));
  };
  try {
    const order: ServiceName[] = ['recorder', ...SERVICE_NAMES.filter((n) => n !== 'recorder')];
    for (const name of order) {
      const batch = Array.from(
        { length: opts.replicas ?? 1 },
        (_, i) => new ServiceProcess(name, `${name}-${i + 1}`, serviceEntry(opts.root, name), { ...opts.env, ...opts.perService?.[name] }, opts.logDir),
      );
      services.push(...batch);
      await Promise.all(batch.map((s) => s.start()));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { services, instances: (name) => services.filter((s) => s.name === name), stop };
}
