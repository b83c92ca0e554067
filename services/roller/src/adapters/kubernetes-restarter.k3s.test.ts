import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { K3sContainer, type StartedK3sContainer } from '@testcontainers/k3s';
import { getContainerRuntimeClient } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesTarget } from './kubernetes-client.js';
import { kubernetesRestarter } from './kubernetes-restarter.js';
import type { RestartError } from './restarter.js';

/**
 * The kubernetes adapter against a real API server and real controllers
 * (k3s in a container), with a service account limited to what the roller's
 * Role grants. Needs a Docker engine, and the k3s and pause images.
 */
async function dockerAnswers(): Promise<boolean> {
  try {
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}
const docker = await dockerAnswers();
if (!docker) console.warn('kubernetes-restarter.k3s.test.ts skipped: no Docker engine answers here, so no k3s cluster can be started');

const NS = 'caracal';
const K3S_IMAGE = 'rancher/k3s:v1.31.2-k3s1';
const PAUSE_IMAGE = 'registry.k8s.io/pause:3.9';

/** The cluster admin's credentials, from the kubeconfig k3s writes (one cluster, one user). */
function adminCredentials(kubeconfig: string) {
  const field = (name: string) => {
    const m = new RegExp(`${name}:\\s*(\\S+)`).exec(kubeconfig);
    if (!m) throw new Error(`the k3s kubeconfig has no ${name}`);
    return m[1]!;
  };
  const pem = (name: string) => Buffer.from(field(name), 'base64').toString('utf8');
  return { server: field('server'), ca: pem('certificate-authority-data'), cert: pem('client-certificate-data'), key: pem('client-key-data') };
}

describe.skipIf(!docker)('the kubernetes restart adapter on a real cluster (k3s)', () => {
  let k3s: StartedK3sContainer;
  let admin: ReturnType<typeof adminCredentials>;
  const dir = mkdtempSync(path.join(tmpdir(), 'k3s-roller-'));

  function kube(method: string, apiPath: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const url = new URL(apiPath, admin.server);
      const req = request(url, { method, ca: admin.ca, cert: admin.cert, key: admin.key, headers: { 'Content-Type': 'application/json', Accept: 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }
  async function create(apiPath: string, body: unknown) {
    const res = await kube('POST', apiPath, body);
    if (res.status >= 300) throw new Error(`POST ${apiPath}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    return res.body;
  }
  async function podUids(app: string): Promise<string[]> {
    const res = await kube('GET', `/api/v1/namespaces/${NS}/pods?labelSelector=app%3D${app}`);
    return ((res.body.items ?? []) as { metadata: { uid: string } }[]).map((p) => p.metadata.uid);
  }
  async function untilReady(kind: 'deployments' | 'statefulsets', name: string) {
    for (;;) {
      const { body } = await kube('GET', `/apis/apps/v1/namespaces/${NS}/${kind}/${name}`);
      const status = body.status as { readyReplicas?: number } | undefined;
      if (status?.readyReplicas === 2) return;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  const workload = (kind: 'Deployment' | 'StatefulSet', name: string) => ({
    apiVersion: 'apps/v1',
    kind,
    metadata: { name, namespace: NS },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      ...(kind === 'StatefulSet' ? { serviceName: name } : {}),
      template: { metadata: { labels: { app: name } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: PAUSE_IMAGE }] } },
    },
  });

  const target = (kind: 'Deployment' | 'StatefulSet', name: string): KubernetesTarget => ({
    adapter: 'kubernetes',
    kind,
    name,
    namespace: NS,
    api_server: admin.server,
    token_file: path.join(dir, 'token'),
    ca_file: path.join(dir, 'ca.crt'),
  });

  beforeAll(async () => {
    k3s = await new K3sContainer(K3S_IMAGE).start();
    admin = adminCredentials(k3s.getKubeConfig());
    await create('/api/v1/namespaces', { metadata: { name: NS } });
    await create(`/apis/apps/v1/namespaces/${NS}/deployments`, workload('Deployment', 'caracal-api'));
    await create(`/apis/apps/v1/namespaces/${NS}/statefulsets`, workload('StatefulSet', 'caracal-sts'));
    await create(`/apis/apps/v1/namespaces/${NS}/deployments`, workload('Deployment', 'caracal-unlisted'));
    // The roller's service account, with the Role deploy/k8s gives it (named workloads only).
    await create(`/api/v1/namespaces/${NS}/serviceaccounts`, { metadata: { name: 'caracal-roller' } });
    await create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`, {
      metadata: { name: 'caracal-roller' },
      rules: [
        { apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['caracal-api'], verbs: ['get', 'patch'] },
        { apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: ['caracal-sts'], verbs: ['get', 'patch'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
      ],
    });
    await create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, {
      metadata: { name: 'caracal-roller' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'caracal-roller' },
      subjects: [{ kind: 'ServiceAccount', name: 'caracal-roller', namespace: NS }],
    });
    const token = await create(`/api/v1/namespaces/${NS}/serviceaccounts/caracal-roller/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
    writeFileSync(path.join(dir, 'token'), (token.status as { token: string }).token);
    writeFileSync(path.join(dir, 'ca.crt'), admin.ca);
    await untilReady('deployments', 'caracal-api');
    await untilReady('statefulsets', 'caracal-sts');
  }, 300_000);

  afterAll(async () => {
    await k3s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [kind, name] of [
    ['Deployment', 'caracal-api'],
    ['StatefulSet', 'caracal-sts'],
  ] as const) {
    it(`restarts a ${kind} and proves every pod new`, { timeout: 180_000 }, async () => {
      const before = await podUids(name);
      const result = await kubernetesRestarter(target(kind, name), { pollMs: 500 }).restartAndProve({ writtenAt: new Date(), deadline: Date.now() + 150_000 });
      const after = await podUids(name);
      expect(after).toHaveLength(2);
      expect(after.filter((uid) => before.includes(uid))).toEqual([]);
      for (const uid of after) expect(result.proof.after).toContain(uid);
      expect(result.proof.detail).toContain('2 pod(s), none seen before the restart');
    });
  }

  it('is refused by RBAC for a workload the Role does not name', { timeout: 60_000 }, async () => {
    const err = (await kubernetesRestarter(target('Deployment', 'caracal-unlisted'))
      .restartAndProve({ writtenAt: new Date(), deadline: Date.now() + 30_000 })
      .catch((e: unknown) => e)) as RestartError;
    expect(err.code).toBe('refused');
    expect(err.message).toContain('forbidden');
  });
});
