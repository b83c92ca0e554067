import { CARACAL_SERVICES, type CaracalService } from '@caracal-rotation/contracts';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CARACAL_PORTS, HELM_RELEASE, HELM_RUNTIME_SECRET, helmPodLabels, helmWorkload } from './caracal.js';
import { Rendered, envOf, secretFiles, type NetworkPolicy, type Role, type Volume } from './k8s-objects.js';
import { type K8sObject, type LabelSelector, SERVICES, type ServiceName, kustomize, repoFile, secretProblem, selects } from './support.js';
import { HelmOverlayTarget, OVERLAY } from './wiring.js';

const BASE = 'deploy/k8s/base';
const NAMESPACE = 'caracal';
const base = new Rendered(kustomize(BASE));
const overlayTarget = new HelmOverlayTarget();
const overlay = overlayTarget.rendered;

/** Files of the orchestrator's own Secrets a volume projects (a whole Secret as `*<name>`). */
const rotationFiles = (volume: Volume | undefined): string[] => [...secretFiles(volume ?? { name: '' }).keys()].sort();

/** Both renderings share what the base gives every pod. */
describe.each([
  ['the base', base],
  ['the beside-helm overlay', overlay],
] as const)('%s', (_name, r) => {
  it('runs the five services, two replicas each, each with its own entry point', () => {
    expect(r.deployments.map((d) => d.metadata.name).sort()).toEqual(SERVICES.map((s) => `caracal-rotation-${s}`).sort());
    for (const service of SERVICES) {
      const d = r.deployment(service);
      expect(d.spec.replicas, service).toBe(2);
      expect(r.main(service).args, service).toEqual([`services/${service}/dist/main.js`]);
      expect(selects(d.spec.selector, r.podLabels(service)), service).toBe(true);
      expect(d.metadata.namespace, service).toBe(NAMESPACE);
    }
    // Nothing cluster-wide, nothing outside Caracal's namespace.
    for (const o of r.objects) expect(o.kind.startsWith('Cluster'), `${o.kind}/${o.metadata.name}`).toBe(false);
    for (const o of r.objects) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(NAMESPACE);
  });

  it('probes liveness and startup on /health and readiness on /ready of HTTP_PORT, bound to every interface', () => {
    for (const service of SERVICES) {
      const c = r.main(service);
      const env = envOf(c);
      expect(c.ports?.find((p) => p.name === 'http')?.containerPort, service).toBe(Number(env.HTTP_PORT));
      expect(env.HTTP_HOST, service).toBe('0.0.0.0');
      expect(c.startupProbe?.httpGet, service).toEqual({ path: '/health', port: 'http' });
      expect(c.livenessProbe?.httpGet, service).toEqual({ path: '/health', port: 'http' });
      expect(c.readinessProbe?.httpGet, service).toEqual({ path: '/ready', port: 'http' });
    }
  });

  it('has a PodDisruptionBudget and a Service per Deployment, and a ServiceMonitor over the Services', () => {
    const pdbs = r.ofKind<K8sObject & { spec: { selector: LabelSelector; minAvailable?: number } }>('PodDisruptionBudget');
    const services = r.ofKind<K8sObject & { spec: { selector: Record<string, string>; ports: { name: string; targetPort: string }[] } }>('Service');
    const monitors = r.ofKind<K8sObject & { spec: { selector: LabelSelector; endpoints: { port: string; path: string }[] } }>('ServiceMonitor');
    expect(monitors).toHaveLength(1);
    expect(monitors[0]!.spec.endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics' })]);
    for (const service of SERVICES) {
      const labels = r.podLabels(service);
      const pdb = pdbs.filter((p) => selects(p.spec.selector, labels));
      expect(pdb, service).toHaveLength(1);
      expect(pdb[0]!.spec.minAvailable, service).toBe(1);
      const svc = services.filter((s) => selects({ matchLabels: s.spec.selector }, labels));
      expect(svc, service).toHaveLength(1);
      expect(svc[0]!.metadata.name, service).toBe(`caracal-rotation-${service}`);
      expect(svc[0]!.spec.ports.map((p) => [p.name, p.targetPort]), service).toEqual([['http', 'http']]);
      expect(selects(monitors[0]!.spec.selector, svc[0]!.metadata.labels ?? {}), service).toBe(true);
    }
  });

  it('runs every container as non-root on a read-only root file system, without privileges (Pod Security "restricted")', () => {
    for (const service of SERVICES) {
      const pod = r.pod(service);
      expect(pod.securityContext, service).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } });
      for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
        expect(c.securityContext, `${service}/${c.name}`).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
      }
      expect(r.mountAt(service, '/tmp/x')?.volume.emptyDir, service).toBeDefined();
      for (const v of pod.volumes ?? []) expect(v.hostPath ?? v.persistentVolumeClaim, `${service}: ${v.name}`).toBeUndefined();
    }
  });

  it('gives an API token to the secret-writer and the roller only, each with a service account of its own', () => {
    const accounts = new Map<string, ServiceName[]>();
    for (const service of SERVICES) {
      const pod = r.pod(service);
      expect(pod.automountServiceAccountToken, service).toBe(service === 'secret-writer' || service === 'roller');
      accounts.set(pod.serviceAccountName!, [...(accounts.get(pod.serviceAccountName!) ?? []), service]);
    }
    expect(accounts.get('caracal-rotation-secret-writer')).toEqual(['secret-writer']);
    expect(accounts.get('caracal-rotation-roller')).toEqual(['roller']);
    expect(r.ofKind('ServiceAccount').map((s) => s.metadata.name).sort()).toEqual([...accounts.keys()].sort());
  });

  it('takes the bus Redis and the projection database from the connections Secret, as files; the database everywhere but the secret-writer', () => {
    for (const service of SERVICES) {
      const env = r.env(service);
      expect(env.REDIS_URL, service).toBeUndefined();
      const redis = r.mountAt(service, env.REDIS_URL_FILE!);
      expect(redis?.volume.secret?.secretName, service).toBe('caracal-rotation-connections');
      expect(redis?.mount.readOnly, service).toBe(true);
      const keys = redis!.volume.secret!.items!.map((i) => i.key);
      expect(keys, service).toEqual(service === 'secret-writer' ? ['REDIS_URL'] : ['REDIS_URL', 'DATABASE_URL']);
      expect(env.DATABASE_URL_FILE !== undefined, service).toBe(service !== 'secret-writer');
    }
  });

  it("mounts of the orchestrator's directory exactly what each service reads", () => {
    const expected: Record<ServiceName, string[]> = {
      planner: ['busKey', 'busKeyPrevious', 'zoneReaderToken', '*caracal-rotation-operators'],
      recorder: ['busKey', 'busKeyPrevious', '*caracal-rotation-operators'],
      roller: ['busKey', 'busKeyPrevious'],
      verifier: ['busKey', 'busKeyPrevious'],
      'secret-writer': ['busKey', 'busKeyPrevious'],
    };
    for (const service of SERVICES) {
      const dir = r.env(service).CARACAL_ROTATION_DIR!;
      if (service === 'secret-writer') {
        // A private copy (the writer's rotation store refuses a Secret mount's directory), filled
        // by the init container from the Secret before the writer starts.
        const copy = r.mountAt(service, dir);
        expect(copy?.volume.emptyDir, service).toBeDefined();
        const [init] = r.pod(service).initContainers ?? [];
        const source = init!.volumeMounts!.find((m) => m.name !== copy!.mount.name)!;
        expect(init!.volumeMounts!.find((m) => m.name === copy!.mount.name)?.mountPath).toBe(copy!.mount.mountPath);
        expect(init!.command!.join(' ')).toContain(dir);
        expect(rotationFiles(r.volume(service, source.name)), service).toEqual(expected[service].sort());
      } else {
        const found = r.mountAt(service, `${dir}/busKey`);
        expect(found?.mount.mountPath, service).toBe(dir);
        expect(found?.mount.readOnly, service).toBe(true);
        expect(rotationFiles(found?.volume), service).toEqual([...expected[service]].sort());
      }
    }
    // The bus key is required; what exists only at times (the previous key) or not everywhere is optional.
    const files = secretFiles(r.volume('planner', 'rotation')!);
    expect(files.get('busKey')).toEqual({ secret: 'caracal-rotation', key: 'busKey', optional: false });
    expect(files.get('busKeyPrevious')?.optional).toBe(true);
    expect(files.get('zoneReaderToken')?.optional).toBe(true);
  });

  it('hands the holders file and the catalog to the services that read them', () => {
    for (const service of SERVICES) {
      const env = r.env(service);
      expect(env.CARACAL_HOLDERS !== undefined, service).toBe(service !== 'recorder');
      expect(env.CARACAL_CATALOG !== undefined, service).toBe(['planner', 'secret-writer', 'recorder'].includes(service));
      if (env.CARACAL_HOLDERS) expect(r.mountAt(service, env.CARACAL_HOLDERS)?.volume.configMap?.name, service).toMatch(/^caracal-rotation-holders(-[a-z0-9]+)?$/);
      if (env.CARACAL_CATALOG) expect(r.mountAt(service, env.CARACAL_CATALOG)?.volume.configMap?.name, service).toMatch(/^caracal-rotation-catalog(-[a-z0-9]+)?$/);
    }
  });

  it('denies all traffic to and from our pods but what a policy allows, and admits only Prometheus', () => {
    const policies = r.ofKind<NetworkPolicy>('NetworkPolicy');
    const deny = policies.filter((p) => !p.spec.ingress && !p.spec.egress && p.spec.policyTypes?.includes('Ingress') && p.spec.policyTypes.includes('Egress'));
    expect(deny).toHaveLength(1);
    for (const service of SERVICES) expect(selects(deny[0]!.spec.podSelector, r.podLabels(service)), service).toBe(true);
    // Policies select only our pods, never Caracal's.
    for (const p of policies) expect(p.spec.podSelector.matchLabels?.['app.kubernetes.io/part-of'], p.metadata.name).toBe('caracal-rotation');
    for (const service of SERVICES) {
      const ingress = r.policiesOf(service, 'Ingress').flatMap((p) => p.spec.ingress ?? []);
      expect(ingress, service).toEqual([{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: 'http' }] }]);
    }
  });

  it('holds no secret value', () => {
    for (const d of r.deployments) {
      for (const c of [...(d.spec.template.spec.initContainers ?? []), ...d.spec.template.spec.containers]) {
        for (const e of c.env ?? []) expect(secretProblem(e.name, e.value), `${d.metadata.name}/${c.name}: ${e.name}`).toBeUndefined();
      }
    }
    expect(r.ofKind('Secret')).toEqual([]);
  });
});

