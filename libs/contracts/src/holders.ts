import { z } from 'zod';

/** Kubernetes names: a namespace is a DNS label, a Deployment a DNS subdomain. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Where each holder runs and how to restart it: the deployment side of the
 * catalog (which says *what* to roll). The roller and verifier read it from
 * CARACAL_HOLDERS.
 */
export const restartAdapterSchema = z.discriminatedUnion('adapter', [
  z.object({
    adapter: z.literal('http'),
    /** POSTed to restart the holder (a reload hook or a supervisor). */
    url: z.url(),
    headers: z.record(z.string(), z.string()).optional(),
  }),
  z.object({
    adapter: z.literal('exec'),
    /** argv, run without a shell; `{service}` is replaced with the holder's name. */
    command: z.array(z.string()).min(1),
    /** Optional second command that waits for the restart to finish (e.g. `kubectl rollout status`). */
    wait: z.array(z.string()).min(1).optional(),
  }),
  z.object({
    adapter: z.literal('kubernetes'),
    /** Namespace of the Deployment (a DNS label). */
    namespace: z.string().regex(DNS_LABEL, 'must be a Kubernetes namespace name (DNS label)').max(63),
    /** The Deployment to roll: its pod template's `kubectl.kubernetes.io/restartedAt` is patched, as `kubectl rollout restart` does. */
    deployment: z.string().regex(DNS_SUBDOMAIN, 'must be a Kubernetes object name (DNS subdomain)').max(253),
    /** API server base URL; default the in-cluster `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`. */
    api_server: z.url().optional(),
    /** Bearer token file; default the pod's service account token. */
    token_file: z.string().min(1).optional(),
  }),
]);
export type RestartAdapter = z.infer<typeof restartAdapterSchema>;

export const holderSchema = z.object({
  /** Base URL of the holder: `/health` and `/ready` are read from it. */
  url: z.url(),
  restart: restartAdapterSchema,
  ready_timeout_ms: z.number().int().positive().default(30_000),
});
export type HolderConfig = z.infer<typeof holderSchema>;

/**
 * How writers reach the systems that hold material outside the secrets
 * directory. Credentials are never inline: `*_file` names a file in the
 * secrets directory, which only the secret-writer and verifier read.
 */
export const postgresRoleTargetSchema = z.object({
  /** File (in the secrets directory) holding an administrative connection URL. */
  admin_url_file: z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/).default('postgresAdminUrl'),
  /** Postgres role of a catalog role; Caracal names them caracal<svc>. */
  role_template: z.string().includes('{role}').default('caracal{role}'),
  /** What the derived `<role>DatabaseUrl` file holds. */
  database_url_template: z.string().includes('{password}').default('postgres://{user}:{password}@postgres:5432/caracal'),
});

export const redisAclTargetSchema = z.object({
  admin_url_file: z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/).default('redisAdminUrl'),
  /** The ACL user whose passwords rotate (two passwords during the overlap). */
  user: z.string().regex(/^[A-Za-z0-9_.-]+$/),
  /** What the derived `redisUrl` file holds. */
  url_template: z.string().includes('{password}').default('redis://{user}:{password}@redis:6379'),
});

export const zoneKeysTargetSchema = z.object({
  /** The holder that serves JWKS and rotates zone keys. */
  sts: z.string().default('sts'),
  /** File (in the secrets directory) holding STS_ADMIN_TOKEN. */
  admin_token_file: z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/).default('stsAdminToken'),
  /** Lifetime of the canary mandate minted with the old key before a rotation. */
  canary_ttl_seconds: z.number().int().positive().default(3600),
});

export const kekResealSchema = z.object({
  /** argv of the re-seal job, run without a shell; `{secrets_dir}` is replaced. */
  command: z.array(z.string()).min(1),
  env: z.record(z.string(), z.string()).default({}),
  timeout_ms: z.number().int().positive().default(600_000),
  /** A job killed by a signal is run again, up to this many times (it is idempotent). */
  attempts: z.number().int().positive().default(3),
});

export const holdersConfigSchema = z.object({
  version: z.literal(1),
  /** Namespace of Caracal's own stream names (empty in production). */
  caracal_namespace: z.string().default(''),
  holders: z.record(z.string(), holderSchema),
  postgres: postgresRoleTargetSchema.optional(),
  redis_acl: redisAclTargetSchema.optional(),
  zones: zoneKeysTargetSchema.optional(),
  kek_reseal: kekResealSchema.optional(),
});
export type HoldersConfig = z.infer<typeof holdersConfigSchema>;
