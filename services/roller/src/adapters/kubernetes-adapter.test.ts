import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { holdersConfigSchema, type Plan } from '@caracal-rotation/contracts';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { rollPlan } from '../roll-plan.js';
import { KubernetesRestartError, RESTARTED_AT_ANNOTATION, apiServerUrl, restartDeployment, rolloutStatus } from './kubernetes-adapter.js';
import { requestRestart } from './restart-adapter.js';

/** What a Deployment's status looks like at one poll, after the PATCH. */
interface Step {
  observed: 'old' | 'new';
  replicas: number;
  updated: number;
  available: number;
  deadlineExceeded?: boolean;
}

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A stand-in for the Kubernetes API server on 127.0.0.1: one Deployment whose
 * rollout moves one step per GET after a PATCH; plus the holder's /health,
 * whose boot id changes once the rollout has completed (new pods).
 */
interface ApiStub {
  url: string;
  requests: Recorded[];
  /** Statuses served after a PATCH, one per GET; the last one repeats. */
  steps: Step[];
  /** Answer every API request with this status instead. */
  failWith?: { status: number; message: string };
  /** Never answer API requests. */
  hang?: boolean;
  /** Answer this many GETs after the PATCH with 503 first. */
  failGets?: number;
  generation: number;
  server: Server;
}

const NAMESPACE = 'caracal';
const DEPLOYMENT = 'caracal-api';
const DEPLOYMENT_PATH = `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${DEPLOYMENT}`;
const PODS_PATH = `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/name=${DEPLOYMENT}`)}`;
const TOKEN = 'test-token-not-a-secret';

const servers: Server[] = [];
const dirs: string[] = [];
afterAll(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tokenFile(contents = `${TOKEN}\n`): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'k8s-sa-'));
  dirs.push(dir);
  const file = path.join(dir, 'token');
  writeFileSync(file, contents);
  return file;
}

const complete: Step = { observed: 'new', replicas: 2, updated: 2, available: 2 };

async function startApiStub(steps: Step[] = [complete]): Promise<ApiStub> {
  let bootId = randomUUID();
  let served = 0;
  let patched = false;
  const stub = { requests: [], steps, generation: 7 } as unknown as ApiStub;
  stub.server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      if (req.url === '/health') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, boot_id: bootId }));
        return;
      }
      if (req.url === '/ready') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        return;
      }
      stub.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (stub.hang) return;
      if (stub.failWith) {
        res.writeHead(stub.failWith.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: stub.failWith.message, code: stub.failWith.status }));
        return;
      }
      if (req.method === 'GET' && req.url === PODS_PATH) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            kind: 'PodList',
            items: [
              { metadata: { name: `${DEPLOYMENT}-old-1` }, status: { phase: 'Running', containerStatuses: [{ name: 'api', ready: true, state: { running: {} } }] } },
              { metadata: { name: `${DEPLOYMENT}-new-1` }, status: { phase: 'Running', containerStatuses: [{ name: 'api', ready: false, state: { waiting: { reason: 'CrashLoopBackOff' } } }] } },
            ],
          }),
        );
        return;
      }
      if (req.url !== DEPLOYMENT_PATH) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', message: `deployments.apps not found` }));
        return;
      }
      if (req.method === 'PATCH') {
        stub.generation += 1;
        patched = true;
        served = 0;
      }
      if (req.method === 'GET' && patched && (stub.failGets ?? 0) > 0) {
        stub.failGets! -= 1;
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', message: 'etcdserver: leader changed' }));
        return;
      }
      let status: Record<string, unknown>;
      if (req.method === 'GET' && patched) {
        const step = stub.steps[Math.min(served, stub.steps.length - 1)]!;
        served += 1;
        const done = step.observed === 'new' && step.updated === 2 && step.available === 2 && step.replicas === 2;
        if (done) bootId = randomUUID();
        status = {
          observedGeneration: step.observed === 'new' ? stub.generation : stub.generation - 1,
          replicas: step.replicas,
          updatedReplicas: step.updated,
          availableReplicas: step.available,
          conditions: step.deadlineExceeded
            ? [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${DEPLOYMENT}-abc" has timed out progressing.` }]
            : [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' }],
        };
      } else {
        // The PATCH response: the controller has not seen the new generation yet.
        status = { observedGeneration: stub.generation - 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 };
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: DEPLOYMENT, namespace: NAMESPACE, generation: stub.generation }, spec: { replicas: 2, selector: { matchLabels: { 'app.kubernetes.io/name': DEPLOYMENT } } }, status }));
    });
  });
  await new Promise<void>((resolve) => stub.server.listen(0, '127.0.0.1', resolve));
  servers.push(stub.server);
  stub.url = `http://127.0.0.1:${(stub.server.address() as AddressInfo).port}`;
  return stub;
}

const target = (stub: ApiStub, token = tokenFile()) => ({ namespace: NAMESPACE, deployment: DEPLOYMENT, api_server: stub.url, token_file: token });

