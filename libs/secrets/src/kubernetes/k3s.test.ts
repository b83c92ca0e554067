import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { K3sContainer, type StartedK3sContainer } from '@testcontainers/k3s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordConflictError, generateKeyHex, keyIdOf } from '../index.js';
import { HISTORY_SECRET_LABELS, KubernetesSecretStore } from './store.js';

/**
 * The Kubernetes store against a real API server (k3s in Docker), with the
 * service account and the Role documented at the top of store.ts, nothing
 * more: proves the RBAC is enough, that `update` is never needed, and that a
 * Secret outside the Role is refused by the real authorizer.
 *
 * Needs a Docker engine that may run privileged containers; without one the
 * suite is skipped and its title says why.
 */
const K3S_IMAGE = 'rancher/k3s:v1.31.2-k3s1';
const NAMESPACE = 'caracal';
const SERVICE_ACCOUNT = 'caracal-rotation';

const dockerProblem = await findDockerProblem();
if (dockerProblem) console.warn(`KubernetesSecretStore on k3s: skipped, ${dockerProblem}`);

describe.skipIf(dockerProblem !== undefined)(`KubernetesSecretStore on k3s${dockerProblem ? ` (skipped: ${dockerProblem})` : ''}`, () => {
  let k3s: StartedK3sContainer;
  let admin: Admin;
  let store: KubernetesSecretStore;
  let connection: { apiServer: string; namespace: string; token: string; ca: string };

  beforeAll(async () => {
    k3s = await new K3sContainer(K3S_IMAGE).start();
    admin = adminFrom(k3s.getKubeConfig());
    await admin.send('POST', '/api/v1/namespaces', { metadata: { name: NAMESPACE } });
    // As Caracal's chart leaves it (templates/secret.yaml).
    await admin.send('POST', `/api/v1/namespaces/${NAMESPACE}/secrets`, {
      metadata: { name: 'caracal-runtime' },
      type: 'Opaque',
      stringData: { streamsHmacKey: generateKeyHex(), auditHmacKey: generateKeyHex() },
    });
    await admin.send('POST', `/api/v1/namespaces/${NAMESPACE}/secrets`, { metadata: { name: 'unrelated' }, stringData: { x: 'y' } });
    await admin.send('POST', `/api/v1/namespaces/${NAMESPACE}/serviceaccounts`, { metadata: { name: SERVICE_ACCOUNT } });
    // Exactly the Role documented in store.ts.
    await admin.send('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NAMESPACE}/roles`, {
      metadata: { name: SERVICE_ACCOUNT },
      rules: [
        { apiGroups: [''], resources: ['secrets'], resourceNames: ['caracal-runtime', 'caracal-rotation-history'], verbs: ['get', 'patch'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      ],
    });
    await admin.send('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NAMESPACE}/rolebindings`, {
      metadata: { name: SERVICE_ACCOUNT },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: SERVICE_ACCOUNT },
      subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace: NAMESPACE }],
    });
    const tokenRequest = (await admin.send('POST', `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${SERVICE_ACCOUNT}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 3600 },
    })) as { status: { token: string } };
    connection = { apiServer: admin.server, namespace: NAMESPACE, token: tokenRequest.status.token, ca: admin.ca };
    store = new KubernetesSecretStore(connection);
  }, 240_000);

  afterAll(async () => {
    await k3s?.stop();
  });

  it('creates its labelled history Secret and passes its own safety checks', async () => {
    await store.ensureReady();
    const history = (await admin.send('GET', `/api/v1/namespaces/${NAMESPACE}/secrets/caracal-rotation-history`)) as { metadata: { labels: Record<string, string> } };
    expect(history.metadata.labels).toMatchObject(HISTORY_SECRET_LABELS);
  });

  it('rotates a key in caracal-runtime with the documented RBAC only, and keeps the other keys', async () => {
    const before = await store.read('streamsHmacKey');
    const next = generateKeyHex();
    await store.recordVersion('streamsHmacKey', before!, { rotationId: 'rot-k3s', phase: 'before' });
    expect(await store.write('streamsHmacKey', next)).toEqual({ location: `secret/${NAMESPACE}/caracal-runtime#streamsHmacKey`, kid: keyIdOf(next) });
    await store.write('streamsHmacKeyPrevious', before!);
    expect(await store.read('streamsHmacKey')).toBe(next);
    expect(await store.read('auditHmacKey')).toMatch(/^[0-9a-f]{64}$/);
    await store.remove('streamsHmacKeyPrevious');
    expect(await store.read('streamsHmacKeyPrevious')).toBeUndefined();
    expect(await store.readVersion('streamsHmacKey', keyIdOf(before!))).toBe(before);
  });

  it('loses no update when two replicas write twenty keys at once against the real resourceVersion check', async () => {
    const replicas = [store, new KubernetesSecretStore({ ...connection, maxAttempts: 100 })];
    const values = new Map(Array.from({ length: 20 }, (_, i) => [`raceKey${i}`, generateKeyHex()]));
    await Promise.all([...values].map(([name, value], i) => replicas[i % 2]!.write(name, value)));
    for (const [name, value] of values) expect(await store.read(name)).toBe(value);
  });

  it('keeps rotation records with compare-and-swap', async () => {
    await store.writeRecord({ rotationId: 'rot-k3s', state: { step: 'stage' } });
    await expect(store.writeRecord({ rotationId: 'rot-k3s', state: {} })).rejects.toBeInstanceOf(RecordConflictError);
    expect((await store.writeRecord({ rotationId: 'rot-k3s', state: { step: 'deploy' } }, 1)).revision).toBe(2);
  });

  it('is refused by the real authorizer outside its Role, and says which verb on which Secret', async () => {
    const outside = new KubernetesSecretStore({ ...connection, secret: 'unrelated' });
    const err = await outside.read('x').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'store_forbidden', status: 403 });
    expect((err as Error).message).toContain(`may not get Secret ${NAMESPACE}/unrelated`);
    expect((err as Error).message).toContain(`system:serviceaccount:${NAMESPACE}:${SERVICE_ACCOUNT}`);
  });
});