describe('the base alone', () => {
  it("knows nothing of Caracal's deployment: no Caracal Secret, no RBAC, no egress beyond DNS", () => {
    for (const service of SERVICES) {
      expect(JSON.stringify(base.pod(service)), service).not.toContain(HELM_RUNTIME_SECRET);
      expect(base.egressPorts(service), service).toEqual([53]);
    }
    expect(base.ofKind('Role')).toEqual([]);
    expect(base.ofKind('ConfigMap')).toEqual([]);
    expect(base.ofKind('PersistentVolumeClaim')).toEqual([]);
    expect(base.env('secret-writer').CARACAL_SECRET_STORE).toBe('kubernetes');
  });
});

describe('the beside-helm overlay', () => {
  const kustomization = parse(repoFile(`${OVERLAY}/kustomization.yaml`)) as { images: { name: string; newName: string; newTag: string }[] };
  const holders = overlayTarget.holders;

  it('runs the image it names, and generates the holders and catalog ConfigMaps the pods mount', () => {
    const [image] = kustomization.images;
    for (const d of overlay.deployments) {
      for (const c of [...(d.spec.template.spec.initContainers ?? []), ...d.spec.template.spec.containers]) expect(c.image, d.metadata.name).toBe(`${image!.newName}:${image!.newTag}`);
    }
    const maps = overlay.ofKind('ConfigMap').map((c) => c.metadata.name);
    for (const service of SERVICES) {
      for (const v of overlay.pod(service).volumes ?? []) if (v.configMap) expect(maps, `${service}: ${v.name}`).toContain(v.configMap.name);
    }
    expect(JSON.parse(overlayTarget.configMapFile('planner', 'CARACAL_HOLDERS'))).toEqual(JSON.parse(repoFile(`${OVERLAY}/holders.json`)));
    expect(overlayTarget.configMapFile('secret-writer', 'CARACAL_CATALOG')).toBe(repoFile(`${OVERLAY}/catalog.json`));
  });

  it("puts the secret-writer on the Kubernetes Secret store of Caracal's runtime Secret, allowed get and patch on exactly two Secrets", () => {
    const env = overlay.env('secret-writer');
    expect(env).toMatchObject({ CARACAL_SECRET_STORE: 'kubernetes', CARACAL_K8S_SECRET: HELM_RUNTIME_SECRET, CARACAL_K8S_HISTORY_SECRET: 'caracal-rotation-history', CARACAL_K8S_CREATE_HISTORY_SECRET: 'false' });
    const roles = overlay.rolesOf('caracal-rotation-secret-writer', NAMESPACE);
    expect(roles.flatMap((r) => r.rules)).toEqual([{ apiGroups: [''], resources: ['secrets'], resourceNames: [HELM_RUNTIME_SECRET, 'caracal-rotation-history'], verbs: ['get', 'patch'] }]);
    expect(overlay.may('secret-writer', 'create', '', 'secrets')).toBe(false);
    expect(overlay.may('secret-writer', 'get', '', 'secrets', 'some-other-secret')).toBe(false);
    // No volume of Caracal's secrets in the writer: it reads and writes through the API server.
    expect(JSON.stringify(overlay.pod('secret-writer').volumes)).not.toContain(HELM_RUNTIME_SECRET);
  });

  it("lets the roller get and patch exactly the chart's workloads the holders file names, and list pods", () => {
    const rules = overlay.rolesOf('caracal-rotation-roller', NAMESPACE).flatMap((r: Role) => r.rules);
    const named = (kind: string) =>
      CARACAL_SERVICES.map((s) => holders.services[s]!.restart)
        .filter((r) => r.adapter === 'kubernetes' && r.kind === kind)
        .map((r) => (r.adapter === 'kubernetes' ? r.name : ''))
        .sort();
    expect(rules.map((r) => ({ ...r, resourceNames: r.resourceNames && [...r.resourceNames].sort() }))).toEqual([
      { apiGroups: ['apps'], resources: ['deployments'], resourceNames: named('Deployment'), verbs: ['get', 'patch'] },
      { apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: named('StatefulSet'), verbs: ['get', 'patch'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
    ]);
    for (const service of CARACAL_SERVICES) {
      const restart = holders.services[service]!.restart;
      expect(restart.adapter === 'kubernetes' && { kind: restart.kind, name: restart.name, namespace: restart.namespace }, service).toEqual({ ...helmWorkload(HELM_RELEASE.name, service), namespace: HELM_RELEASE.namespace });
    }
  });

  it("mounts Caracal's runtime Secret read-only in the verifier (every key) and in the recorder (two keys), and nowhere else", () => {
    const runtime = (service: ServiceName) => overlay.pod(service).volumes?.find((v) => v.secret?.secretName === HELM_RUNTIME_SECRET);
    expect(SERVICES.filter((s) => runtime(s))).toEqual(['verifier', 'recorder']);
    expect(runtime('verifier')!.secret!.items).toBeUndefined();
    expect(runtime('recorder')!.secret!.items).toEqual([
      { key: 'streamsHmacKey', path: 'streamsHmacKey' },
      { key: 'redisUrl', path: 'redisUrl' },
    ]);
    for (const service of ['verifier', 'recorder'] as const) {
      const env = overlay.env(service);
      const mount = overlay.mountAt(service, `${env.CARACAL_SECRETS_DIR}/redisUrl`)!;
      expect(mount.volume.secret?.secretName, service).toBe(HELM_RUNTIME_SECRET);
      expect(mount.mount.readOnly, service).toBe(true);
      expect(mount.mount.mountPath, service).toBe(env.CARACAL_SECRETS_DIR);
      expect(env.CARACAL_REDIS_URL_FILE, service).toBe(`${env.CARACAL_SECRETS_DIR}/redisUrl`);
    }
  });

  it("reaches Caracal's pods by the chart's labels, each service only the ones it needs, on their ports", () => {
    const reaches = (service: ServiceName) => CARACAL_SERVICES.filter((c) => overlay.egressToPod(service, helmPodLabels(HELM_RELEASE.name, c), CARACAL_PORTS[c]));
    expect(reaches('planner')).toEqual(['api']);
    expect(reaches('secret-writer')).toEqual(['sts']);
    expect(reaches('roller')).toEqual([...CARACAL_SERVICES]);
    expect(reaches('verifier')).toEqual([...CARACAL_SERVICES]);
    expect(reaches('recorder')).toEqual([]);
    // A rule towards Caracal names one component, on that component's port only.
    for (const p of overlay.ofKind<NetworkPolicy>('NetworkPolicy')) {
      for (const rule of p.spec.egress ?? []) {
        const component = rule.to?.map((peer) => peer.podSelector?.matchLabels?.['app.kubernetes.io/component']).find((c) => CARACAL_SERVICES.includes(c as CaracalService));
        if (component) expect(rule.ports?.map((x) => x.port), p.metadata.name).toEqual([CARACAL_PORTS[component as CaracalService]]);
      }
    }
  });

  it('allows each service exactly the egress ports it needs', () => {
    const expected: Record<ServiceName, number[]> = {
      planner: [53, 3000, 5432, 6379],
      'secret-writer': [53, 443, 5432, 6379, 6443, 8080],
      roller: [53, 443, 3000, 3002, 4000, 5432, 6379, 6443, 8080, 8081, 9090],
      verifier: [53, 3000, 3002, 4000, 5432, 6379, 8080, 8081, 9090],
      recorder: [53, 5432, 6379],
    };
    for (const service of SERVICES) expect(overlay.egressPorts(service), service).toEqual(expected[service]);
    // The API server: the two services with a token, no other.
    for (const service of SERVICES) expect(overlay.egressToAddress(service, 443), service).toBe(service === 'secret-writer' || service === 'roller');
  });

  it("has Caracal's release admit our planner, writer, roller and verifier, and keeps the previous KEK wired", () => {
    const values = overlayTarget.values;
    expect(values.secrets?.kekRotation).toBe(true);
    expect(values.secrets?.stsAdminToken).toEqual({ secretName: HELM_RUNTIME_SECRET, key: holders.zones!.admin_token_file });
    const [rule] = values.networkPolicy!.extraIngress!;
    const admitted = SERVICES.filter((s) => selects(rule!.from![0]!.podSelector, overlay.podLabels(s)));
    expect(admitted).toEqual(['planner', 'secret-writer', 'roller', 'verifier']);
    expect(rule!.ports!.map((p) => p.port).sort()).toEqual(Object.values(CARACAL_PORTS).sort());
  });

  it('ships the alert rules as a PrometheusRule and the dashboard as a ConfigMap', () => {
    const [rule] = overlay.ofKind<K8sObject & { spec: { groups: unknown } }>('PrometheusRule');
    expect(rule!.spec.groups).toEqual((parse(repoFile('deploy/prometheus/alerts.yaml')) as { groups: unknown }).groups);
    const dashboard = overlay.ofKind<K8sObject & { data: Record<string, string> }>('ConfigMap').find((c) => c.metadata.name === 'caracal-rotation-dashboard');
    expect(dashboard?.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(dashboard!.data['rotation-dashboard.json']!)).toEqual(JSON.parse(repoFile('deploy/grafana/rotation-dashboard.json')));
  });
});

