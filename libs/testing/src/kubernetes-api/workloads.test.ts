import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubernetesApiDouble, type KubernetesApiDouble } from './server.js';
import { createWorkloadsDouble, type PodObject, type WorkloadObject, type WorkloadsDouble } from './workloads.js';

const NS = 'caracal';
let sim: WorkloadsDouble;
let api: KubernetesApiDouble;

beforeAll(async () => {
  sim = createWorkloadsDouble({ stepMs: 5 });
  api = await startKubernetesApiDouble([sim.handler]);
});
afterAll(async () => {
  sim.close();
  await api.close();
});

async function kube<T = WorkloadObject & { message?: string; reason?: string }>(method: string, path: string, body?: unknown, contentType = 'application/strategic-merge-patch+json') {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${api.token}`, ...(body !== undefined ? { 'content-type': contentType } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
}

const restartPatch = (at: string) => ({ spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': at } } } } });
const podsOf = async (selector: string) => (await kube<{ items: PodObject[] }>('GET', `/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent(selector)}`)).body.items;

describe('the workloads double', () => {
  it('rolls a Deployment after a restart patch: new generation, surge, new pods, old ones gone', async () => {
    sim.add({ kind: 'Deployment', namespace: NS, name: 'caracal-api', replicas: 2 });
    const path = `/apis/apps/v1/namespaces/${NS}/deployments/caracal-api`;
    const before = await podsOf('app.kubernetes.io/name=caracal-api');
    expect(before).toHaveLength(2);
    expect(before.every((p) => p.status.containerStatuses[0]!.state.running)).toBe(true);

    const patched = await kube('PATCH', path, restartPatch('2026-05-01T12:00:00Z'));
    expect(patched.status).toBe(200);
    expect(patched.body.metadata.generation).toBe(2);
    expect(patched.body.spec.template.metadata.annotations).toEqual({ 'kubectl.kubernetes.io/restartedAt': '2026-05-01T12:00:00Z' });

    const done = await until(
      async () => (await kube('GET', path)).body,
      (d) => d.status.observedGeneration === 2 && d.status.updatedReplicas === 2 && d.status.availableReplicas === 2 && d.status.replicas === 2,
    );
    // maxSurge 1, maxUnavailable 0: a new pod first, then an old one goes, and again.
    const actions = sim.podActions.filter((a) => a.owner === 'caracal-api');
    expect(actions.map((a) => a.action)).toEqual(['create', 'delete', 'create', 'delete']);
    expect(actions.filter((a) => a.action === 'delete').map((a) => a.uid).sort()).toEqual(before.map((p) => p.metadata.uid).sort());
    expect(done.status.conditions).toContainEqual(expect.objectContaining({ type: 'Progressing', reason: 'NewReplicaSetAvailable' }));
    const after = await until(
      () => podsOf('app.kubernetes.io/name=caracal-api'),
      (pods) => pods.length === 2,
    );
    const oldUids = new Set(before.map((p) => p.metadata.uid));
    expect(after.every((p) => !oldUids.has(p.metadata.uid))).toBe(true);
    expect(after.every((p) => p.metadata.annotations?.['kubectl.kubernetes.io/restartedAt'] === '2026-05-01T12:00:00Z')).toBe(true);
    for (const p of after) expect(p.status.containerStatuses[0]!.state.running!.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('rolls a StatefulSet from the highest ordinal down, keeping pod names, and makes the update revision current', async () => {
    sim.add({ kind: 'StatefulSet', namespace: NS, name: 'caracal-sts', replicas: 3 });
    const path = `/apis/apps/v1/namespaces/${NS}/statefulsets/caracal-sts`;
    const before = await podsOf('app.kubernetes.io/name=caracal-sts');
    const initial = (await kube('GET', path)).body.status;
    expect(initial.currentRevision).toBe(initial.updateRevision);

    await kube('PATCH', path, restartPatch('2026-05-01T12:00:00Z'), 'application/merge-patch+json');
    const done = await until(
      async () => (await kube('GET', path)).body.status,
      (s) => s.observedGeneration === 2 && s.updatedReplicas === 3 && s.readyReplicas === 3 && s.currentRevision === s.updateRevision,
    );
    expect(done.updateRevision).not.toBe(initial.updateRevision);
    const actions = sim.podActions.filter((a) => a.owner === 'caracal-sts').map((a) => `${a.action} ${a.name}`);
    // One pod at a time: deleted, recreated under its name, ready, then the next lower ordinal.
    expect(actions).toEqual(['delete caracal-sts-2', 'create caracal-sts-2', 'delete caracal-sts-1', 'create caracal-sts-1', 'delete caracal-sts-0', 'create caracal-sts-0']);
    const after = await podsOf('statefulset.kubernetes.io/pod-name in (caracal-sts-0,caracal-sts-1,caracal-sts-2)');
    expect(after.map((p) => p.metadata.name).sort()).toEqual(before.map((p) => p.metadata.name).sort());
    expect(after.some((p) => before.some((b) => b.metadata.uid === p.metadata.uid))).toBe(false);
  });

  it('leaves the ordinals below a partition alone', async () => {
    sim.add({ kind: 'StatefulSet', namespace: NS, name: 'caracal-part', replicas: 3, partition: 2 });
    const path = `/apis/apps/v1/namespaces/${NS}/statefulsets/caracal-part`;
    const before = new Map((await podsOf('app.kubernetes.io/name=caracal-part')).map((p) => [p.metadata.name, p.metadata.uid]));
    await kube('PATCH', path, restartPatch('x'));
    await until(
      async () => (await kube('GET', path)).body.status,
      (s) => s.observedGeneration === 2 && s.updatedReplicas === 1 && s.readyReplicas === 3,
    );
    const after = new Map((await podsOf('app.kubernetes.io/name=caracal-part')).map((p) => [p.metadata.name, p.metadata.uid]));
    expect(after.get('caracal-part-0')).toBe(before.get('caracal-part-0'));
    expect(after.get('caracal-part-1')).toBe(before.get('caracal-part-1'));
    expect(after.get('caracal-part-2')).not.toBe(before.get('caracal-part-2'));
  });

  it('reports pods that cannot start and a Deployment that exceeded its progress deadline', async () => {
    sim.add({ kind: 'Deployment', namespace: NS, name: 'caracal-gateway', replicas: 2, behaviour: { newPodsFailWith: 'CrashLoopBackOff', progressDeadlineSteps: 5 } });
    const path = `/apis/apps/v1/namespaces/${NS}/deployments/caracal-gateway`;
    await kube('PATCH', path, restartPatch('x'));
    const d = await until(
      async () => (await kube('GET', path)).body,
      (x) => (x.status.conditions as { reason: string }[] | undefined)?.some((c) => c.reason === 'ProgressDeadlineExceeded') ?? false,
    );
    expect(d.status).toMatchObject({ observedGeneration: 2, replicas: 3, updatedReplicas: 1, availableReplicas: 2 });
    const waiting = (await podsOf('app.kubernetes.io/name=caracal-gateway')).flatMap((p) => p.status.containerStatuses.map((c) => c.state.waiting?.reason)).filter(Boolean);
    expect(waiting).toEqual(['CrashLoopBackOff']);
  });

  it('answers errors with Status objects, as the API server does', async () => {
    sim.add({ kind: 'Deployment', namespace: NS, name: 'caracal-web', replicas: 1 });
    const path = `/apis/apps/v1/namespaces/${NS}/deployments/caracal-web`;
    const missing = await kube('GET', `/apis/apps/v1/namespaces/${NS}/statefulsets/caracal-web`);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ kind: 'Status', reason: 'NotFound', message: 'statefulsets.apps "caracal-web" not found' });

    const stale = await kube('PATCH', path, { metadata: { resourceVersion: '1' }, ...restartPatch('x') });
    expect(stale.status).toBe(409);
    expect(stale.body.message).toContain('the object has been modified');

    const jsonPatch = await kube('PATCH', path, [{ op: 'add', path: '/x', value: 1 }], 'application/json-patch+json');
    expect(jsonPatch.status).toBe(415);

    const selector = await kube('PATCH', path, { spec: { selector: { matchLabels: { other: 'x' } } } });
    expect(selector.status).toBe(422);
    expect(selector.body.message).toContain('field is immutable');

    sim.forbid({ verb: 'patch', resource: 'deployments' });
    const denied = await kube('PATCH', path, restartPatch('x'));
    expect(denied.status).toBe(403);
    expect(denied.body.message).toBe(
      'deployments.apps "caracal-web" is forbidden: User "system:serviceaccount:caracal-rotation:caracal-roller" cannot patch resource "deployments" in API group "apps" in the namespace "caracal"',
    );
    expect((await kube('GET', path)).body.metadata.generation).toBe(1);
  });
});