interface Admin {
  server: string;
  ca: string;
  send(method: string, path: string, body?: object): Promise<unknown>;
}

/** The cluster admin from k3s's kubeconfig (client certificate), for setting the cluster up. */
function adminFrom(kubeconfig: string): Admin {
  const field = (name: string) => {
    const m = new RegExp(`${name}:\\s*(\\S+)`).exec(kubeconfig);
    if (!m) throw new Error(`k3s kubeconfig has no ${name}`);
    return m[1]!;
  };
  const server = field('server');
  const ca = Buffer.from(field('certificate-authority-data'), 'base64').toString('utf8');
  const cert = Buffer.from(field('client-certificate-data'), 'base64').toString('utf8');
  const key = Buffer.from(field('client-key-data'), 'base64').toString('utf8');
  return {
    server,
    ca,
    send: (method, path, body) =>
      new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const req = httpsRequest(
          new URL(`${server}${path}`),
          { method, ca, cert, key, headers: { 'content-type': 'application/json', accept: 'application/json' } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`));
              else resolve(JSON.parse(text));
            });
          },
        );
        req.on('error', reject);
        req.end(payload);
      }),
  };
}

/** Why there is no usable Docker engine, or undefined when one answers its ping. */
async function findDockerProblem(): Promise<string | undefined> {
  const host = process.env.DOCKER_HOST;
  const socketPath = host?.startsWith('unix://') ? host.slice('unix://'.length) : host ? undefined : '/var/run/docker.sock';
  if (socketPath !== undefined && !existsSync(socketPath)) return `no Docker engine (${socketPath} does not exist; set DOCKER_HOST to use another)`;
  const target = socketPath !== undefined ? { socketPath, path: '/_ping' } : { ...tcpTarget(host!), path: '/_ping' };
  return new Promise((resolve) => {
    const req = httpRequest({ ...target, method: 'GET', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? undefined : `the Docker engine answered its ping with ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve(`the Docker engine does not answer (${err.message})`));
    req.end();
  });
}

function tcpTarget(dockerHost: string): { host: string; port: number } {
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port || 2375) };
}
