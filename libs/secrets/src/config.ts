import { bool, caracalDirFields, csv, positiveInt } from '@caracal-rotation/config';
import { z } from 'zod';
import { DEFAULT_HISTORY_SECRET, DEFAULT_RUNTIME_SECRET, DEFAULT_VERSIONS_PER_SECRET } from './kubernetes/store.js';

export const SECRET_STORE_KINDS = ['files', 'kubernetes'] as const;
export type SecretStoreKind = (typeof SECRET_STORE_KINDS)[number];

/**
 * The variables that choose and configure the secret store. A service
 * extends its schema with these (`commonServiceSchema.extend(secretStoreConfigSchema.shape)`)
 * and loads it with loadConfig, so each is also read from `NAME_FILE`.
 */
export const secretStoreConfigSchema = z.object({
  CARACAL_SECRET_STORE: z
    .string()
    .transform((raw) => raw.trim().toLowerCase())
    .pipe(z.enum(SECRET_STORE_KINDS, { error: `must be one of ${SECRET_STORE_KINDS.join(', ')}` }))
    .default('files')
    .describe("Where Caracal's secrets live: `files` (CARACAL_SECRETS_DIR) or `kubernetes` (the keys of CARACAL_K8S_SECRET)."),

  // files
  ...caracalDirFields,
  CARACAL_WORKSPACE_ROOTS: csv().describe('Agent workspace roots, comma-separated: a secrets directory inside one is refused.'),

  // kubernetes
  CARACAL_K8S_NAMESPACE: z.string().optional().describe("Namespace of Caracal's Secret; default the pod's own namespace."),
  CARACAL_K8S_SECRET: z.string().default(DEFAULT_RUNTIME_SECRET).describe("The Secret Caracal's chart mounts (its `secrets.runtimeSecretName`)."),
  CARACAL_K8S_HISTORY_SECRET: z
    .string()
    .default(DEFAULT_HISTORY_SECRET)
    .describe("The orchestrator's own Secret for the version history and rotation records; never mounted by Caracal."),
  CARACAL_K8S_CREATE_HISTORY_SECRET: bool(true).describe('Whether the store may create a missing history Secret (needs `create` on secrets).'),
  CARACAL_K8S_HISTORY_VERSIONS: positiveInt(DEFAULT_VERSIONS_PER_SECRET).describe('Versions kept per secret in the history Secret (it must stay under 1 MiB).'),
  CARACAL_K8S_API_SERVER: z.string().optional().describe('API server URL; default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT.'),
  CARACAL_K8S_TOKEN: z
    .string()
    .optional()
    .describe(
      "Bearer token for the API server; default the pod's service account token, re-read before every request because the kubelet rotates it. A token given here (or through CARACAL_K8S_TOKEN_FILE, read once at start) is used as is.",
    ),
  CARACAL_K8S_CA: z.string().optional().describe("PEM of the cluster CA; default the service account's ca.crt."),
  KUBERNETES_SERVICE_HOST: z.string().optional().describe('Set by Kubernetes in every pod: the API server\'s address.'),
  KUBERNETES_SERVICE_PORT: z.string().optional().describe("Set by Kubernetes in every pod: the API server's port."),
});

export type SecretStoreConfig = z.infer<typeof secretStoreConfigSchema>;