describe('kubernetes restart adapter', () => {
  let stub: ApiStub | undefined;
  afterEach(() => {
    if (stub) stub.hang = false;
  });

  it('patches the pod template restartedAt annotation through the API server, as kubectl rollout restart does', async () => {
    stub = await startApiStub();
    const now = new Date('2026-05-01T12:00:00.123Z');
    const result = await restartDeployment(target(stub), { timeoutMs: 5_000, pollMs: 10, now: () => now });

    const patch = stub.requests.find((r) => r.method === 'PATCH');
    expect(patch).toBeDefined();
    expect(patch!.url).toBe(DEPLOYMENT_PATH);
    expect(patch!.headers['content-type']).toBe('application/strategic-merge-patch+json');
    expect(patch!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(patch!.headers.accept).toBe('application/json');
    expect(JSON.parse(patch!.body)).toEqual({
      spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: '2026-05-01T12:00:00.123Z' } } } },
    });
    expect(result.restartedAt).toBe('2026-05-01T12:00:00.123Z');
    expect(result.generation).toBe(8);
    // One PATCH, then GETs of the same Deployment, nothing else.
    expect(stub.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
    expect(stub.requests.every((r) => r.url === DEPLOYMENT_PATH && ['PATCH', 'GET'].includes(r.method))).toBe(true);
  });

  it('waits until the controller observed the new generation and every replica is updated and available', async () => {
    stub = await startApiStub([
      // Counts of the previous rollout: complete, but for the old generation.
      { observed: 'old', replicas: 2, updated: 2, available: 2 },
      // Surge: a new pod starts next to the old ones.
      { observed: 'new', replicas: 3, updated: 1, available: 2 },
      { observed: 'new', replicas: 3, updated: 2, available: 2 },
      // Every pod new, one not available yet.
      { observed: 'new', replicas: 2, updated: 2, available: 1 },
      complete,
    ]);
    const result = await restartDeployment(target(stub), { timeoutMs: 5_000, pollMs: 10 });
    expect(result.polls).toBe(5);
    expect(stub.requests.filter((r) => r.method === 'GET')).toHaveLength(5);
    expect(result.status).toMatchObject({ generation: 8, observedGeneration: 8, desired: 2, replicas: 2, updated: 2, available: 2 });
    for (const get of stub.requests.filter((r) => r.method === 'GET')) expect(get.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('times out when the rollout does not complete in time, and says where it stopped', async () => {
    stub = await startApiStub([{ observed: 'new', replicas: 3, updated: 1, available: 2 }]);
    const started = Date.now();
    const err = await restartDeployment(target(stub), { timeoutMs: 400, pollMs: 20 }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(KubernetesRestartError);
    expect((err as KubernetesRestartError).code).toBe('timeout');
    expect((err as Error).message).toMatch(/rollout of deployment caracal\/caracal-api timed out after 400 ms/);
    expect((err as Error).message).toContain('1/2 updated');
    // Which pods are stuck, read with the selector of the Deployment.
    expect((err as Error).message).toContain(`pods: ${DEPLOYMENT}-new-1/api: CrashLoopBackOff`);
    expect((err as Error).message).not.toContain('old-1');
    expect(elapsed).toBeGreaterThanOrEqual(380);
    expect(elapsed).toBeLessThan(2_000);
    expect(stub.requests.filter((r) => r.url === DEPLOYMENT_PATH && r.method === 'GET').length).toBeGreaterThan(3);
  });

  it('waits out an API server that fails briefly while the rollout runs', async () => {
    stub = await startApiStub([{ observed: 'new', replicas: 3, updated: 1, available: 2 }, complete]);
    stub.failGets = 2;
    const result = await restartDeployment(target(stub), { timeoutMs: 5_000, pollMs: 10 });
    expect(result.polls).toBe(4);
    expect(stub.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
  });

  it('stays within its time bound when the API server does not answer', async () => {
    // The PATCH itself never returns: the adapter gives up at its deadline.
    stub = await startApiStub();
    stub.hang = true;
    const started = Date.now();
    const err = await restartDeployment(target(stub), { timeoutMs: 300, pollMs: 20 }).catch((e: unknown) => e);
    expect((err as KubernetesRestartError).code).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('fails at once when the rollout exceeded its progress deadline', async () => {
    stub = await startApiStub([{ observed: 'new', replicas: 3, updated: 1, available: 2, deadlineExceeded: true }]);
    const err = await restartDeployment(target(stub), { timeoutMs: 5_000, pollMs: 10 }).catch((e: unknown) => e);
    expect((err as KubernetesRestartError).code).toBe('progress_deadline');
    expect((err as Error).message).toContain('has timed out progressing');
    expect((err as Error).message).toContain('CrashLoopBackOff');
    expect(stub.requests.filter((r) => r.url === DEPLOYMENT_PATH && r.method === 'GET')).toHaveLength(1);
  });

  it('explains a refused request (RBAC) without quoting the token', async () => {
    stub = await startApiStub();
    stub.failWith = { status: 403, message: `deployments.apps "${DEPLOYMENT}" is forbidden: User "system:serviceaccount:caracal-rotation:caracal-roller" cannot patch resource "deployments"` };
    const err = await restartDeployment(target(stub), { timeoutMs: 2_000, pollMs: 10 }).catch((e: unknown) => e);
    expect((err as KubernetesRestartError).code).toBe('auth');
    expect((err as Error).message).toMatch(/403.*cannot patch resource.*needs get and patch/);
    expect((err as Error).message).not.toContain(TOKEN);
  });

  it('reports a missing Deployment and a missing token file', async () => {
    stub = await startApiStub();
    const missing = await restartDeployment({ ...target(stub), deployment: 'nope' }, { timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect((missing as KubernetesRestartError).code).toBe('not_found');
    const before = stub.requests.length;
    const noToken = await restartDeployment({ ...target(stub), token_file: '/nonexistent/token' }, { timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect((noToken as KubernetesRestartError).code).toBe('config');
    expect((noToken as Error).message).toContain('ENOENT');
    expect(stub.requests.length).toBe(before);
  });

  it('finds the API server from the in-cluster service variables', () => {
    expect(apiServerUrl({}, { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '6443' })).toBe('https://10.0.0.1:6443');
    expect(apiServerUrl({}, { KUBERNETES_SERVICE_HOST: 'fd00::1' })).toBe('https://[fd00::1]:443');
    expect(apiServerUrl({ api_server: 'https://k8s.example:6443/' }, {})).toBe('https://k8s.example:6443');
    expect(() => apiServerUrl({}, {})).toThrow(/KUBERNETES_SERVICE_HOST/);
  });

  it('judges a rollout like kubectl rollout status', () => {
    const base = { metadata: { generation: 3 }, spec: { replicas: 2 } };
    expect(rolloutStatus({ ...base, status: { observedGeneration: 3, replicas: 2, updatedReplicas: 2, availableReplicas: 2 } }).done).toBe(true);
    expect(rolloutStatus({ ...base, status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 } }).done).toBe(false);
    // An old pod still counted.
    expect(rolloutStatus({ ...base, status: { observedGeneration: 3, replicas: 3, updatedReplicas: 2, availableReplicas: 2 } }).done).toBe(false);
    // A Deployment scaled to zero is rolled once observed.
    expect(rolloutStatus({ metadata: { generation: 3 }, spec: { replicas: 0 }, status: { observedGeneration: 3 } }).done).toBe(true);
  });
});

describe('the kubernetes variant of the holders file', () => {
  const holder = (restart: unknown) => ({ version: 1, holders: { api: { url: 'http://caracal-api.caracal:3000', restart } } });

  it('parses, with api_server and token_file optional', () => {
    const parsed = holdersConfigSchema.parse(holder({ adapter: 'kubernetes', namespace: 'caracal', deployment: 'caracal-api' }));
    expect(parsed.holders.api!.restart).toEqual({ adapter: 'kubernetes', namespace: 'caracal', deployment: 'caracal-api' });
  });

  it('refuses names that are not Kubernetes names (no path tricks)', () => {
    for (const bad of [
      { namespace: 'caracal', deployment: '../../secrets/x' },
      { namespace: 'Caracal', deployment: 'api' },
      { namespace: 'caracal', deployment: '' },
      { namespace: 'caracal' },
    ]) {
      expect(holdersConfigSchema.safeParse(holder({ adapter: 'kubernetes', ...bad })).success).toBe(false);
    }
    expect(holdersConfigSchema.safeParse(holder({ adapter: 'kubernetes', namespace: 'caracal', deployment: 'api', api_server: 'not a url' })).success).toBe(false);
  });

  it('is what requestRestart uses for a kubernetes holder', async () => {
    const stub = await startApiStub();
    const parsed = holdersConfigSchema.parse(holder({ adapter: 'kubernetes', namespace: NAMESPACE, deployment: DEPLOYMENT, api_server: stub.url, token_file: tokenFile() }));
    await requestRestart('api', parsed.holders.api!.restart, 5_000);
    expect(stub.requests.map((r) => r.method)).toEqual(['PATCH', 'GET']);
  });

  it('rolls a holder end to end: the roller proves the new pods through /health', async () => {
    const stub = await startApiStub([{ observed: 'new', replicas: 3, updated: 1, available: 2 }, complete]);
    const holders = holdersConfigSchema.parse({
      version: 1,
      holders: {
        api: {
          url: stub.url,
          ready_timeout_ms: 5_000,
          restart: { adapter: 'kubernetes', namespace: NAMESPACE, deployment: DEPLOYMENT, api_server: stub.url, token_file: tokenFile() },
        },
      },
    });
    const plan = { holders: [{ service: 'api', roll_group: 0 }] } as unknown as Plan;
    const [rolled] = await rollPlan(plan, 'deploy', holders, { pollMs: 20, restartAttempts: 1 });
    expect(rolled!.ok).toBe(true);
    expect(rolled!.proof!.before).not.toBe(rolled!.proof!.after);
    expect(stub.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
  });
});
