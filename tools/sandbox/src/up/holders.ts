import { writeFile } from 'node:fs/promises';
import { holdersConfigSchema, type HoldersConfig } from '@caracal-rotation/contracts';
import { url, type Ports, SERVICES } from './compose-env.js';

/** compose's stop_grace_period for the app services. */
export const STOP_GRACE_S = 20;

export const containerName = (service: string) => `caracal-${service}-1`;

/**
 * The holders file (libs/contracts/src/holders.ts, version 2) for a sandbox:
 * every service restarts through the Docker Engine API on the sandbox's
 * socket, the targets of the writers that do not write files are the
 * secrets-dir files, and the KEK re-seal job is the sandbox's replica of
 * apps/api/scripts/rotate-secret-store-kek.mjs, reading its keys and the
 * admin database URL from the files (`{secrets_dir}` is filled in by the
 * orchestrator).
 */
export function sandboxHolders(ports: Ports, socket: string, resealCommand: string[]): HoldersConfig {
  const services = Object.fromEntries(
    SERVICES.map((service) => [service, { url: url(ports[service]), restart: { adapter: 'docker', container: containerName(service), socket, stop_timeout_s: STOP_GRACE_S }, ready_timeout_ms: 60_000 }]),
  );
  return holdersConfigSchema.parse({
    version: 2,
    caracal: { namespace: '', metrics_bearer_file: 'metricsBearer' },
    services,
    zones: { admin_token_file: 'stsAdminToken' },
    postgres: { admin_url_file: 'databaseUrl' },
    redis: { admin_url_file: 'redisUrl' },
    kek_reseal: {
      command: resealCommand,
      env: {
        SECRET_STORE_KEK_FILE: '{secrets_dir}/secretStoreKek',
        SECRET_STORE_KEK_PREVIOUS_FILE: '{secrets_dir}/secretStoreKekPrevious',
        DATABASE_URL_FILE: '{secrets_dir}/databaseUrl',
      },
      admin_url_file: 'databaseUrl',
    },
  });
}

export async function writeHolders(file: string, holders: HoldersConfig): Promise<void> {
  await writeFile(file, `${JSON.stringify(holders, null, 2)}\n`, { mode: 0o644 });
}
