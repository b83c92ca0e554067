import { hostname } from 'node:os';
import { z } from 'zod';
import { durationMs, hostPortList, port, positiveInt, redisUrl } from './fields.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where Caracal keeps its secrets, as `caracal up` lays them out: shared by the services and the secret store. */
export const caracalDirFields = {
  CARACAL_SECRETS_DIR: z.string().optional().describe("Caracal's secrets directory; default $CARACAL_HOME/secrets, else $XDG_DATA_HOME/caracal/secrets, else ~/.local/share/caracal/secrets."),
  CARACAL_HOME: z.string().optional().describe("Caracal's home, as `caracal up` uses it: the default parent of the secrets and rotation directories."),
};

/**
 * The variables every service shares. A service extends it with its own
 * (`commonServiceSchema.extend({ DATABASE_URL: databaseUrl() })` for the recorder).
 * Every field says what it is with `.describe()`: docs/configuration.md is
 * generated from these descriptions.
 */
export const commonServiceSchema = z.object({
  REDIS_URL: redisUrl().describe('The bus: the Redis of the rotation streams and the orchestrator\'s state (`redis://` or `rediss://`, database index honoured).'),
  REDIS_CLUSTER_NODES: hostPortList().describe('Seed nodes of a Redis Cluster for the bus, `host:port,host:port,…`; when set, REDIS_URL gives only credentials and TLS.'),
  CARACAL_REDIS_URL: z
    .string()
    .optional()
    .describe(
      "Caracal's Redis: its streams (probes, the drain gate) and the `completed` announcement; default REDIS_URL. Give it as CARACAL_REDIS_URL_FILE = Caracal's `redisUrl`, so a rotated password is followed on the next reconnect.",
    ),
  ...caracalDirFields,
  CARACAL_ROTATION_DIR: z
    .string()
    .optional()
    .describe("The orchestrator's own directory (bus key, operator registry and keys, zone reader token), never inside Caracal's secrets; default $CARACAL_HOME/rotation."),
  CARACAL_CATALOG: z.string().optional().describe('A catalog override file (JSON); planner, secret-writer and recorder must read the same one. Default: the built-in catalog.'),
  LOG_LEVEL: z
    .string()
    .transform((raw) => raw.trim().toLowerCase())
    .pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }))
    .default('info')
    .describe(`Least severe level logged: ${LOG_LEVELS.join(', ')}.`),
  HTTP_PORT: port(0).describe('Port of /health, /ready and /metrics; 0 asks for an ephemeral port.'),
  HTTP_HOST: z.string().default('127.0.0.1').describe('Address /health, /ready and /metrics bind to (the image sets 0.0.0.0).'),
  INSTANCE_ID: z
    .string()
    .default(() => `${hostname()}-${process.pid}`)
    .meta({
      description: "This replica's consumer name in its group. Keep it stable across restarts (a pod name, a container name) so a replica finds its own pending entries.",
      defaultText: '<hostname>-<pid>',
    }),
  STREAM_PREFIX: z.string().default('caracal.rotation').describe('Prefix of every rotation stream and state key; tests set it to isolate their streams.'),
  CONSUMER_BATCH: positiveInt(64).describe('Entries read per XREADGROUP.'),
  CONSUMER_BLOCK_MS: durationMs(1_000).describe('How long one XREADGROUP blocks waiting for entries.'),
  CLAIM_IDLE_MS: durationMs(30_000).describe('An entry pending this long with a dead consumer is claimed by a live replica; longer than the slowest legitimate handler.'),
  MAX_DELIVERIES: positiveInt(5).describe('Deliveries of an entry whose handler keeps failing (not transiently) before it is dead-lettered.'),
  RETRY_FOR_MS: durationMs(5 * 60_000).describe('How long a transient fault (a holder, Postgres or the STS restarting) is retried before it counts as a failure.'),
  MAX_IN_FLIGHT: positiveInt(256).describe('Entries a replica handles at once.'),
});

export type CommonServiceConfig = z.infer<typeof commonServiceSchema>;
