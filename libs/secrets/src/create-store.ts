import type { SecretStoreConfig } from './config.js';
import { resolveSecretsDir } from './dir.js';
import { FileSecretStore } from './file-store.js';
import { KubernetesSecretStore } from './kubernetes/store.js';
import type { StoreLogger } from './kubernetes/secret-resource.js';
import type { SecretStore } from './secret-store.js';

export interface CreateSecretStoreOptions {
  /** For the directory fallbacks ($XDG_DATA_HOME, $HOME); default process.env. */
  env?: NodeJS.ProcessEnv;
  logger?: StoreLogger;
  /** Where the Kubernetes service account files are; tests point it elsewhere. */
  serviceAccountDir?: string;
}

/**
 * The store the configuration asks for (secretStoreConfigSchema). Nothing is
 * contacted here: configuration errors (no namespace, no API server, a bad
 * name) throw now, reachability and permissions show in ensureReady/assertSafe.
 */
export function createSecretStore(config: SecretStoreConfig, opts: CreateSecretStoreOptions = {}): SecretStore {
  const env = opts.env ?? process.env;
  if (config.CARACAL_SECRET_STORE === 'kubernetes') {
    return new KubernetesSecretStore({
      namespace: config.CARACAL_K8S_NAMESPACE,
      secret: config.CARACAL_K8S_SECRET,
      historySecret: config.CARACAL_K8S_HISTORY_SECRET,
      createHistorySecret: config.CARACAL_K8S_CREATE_HISTORY_SECRET,
      versionsPerSecret: config.CARACAL_K8S_HISTORY_VERSIONS,
      apiServer: config.CARACAL_K8S_API_SERVER,
      token: config.CARACAL_K8S_TOKEN,
      ca: config.CARACAL_K8S_CA,
      env: { KUBERNETES_SERVICE_HOST: config.KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT: config.KUBERNETES_SERVICE_PORT },
      ...(opts.serviceAccountDir !== undefined ? { serviceAccountDir: opts.serviceAccountDir } : {}),
      ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
    });
  }
  const dir = resolveSecretsDir({ ...env, CARACAL_SECRETS_DIR: config.CARACAL_SECRETS_DIR, CARACAL_HOME: config.CARACAL_HOME });
  return new FileSecretStore({ dir, workspaceRoots: config.CARACAL_WORKSPACE_ROOTS });
}
