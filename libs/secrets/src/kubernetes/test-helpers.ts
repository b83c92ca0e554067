import { createSecretsApi, startKubernetesApiDouble, type KubeHandler, type KubernetesApiDouble, type SecretsApi } from '@caracal-rotation/testing';
import { KubernetesSecretStore, type KubernetesSecretStoreOptions } from './store.js';

export const NAMESPACE = 'caracal';
export const RUNTIME = 'caracal-runtime';
export const HISTORY = 'caracal-rotation-history';

export interface KubeFixture {
  api: KubernetesApiDouble;
  secrets: SecretsApi;
  /** A store on the double, as one replica of the secret-writer would hold it. */
  store: KubernetesSecretStore;
  /** Another store on the same double: a second replica, or the same one after a restart. */
  newStore(overrides?: Partial<KubernetesSecretStoreOptions>): KubernetesSecretStore;
  close(): Promise<void>;
}

/**
 * The Kubernetes API double with the Secrets handler, `caracal-runtime`
 * seeded as Caracal's chart would leave it (unless `runtime: false`), and a
 * store pointed at it. `before` handlers run ahead of the Secrets handler.
 */
export async function startKubeFixture(
  opts: { runtime?: Record<string, string> | false; before?: KubeHandler[]; store?: Partial<KubernetesSecretStoreOptions> } = {},
): Promise<KubeFixture> {
  const secrets = createSecretsApi();
  const api = await startKubernetesApiDouble([...(opts.before ?? []), secrets.handler]);
  if (opts.runtime !== false) secrets.seed(NAMESPACE, { name: RUNTIME, values: opts.runtime ?? {} });
  const newStore = (overrides: Partial<KubernetesSecretStoreOptions> = {}) =>
    new KubernetesSecretStore({ apiServer: api.url, token: api.token, namespace: NAMESPACE, ...opts.store, ...overrides });
  return { api, secrets, store: newStore(), newStore, close: () => api.close() };
}
