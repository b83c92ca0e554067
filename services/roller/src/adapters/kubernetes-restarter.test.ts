import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { restartAdapterSchema } from '@caracal-rotation/contracts';
import { createWorkloadsDouble, startKubernetesApiDouble, type KubeHandler, type KubernetesApiDouble, type WorkloadSpec, type WorkloadsDouble } from '@caracal-rotation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiServerUrl, type KubernetesTarget } from './kubernetes-client.js';
import { RESTARTED_AT_ANNOTATION, kubernetesRestarter } from './kubernetes-restarter.js';
import type { RestartError } from './restarter.js';

const NS = 'caracal';
const TOKEN = 'test-token-not-a-secret';
const dir = mkdtempSync(path.join(tmpdir(), 'k8s-restarter-'));
const tokenFile = path.join(dir, 'token');
writeFileSync(tokenFile, `${TOKEN}\n`);

let sim: WorkloadsDouble;
let api: KubernetesApiDouble;
beforeAll(async () => {
  sim = createWorkloadsDouble({ stepMs: 5 });
  api = await startKubernetesApiDouble([sim.handler], TOKEN);
});
afterAll(async () => {
  sim.close();
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

function target(kind: 'Deployment' | 'StatefulSet', name: string, extra: Record<string, unknown> = {}): KubernetesTarget {
  const parsed = restartAdapterSchema.parse({ adapter: 'kubernetes', kind, name, namespace: NS, api_server: api.url, token_file: tokenFile, ...extra });
  if (parsed.adapter !== 'kubernetes') throw new Error('not a kubernetes target');
  return parsed;
}
const add = (spec: Omit<WorkloadSpec, 'namespace'>) => sim.add({ namespace: NS, ...spec });
const restarter = (t: KubernetesTarget) => kubernetesRestarter(t, { pollMs: 10 });
const soon = (ms = 10_000) => Date.now() + ms;
const failure = (p: Promise<unknown>) => p.then(() => expect.fail('expected a RestartError'), (e: unknown) => e as RestartError);
const requestsTo = (name: string) => api.requests.filter((r) => r.path.includes(`/${name}`));

describe('the kubernetes restart adapter', () => {
  it('restarts a Deployment as kubectl rollout restart does and proves every pod new, started after the write', async () => {
    add({ kind: 'Deployment', name: 'caracal-api', replicas: 3 });
    const before = sim.pods(NS, { 'app.kubernetes.io/name': 'caracal-api' });
    const writtenAt = new Date();
    const result = await restarter(target('Deployment', 'caracal-api')).restartAndProve({ writtenAt, deadline: soon() });

    const after = sim.pods(NS, { 'app.kubernetes.io/name': 'caracal-api' });
    expect(after).toHaveLength(3);
    expect(after.filter((p) => before.some((b) => b.metadata.uid === p.metadata.uid))).toEqual([]);
    const deployment = sim.workload('Deployment', NS, 'caracal-api')!;
    expect(deployment.metadata.generation).toBe(2);
    const restartedAt = deployment.spec.template.metadata.annotations![RESTARTED_AT_ANNOTATION]!;
    expect(Date.parse(restartedAt)).toBeGreaterThanOrEqual(writtenAt.getTime());

    expect(result.proof.before).toBe(before.map((p) => `${p.metadata.name}@${p.metadata.uid}`).sort().join(', '));
    for (const p of after) expect(result.proof.after).toContain(`${p.metadata.name}@${p.metadata.uid} started ${p.status.containerStatuses[0]!.state.running!.startedAt}`);
    expect(result.proof.detail).toMatch(/^rollout complete \(generation 2 observed 2; 3\/3 updated, 3\/3 available, 3 total\); 3 pod\(s\), none seen before the restart/);
    expect(result.restartedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(requestsTo('caracal-api').filter((r) => r.method === 'PATCH')).toHaveLength(1);
  });

  it('restarts a StatefulSet, waits until the update revision is current, and proves the recreated pods new', async () => {
    add({ kind: 'StatefulSet', name: 'caracal-sts', replicas: 3 });
    const before = new Map(sim.pods(NS, { 'app.kubernetes.io/name': 'caracal-sts' }).map((p) => [p.metadata.name, p.metadata.uid]));
    const result = await restarter(target('StatefulSet', 'caracal-sts')).restartAndProve({ writtenAt: new Date(), deadline: soon() });
    const sts = sim.workload('StatefulSet', NS, 'caracal-sts')!;
    expect(sts.status.currentRevision).toBe(sts.status.updateRevision);
    const after = sim.pods(NS, { 'app.kubernetes.io/name': 'caracal-sts' });
    expect(after.map((p) => p.metadata.name).sort()).toEqual([...before.keys()].sort());
    for (const p of after) expect(p.metadata.uid).not.toBe(before.get(p.metadata.name));
    expect(result.proof.detail).toContain('3/3 ready');
  });

  it('refuses, before patching, a StatefulSet whose strategy would leave old pods running', async () => {
    add({ kind: 'StatefulSet', name: 'caracal-part', replicas: 3, partition: 1 });
    add({ kind: 'StatefulSet', name: 'caracal-ondelete', replicas: 1, updateStrategy: 'OnDelete' });
    const partitioned = await failure(restarter(target('StatefulSet', 'caracal-part')).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
    expect(partitioned.code).toBe('config');
    expect(partitioned.message).toBe('cannot restart statefulset caracal/caracal-part: its rollingUpdate.partition is 1: ordinals below it would keep the old process');
    const onDelete = await failure(restarter(target('StatefulSet', 'caracal-ondelete')).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
    expect(onDelete.message).toContain('its updateStrategy is OnDelete');
    expect(api.requests.filter((r) => r.method === 'PATCH' && /caracal-(part|ondelete)/.test(r.path))).toEqual([]);
  });

  it('does not take a complete rollout as proof while a pod from before is still terminating', async () => {
    // A grace period far longer than the deadline: the controller counts the rollout done, the old pods linger.
    add({ kind: 'Deployment', name: 'caracal-audit', replicas: 1, behaviour: { terminationSteps: 100_000 } });
    const err = await failure(restarter(target('Deployment', 'caracal-audit')).restartAndProve({ writtenAt: new Date(), deadline: soon(1_500) }));
    expect(err.code).toBe('not_restarted');
    expect(err.message).toMatch(/^deployment caracal\/caracal-audit: the rollout is complete \(generation 2 observed 2; 1\/1 updated, 1\/1 available, 1 total\) but pod caracal-audit-\S+ \(UID \S+\) existed before the restart and is still terminating \(since \S+\)$/);
    expect(err.proof?.before).toMatch(/^caracal-audit-\S+@\S+$/);
  });

  it('times out, saying where, when the controller never acts on the patch', async () => {
    add({ kind: 'Deployment', name: 'caracal-coordinator', replicas: 2, behaviour: { controllerStopped: true } });
    const err = await failure(restarter(target('Deployment', 'caracal-coordinator')).restartAndProve({ writtenAt: new Date(), deadline: soon(500) }));
    expect(err.code).toBe('timeout');
    expect(err.message).toMatch(/^rollout of deployment caracal\/caracal-coordinator did not complete before the deadline \(generation 2 observed 1; 2\/2 updated/);
    expect(err.message).toMatch(/existed before the restart and is still running: it was not replaced/);
  });

  it('fails a Deployment past its progress deadline, naming the pod that cannot start', async () => {
    add({ kind: 'Deployment', name: 'caracal-gateway', replicas: 2, behaviour: { newPodsFailWith: 'CrashLoopBackOff', progressDeadlineSteps: 10 } });
    const err = await failure(restarter(target('Deployment', 'caracal-gateway')).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
    expect(err.code).toBe('not_running');
    expect(err.message).toMatch(/^rollout of deployment caracal\/caracal-gateway failed: ReplicaSet "caracal-gateway-\w+" has timed out progressing\. \(generation 2 observed 2; 1\/2 updated, 2\/2 available, 3 total/);
  });

  it('times out on a StatefulSet whose new pod crash-loops, naming it', async () => {
    add({ kind: 'StatefulSet', name: 'caracal-web', replicas: 2, behaviour: { newPodsFailWith: 'CrashLoopBackOff' } });
    const err = await failure(restarter(target('StatefulSet', 'caracal-web')).restartAndProve({ writtenAt: new Date(), deadline: soon(1_500) }));
    expect(err.code).toBe('timeout');
    expect(err.message).toContain('pod caracal-web-1 container caracal-web is not running (CrashLoopBackOff)');
  });

  it('refuses a proof whose pods started before the write', async () => {
    add({ kind: 'Deployment', name: 'caracal-early', replicas: 1 });
    const writtenAt = new Date(Date.now() + 3_600_000);
    const err = await failure(restarter(target('Deployment', 'caracal-early')).restartAndProve({ writtenAt, deadline: soon(500) }));
    expect(err.code).toBe('not_restarted');
    expect(err.message).toContain(`before the write at ${writtenAt.toISOString()}`);
  });

  it('rides out an API server that fails briefly during the rollout', async () => {
    add({ kind: 'Deployment', name: 'caracal-flaky', replicas: 1 });
    let patched = false;
    let failures = 0;
    // After the patch, the next three reads meet a 503, as during an etcd leader change.
    const flakyAfterPatch: KubeHandler = (req) => {
      if (req.method === 'PATCH') patched = true;
      if (!patched || req.method !== 'GET' || failures >= 3) return undefined;
      failures += 1;
      return { status: 503, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'etcdserver: leader changed', reason: 'ServiceUnavailable', code: 503 } };
    };
    const flakyApi = await startKubernetesApiDouble([flakyAfterPatch, sim.handler], TOKEN);
    try {
      const result = await kubernetesRestarter({ ...target('Deployment', 'caracal-flaky'), api_server: flakyApi.url }, { pollMs: 10 }).restartAndProve({ writtenAt: new Date(), deadline: soon() });
      expect(result.proof.detail).toContain('rollout complete');
      expect(failures).toBe(3);
      expect(flakyApi.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
    } finally {
      await flakyApi.close();
    }
  });

  it('explains a refusal by RBAC without quoting the token', async () => {
    const denying = createWorkloadsDouble({ stepMs: 5 });
    denying.add({ kind: 'Deployment', namespace: NS, name: 'caracal-api', replicas: 1 });
    denying.forbid({ verb: 'patch', resource: 'deployments' });
    const api2 = await startKubernetesApiDouble([denying.handler], TOKEN);
    try {
      const err = await failure(kubernetesRestarter({ ...target('Deployment', 'caracal-api'), api_server: api2.url }).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
      expect(err.code).toBe('refused');
      expect(err.message).toMatch(/^restart deployment caracal\/caracal-api: the API server answered 403 \(deployments\.apps "caracal-api" is forbidden: User "\S+" cannot patch resource "deployments"/);
      expect(err.message).toContain('needs get and patch on the workload and list on pods');
      expect(err.message).not.toContain(TOKEN);
    } finally {
      denying.close();
      await api2.close();
    }
  });

  it('reports a workload that does not exist, a wrong token and a missing token file', async () => {
    const missing = await failure(restarter(target('StatefulSet', 'caracal-api')).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
    expect(missing.code).toBe('not_found');
    expect(missing.message).toBe('read statefulset caracal/caracal-api: not found (statefulsets.apps "caracal-api" not found)');

    const wrongToken = path.join(dir, 'wrong-token');
    writeFileSync(wrongToken, 'not-the-token');
    const refused = await failure(restarter(target('Deployment', 'caracal-api', { token_file: wrongToken })).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
    expect(refused.code).toBe('refused');
    expect(refused.message).toContain('refused the service account token (401');
    expect(refused.message).not.toContain('not-the-token');

    const count = api.requests.length;
    const noToken = await failure(restarter(target('Deployment', 'caracal-api', { token_file: path.join(dir, 'absent') })).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
    expect(noToken.code).toBe('config');
    expect(noToken.message).toBe(`service account token file ${path.join(dir, 'absent')} cannot be read (ENOENT)`);
    expect(api.requests.length).toBe(count);
  });

  it('finds the API server from the in-cluster service variables', () => {
    expect(apiServerUrl({}, { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '6443' })).toBe('https://10.0.0.1:6443');
    expect(apiServerUrl({}, { KUBERNETES_SERVICE_HOST: 'fd00::1' })).toBe('https://[fd00::1]:443');
    expect(apiServerUrl({ api_server: 'https://k8s.example:6443/' }, {})).toBe('https://k8s.example:6443');
    expect(() => apiServerUrl({}, {})).toThrow(/KUBERNETES_SERVICE_HOST/);
  });
});

let openssl = true;
try {
  execFileSync('openssl', ['version'], { stdio: 'ignore' });
} catch {
  openssl = false;
}

describe.skipIf(!openssl)('the kubernetes restart adapter over TLS (needs openssl to make a certificate)', () => {
  let tlsApi: KubernetesApiDouble;
  let tlsSim: WorkloadsDouble;
  let caFile: string;
  beforeAll(async () => {
    const key = path.join(dir, 'tls.key');
    caFile = path.join(dir, 'tls.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', caFile, '-days', '1', '-subj', '/CN=kubernetes', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    tlsSim = createWorkloadsDouble({ stepMs: 5 });
    tlsSim.add({ kind: 'Deployment', namespace: NS, name: 'caracal-api', replicas: 1 });
    tlsApi = await startKubernetesApiDouble([tlsSim.handler], TOKEN, { tls: { key: readFileSync(key, 'utf8'), cert: readFileSync(caFile, 'utf8') } });
  });
  afterAll(async () => {
    tlsSim.close();
    await tlsApi.close();
  });

  it('trusts the API server through ca_file', async () => {
    const t = { ...target('Deployment', 'caracal-api'), api_server: tlsApi.url, ca_file: caFile };
    const result = await kubernetesRestarter(t, { pollMs: 10 }).restartAndProve({ writtenAt: new Date(), deadline: soon() });
    expect(result.proof.detail).toContain('rollout complete');
  });

  it('says how to fix an untrusted certificate', async () => {
    const t = { ...target('Deployment', 'caracal-api'), api_server: tlsApi.url };
    const err = await failure(kubernetesRestarter(t).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
    expect(err.code).toBe('config');
    expect(err.message).toMatch(/certificate is not trusted \(\w+\); name its CA with ca_file/);
  });

  it('uses the service account CA by default in the cluster', async () => {
    const { ca_file: _, api_server: __, ...inCluster } = target('Deployment', 'caracal-api');
    const port = new URL(tlsApi.url).port;
    const err = await failure(
      kubernetesRestarter(inCluster, { env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port } }).restartAndProve({ writtenAt: new Date(), deadline: soon() }),
    );
    // This machine has no service account: the default CA file is what is missing.
    expect(err.message).toBe('API server CA file /var/run/secrets/kubernetes.io/serviceaccount/ca.crt cannot be read (ENOENT)');
  });
});
