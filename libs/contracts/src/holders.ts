import { z } from 'zod';

/** Kubernetes names: a namespace is a DNS label, a workload a DNS subdomain. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A file in the secrets store, named as Caracal names its secrets. */
const storeFileName = z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, 'a secret name such as databaseUrl');
const argv = z.array(z.string().min(1)).min(1);

/**
 * How to restart one Caracal service and prove, from the platform, that the
 * process restarted after the write (Caracal's /health carries no boot id).
 */
export const restartAdapterSchema = z.discriminatedUnion('adapter', [
  z
    .object({
      adapter: z.literal('docker'),
      /** Container name or id, e.g. `caracal-api-1` for a `caracal up` deployment. */
      container: z.string().min(1).max(253),
      /** The Docker Engine API socket. */
      socket: z.string().min(1).default('/var/run/docker.sock'),
      /** Seconds Docker waits for a graceful stop before it kills. */
      stop_timeout_s: z.number().int().min(0).max(600).default(30),
    })
    .strict(),
  z
    .object({
      adapter: z.literal('kubernetes'),
      kind: z.enum(['Deployment', 'StatefulSet']),
      name: z.string().regex(DNS_SUBDOMAIN, 'must be a Kubernetes object name (DNS subdomain)').max(253),
      namespace: z.string().regex(DNS_LABEL, 'must be a Kubernetes namespace name (DNS label)').max(63),
      /** API server base URL; default the in-cluster `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`. */
      api_server: z.url().optional(),
      /** Bearer token file; default the pod's service account token. */
      token_file: z.string().min(1).optional(),
      /** CA bundle for the API server; default the pod's service account CA. */
      ca_file: z.string().min(1).optional(),
    })
    .strict(),
  z
    .object({
      adapter: z.literal('exec'),
      /** argv of the restart, run without a shell (e.g. systemctl restart caracal-api). */
      command: argv,
      /** argv whose output identifies the running process; it must change across the restart (e.g. systemctl show -p MainPID,ExecMainStartTimestamp caracal-api). */
      proof: argv,
      timeout_ms: z.number().int().positive().default(120_000),
    })
    .strict(),
  z
    .object({
      adapter: z.literal('none'),
      /** Why this holder needs no restart (it re-reads the file on every use). */
      why: z.string().min(1).max(500),
    })
    .strict(),
]);
export type RestartAdapter = z.infer<typeof restartAdapterSchema>;

export const serviceHolderSchema = z
  .object({
    /** Base URL of the service: `/ready` (and `/metrics`) are read from it. */
    url: z.url(),
    /** Base URLs of the individual replicas, where counters must be read per replica (the gateway's). */
    instances: z.array(z.url()).optional(),
    restart: restartAdapterSchema,
    ready_timeout_ms: z.number().int().positive().default(120_000),
  })
  .strict();
export type ServiceHolder = z.infer<typeof serviceHolderSchema>;

/** Caracal's service names, as its compose file and Helm chart name them. */
export const CARACAL_SERVICES = ['api', 'sts', 'gateway', 'audit', 'coordinator', 'web'] as const;
export type CaracalService = (typeof CARACAL_SERVICES)[number];

export const holdersConfigSchema = z
  .object({
    version: z.literal(2),
    caracal: z
      .object({
        /** Prefix of Caracal's stream names; empty in production (test fleets share one Redis). */
        namespace: z.string().default(''),
        /** The store file holding METRICS_BEARER, for the counters the checks read. */
        metrics_bearer_file: storeFileName.default('metricsBearer'),
      })
      .strict()
      .default({ namespace: '', metrics_bearer_file: 'metricsBearer' }),
    services: z.partialRecord(z.enum(CARACAL_SERVICES), serviceHolderSchema),
    zones: z
      .object({
        /** The store file holding STS_ADMIN_TOKEN, for the STS rotate route. */
        admin_token_file: storeFileName.default('stsAdminToken'),
      })
      .strict()
      .optional(),
    postgres: z
      .object({
        /** The store file holding Caracal's admin database URL (ALTER ROLE, the KEK row check). */
        admin_url_file: storeFileName.default('databaseUrl'),
      })
      .strict()
      .optional(),
    redis: z
      .object({
        /** The store file holding a URL with the default user's password (ACL SETUSER). */
        admin_url_file: storeFileName.default('redisUrl'),
      })
      .strict()
      .optional(),
    kek_reseal: z
      .object({
        /** argv of Caracal's re-seal job (apps/api/scripts/rotate-secret-store-kek.mjs), run without a shell. */
        command: argv,
        /** Extra environment; `{store:NAME}` is replaced with the value of a store file (never logged), `{secrets_dir}` with the secrets directory's path (for `*_FILE` variables). */
        env: z.record(z.string(), z.string()).default({}),
        /** The store file with the admin role's URL: the job must run as the admin role (row-level security hides every row from the API role). */
        admin_url_file: storeFileName.default('databaseUrl'),
        timeout_ms: z.number().int().positive().default(600_000),
        /** A job killed by a signal is run again, up to this many times (it is idempotent). */
        attempts: z.number().int().positive().default(3),
      })
      .strict()
      .optional(),
  })
  .strict();
export type HoldersConfig = z.infer<typeof holdersConfigSchema>;
