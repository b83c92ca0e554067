import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '@caracal-rotation/config';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileSecretStore, KubernetesSecretStore, createSecretStore, resolveKubernetesConnection, secretStoreConfigSchema } from './index.js';
import { NAMESPACE, RUNTIME, startKubeFixture, type KubeFixture } from './kubernetes/test-helpers.js';

describe('choosing the store from configuration', () => {
  let tmp: string;
  let fx: KubeFixture | undefined;
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'secrets-config-'));
  });
  afterEach(async () => {
    await fx?.close();
    fx = undefined;
    await rm(tmp, { recursive: true, force: true });
  });

  it('defaults to files in CARACAL_SECRETS_DIR, with the workspace roots', () => {
    const config = loadConfig(secretStoreConfigSchema, { CARACAL_SECRETS_DIR: path.join(tmp, 's'), CARACAL_WORKSPACE_ROOTS: '/ws/a, /ws/b' });
    expect(config).toMatchObject({
      CARACAL_SECRET_STORE: 'files',
      CARACAL_K8S_SECRET: 'caracal-runtime',
      CARACAL_K8S_HISTORY_SECRET: 'caracal-rotation-history',
      CARACAL_K8S_HISTORY_VERSIONS: 5,
      CARACAL_K8S_CREATE_HISTORY_SECRET: true,
    });
    const store = createSecretStore(config);
    expect(store).toBeInstanceOf(FileSecretStore);
    expect(store.kind).toBe('files');
    expect((store as FileSecretStore).dir).toBe(path.join(tmp, 's'));
    expect((store as FileSecretStore).workspaceRoots).toEqual(['/ws/a', '/ws/b']);
    expect(store.location('streamsHmacKey')).toBe(path.join(tmp, 's', 'streamsHmacKey'));
  });

  it('falls back to $CARACAL_HOME/secrets as Caracal does', () => {
    const store = createSecretStore(loadConfig(secretStoreConfigSchema, { CARACAL_HOME: tmp }), { env: {} });
    expect((store as FileSecretStore).dir).toBe(path.join(tmp, 'secrets'));
  });

  it('refuses an unknown store and bad numbers by variable, without quoting values', () => {
    let err: unknown;
    try {
      loadConfig(secretStoreConfigSchema, { CARACAL_SECRET_STORE: 'vault', CARACAL_K8S_HISTORY_VERSIONS: 'many', CARACAL_K8S_CREATE_HISTORY_SECRET: 'maybe' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.variable).sort()).toEqual([
      'CARACAL_K8S_CREATE_HISTORY_SECRET',
      'CARACAL_K8S_HISTORY_VERSIONS',
      'CARACAL_SECRET_STORE',
    ]);
    expect((err as Error).message).toContain('must be one of files, kubernetes');
  });

  it('builds the Kubernetes store from the variables, the token read from CARACAL_K8S_TOKEN_FILE', async () => {
    fx = await startKubeFixture({ runtime: { auditHmacKey: 'ab'.repeat(32) } });
    const tokenFile = path.join(tmp, 'token');
    await writeFile(tokenFile, `${fx.api.token}\n`);
    const config = loadConfig(secretStoreConfigSchema, {
      CARACAL_SECRET_STORE: 'Kubernetes',
      CARACAL_K8S_NAMESPACE: NAMESPACE,
      CARACAL_K8S_API_SERVER: fx.api.url,
      CARACAL_K8S_TOKEN_FILE: tokenFile,
      CARACAL_K8S_HISTORY_VERSIONS: '3',
    });
    const store = createSecretStore(config, { serviceAccountDir: path.join(tmp, 'no-service-account') });
    expect(store).toBeInstanceOf(KubernetesSecretStore);
    expect(store.kind).toBe('kubernetes');
    expect(store.location('auditHmacKey')).toBe(`secret/${NAMESPACE}/${RUNTIME}#auditHmacKey`);
    expect(await store.read('auditHmacKey')).toBe('ab'.repeat(32));
  });

  it('uses the pod service account in a cluster: namespace, CA, and a token re-read before each request', async () => {
    fx = await startKubeFixture({ runtime: { auditHmacKey: 'ab'.repeat(32) } });
    const sa = path.join(tmp, 'serviceaccount');
    await mkdir(sa);
    await writeFile(path.join(sa, 'namespace'), NAMESPACE);
    await writeFile(path.join(sa, 'token'), 'expired-token');
    await writeFile(path.join(sa, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');

    const inCluster = resolveKubernetesConnection({ serviceAccountDir: sa, env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' } });
    expect(inCluster).toMatchObject({ apiServer: 'https://[fd00::1]:6443', namespace: NAMESPACE });
    expect(inCluster.ca).toContain('BEGIN CERTIFICATE');

    const store = createSecretStore(loadConfig(secretStoreConfigSchema, { CARACAL_SECRET_STORE: 'kubernetes', CARACAL_K8S_API_SERVER: fx.api.url }), {
      serviceAccountDir: sa,
    });
    await expect(store.read('auditHmacKey')).rejects.toMatchObject({ code: 'store_unauthorized' });
    // The kubelet rotates the projected token; the next request uses the new one.
    await writeFile(path.join(sa, 'token'), fx.api.token);
    expect(await store.read('auditHmacKey')).toBe('ab'.repeat(32));
  });

  it('says what to set when it is not in a cluster', () => {
    const nowhere = path.join(tmp, 'none');
    const kube = (env: Record<string, string>) => () =>
      createSecretStore(loadConfig(secretStoreConfigSchema, { CARACAL_SECRET_STORE: 'kubernetes', ...env }), { serviceAccountDir: nowhere });
    expect(kube({})).toThrow(/set CARACAL_K8S_API_SERVER, or run in a pod/);
    expect(kube({ CARACAL_K8S_API_SERVER: 'https://k8s.example:6443' })).toThrow(/set CARACAL_K8S_NAMESPACE/);
    expect(kube({ CARACAL_K8S_API_SERVER: 'https://k8s.example:6443', CARACAL_K8S_NAMESPACE: 'caracal' })).toThrow(/set CARACAL_K8S_TOKEN/);
  });
});
