import { holdersConfigSchema } from '@caracal-rotation/contracts';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type K8sObject, type LabelSelector, SERVICES, type ServiceName, listFiles, loadManifests, repoFile, repoHas, secretProblem, selects } from './support.js';

const BASE = 'deploy/k8s/base';
const NAMESPACE = 'caracal';
const SA_CA = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';

interface Probe {
  httpGet?: { path?: string; port?: string | number };
}
interface Container {
  name: string;
  image?: string;
  args?: string[];
  command?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; runAsNonRoot?: boolean; capabilities?: { drop?: string[]; add?: string[] } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface Volume {
  name: string;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  emptyDir?: object;
  configMap?: { name: string };
  secret?: { secretName: string };
}
interface Deployment extends K8sObject {
  spec: {
    replicas?: number;
    selector: LabelSelector;
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        serviceAccountName?: string;
        automountServiceAccountToken?: boolean;
        securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
        initContainers?: Container[];
        containers: Container[];
        volumes?: Volume[];
      };
    };
  };
}
interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs?: string[];
}
interface NetworkPolicy extends K8sObject {
  spec: {
    podSelector: LabelSelector;
    policyTypes?: string[];
    ingress?: unknown[];
    egress?: { to?: unknown[]; ports?: { port?: number | string; protocol?: string }[] }[];
  };
}

const kustomization = parse(repoFile(`${BASE}/kustomization.yaml`)) as {
  namespace?: string;
  resources: string[];
  configMapGenerator?: { name: string; files: string[] }[];
  images?: { name: string }[];
};
const files = listFiles(BASE, '.yaml').filter((f) => f !== 'kustomization.yaml');
const objects = files.flatMap((f) => loadManifests(`${BASE}/${f}`));
const ofKind = <T extends K8sObject>(kind: string) => objects.filter((o) => o.kind === kind) as T[];
const deployments = ofKind<Deployment>('Deployment');
const deployment = (service: ServiceName): Deployment => {
  const d = deployments.find((x) => x.metadata.name === `caracal-rotation-${service}`);
  if (!d) throw new Error(`no Deployment for ${service}`);
  return d;
};
const main = (d: Deployment): Container => d.spec.template.spec.containers[0]!;
const allContainers = (d: Deployment): Container[] => [...(d.spec.template.spec.initContainers ?? []), ...d.spec.template.spec.containers];
const envOf = (c: Container): Record<string, string | undefined> => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
const secretsVolume = (d: Deployment): Volume | undefined => d.spec.template.spec.volumes?.find((v) => v.persistentVolumeClaim?.claimName === 'caracal-secrets');
const holdersFile = holdersConfigSchema.parse(JSON.parse(repoFile(`${BASE}/holders.json`)));

describe('deploy/k8s/base', () => {
  it('is a kustomize base that lists every manifest in the folder', () => {
    expect([...kustomization.resources].sort()).toEqual(files);
    expect(kustomization.namespace).toBe(NAMESPACE);
    for (const o of objects) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(NAMESPACE);
    const generated = kustomization.configMapGenerator?.find((g) => g.name === 'caracal-rotation-holders');
    expect(generated?.files).toEqual(['holders.json']);
    // Nothing cluster-wide: the roller's rights stop at Caracal's namespace.
    expect(objects.filter((o) => o.kind.startsWith('Cluster'))).toEqual([]);
  });

  it('runs each of the five services from one image, at least two replicas each', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(SERVICES.map((s) => `caracal-rotation-${s}`).sort());
    const images = new Set(deployments.flatMap((d) => allContainers(d).map((c) => c.image)));
    expect(images).toEqual(new Set(['caracal-rotation']));
    expect(kustomization.images?.map((i) => i.name)).toEqual(['caracal-rotation']);
    for (const service of SERVICES) {
      const d = deployment(service);
      expect(d.spec.replicas, service).toBeGreaterThanOrEqual(2);
      expect(main(d).args, service).toEqual([`services/${service}/dist/main.js`]);
      expect(repoHas(`services/${service}/src/main.ts`)).toBe(true); // compiled to dist/main.js in the image
      expect(selects(d.spec.selector, d.spec.template.metadata.labels), service).toBe(true);
    }
  });

  it('probes liveness on /health and readiness on /ready of HTTP_PORT', () => {
    for (const service of SERVICES) {
      const c = main(deployment(service));
      const env = envOf(c);
      const http = c.ports?.find((p) => p.name === 'http');
      expect(http?.containerPort, service).toBe(Number(env.HTTP_PORT));
      expect(env.HTTP_HOST, service).toBe('0.0.0.0');
      expect(c.livenessProbe?.httpGet, service).toEqual({ path: '/health', port: 'http' });
      expect(c.readinessProbe?.httpGet, service).toEqual({ path: '/ready', port: 'http' });
    }
  });

  it('has a PodDisruptionBudget and a Service per Deployment, and a ServiceMonitor over the Services', () => {
    const pdbs = ofKind<K8sObject & { spec: { selector: LabelSelector; minAvailable?: number; maxUnavailable?: number } }>('PodDisruptionBudget');
    const svcs = ofKind<K8sObject & { spec: { selector: Record<string, string>; ports: { name: string; targetPort: string }[] } }>('Service');
    const [monitor] = ofKind<K8sObject & { spec: { selector: LabelSelector; endpoints: { port: string; path: string }[] } }>('ServiceMonitor');
    expect(monitor).toBeDefined();
    expect(monitor!.spec.endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics' })]);
    for (const service of SERVICES) {
      const d = deployment(service);
      const podLabels = d.spec.template.metadata.labels;
      const own = (sel: LabelSelector) => deployments.filter((x) => selects(sel, x.spec.template.metadata.labels));

      const pdb = pdbs.filter((p) => selects(p.spec.selector, podLabels));
      expect(pdb, service).toHaveLength(1);
      expect(own(pdb[0]!.spec.selector), service).toEqual([d]);
      if (pdb[0]!.spec.minAvailable !== undefined) {
        expect(pdb[0]!.spec.minAvailable, service).toBeGreaterThanOrEqual(1);
        expect(pdb[0]!.spec.minAvailable, `${service}: a drain must be able to evict a pod`).toBeLessThan(d.spec.replicas!);
      } else {
        expect(pdb[0]!.spec.maxUnavailable, service).toBeGreaterThanOrEqual(1);
      }

      const s = svcs.filter((x) => selects({ matchLabels: x.spec.selector }, podLabels));
      expect(s, service).toHaveLength(1);
      expect(s[0]!.spec.ports.map((p) => p.targetPort)).toEqual(['http']);
      expect(selects(monitor!.spec.selector, s[0]!.metadata.labels ?? {}), service).toBe(true);
    }
  });

  it('runs every container as non-root on a read-only root file system, without privileges', () => {
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext?.runAsNonRoot, d.metadata.name).toBe(true);
      expect(pod.securityContext?.runAsUser, d.metadata.name).toBeGreaterThan(0);
      for (const c of allContainers(d)) {
        const sc = c.securityContext;
        expect(sc?.readOnlyRootFilesystem, `${d.metadata.name}/${c.name}`).toBe(true);
        expect(sc?.allowPrivilegeEscalation, `${d.metadata.name}/${c.name}`).toBe(false);
        expect(sc?.capabilities?.drop, `${d.metadata.name}/${c.name}`).toContain('ALL');
        expect(sc?.capabilities?.add ?? [], `${d.metadata.name}/${c.name}`).toEqual([]);
      }
      // A read-only root needs a writable /tmp (Node's compile cache).
      const tmp = main(d).volumeMounts?.find((m) => m.mountPath === '/tmp');
      expect(pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir, d.metadata.name).toBeDefined();
    }
  });

  it('mounts the secrets volume writable in the secret-writer only, and hides the history where only the bus key is needed', () => {
    const [pvc] = ofKind<K8sObject & { spec: { accessModes: string[] } }>('PersistentVolumeClaim').filter((p) => p.metadata.name === 'caracal-secrets');
    expect(pvc?.spec.accessModes).toEqual(['ReadWriteMany']);
    for (const service of SERVICES) {
      const d = deployment(service);
      const volume = secretsVolume(d);
      expect(volume, service).toBeDefined();
      const secretsDir = envOf(main(d)).CARACAL_SECRETS_DIR!;
      for (const c of allContainers(d)) {
        for (const m of (c.volumeMounts ?? []).filter((x) => x.name === volume!.name)) {
          expect(secretsDir.startsWith(m.mountPath), service).toBe(true);
          if (service === 'secret-writer') expect(m.readOnly ?? false, `${service}/${c.name}`).toBe(false);
          else expect(m.readOnly, `${service}/${c.name}`).toBe(true);
        }
      }
      if (service !== 'secret-writer') expect(volume!.persistentVolumeClaim!.readOnly, service).toBe(true);

      const history = main(d).volumeMounts?.find((m) => m.mountPath === `${secretsDir}/.history`);
      if (service === 'secret-writer' || service === 'verifier') {
        // The writer keeps the history; the verifier proves old material is refused with it.
        expect(history, service).toBeUndefined();
      } else {
        expect(d.spec.template.spec.volumes?.find((v) => v.name === history?.name)?.emptyDir, `${service} masks .history`).toBeDefined();
      }
    }
  });

  it('takes connection strings from a Secret mounted as files, never from a literal', () => {
    for (const service of SERVICES) {
      const d = deployment(service);
      const env = envOf(main(d));
      expect(env.REDIS_URL, service).toBeUndefined();
      expect(env.DATABASE_URL, service).toBeUndefined();
      const redisFile = env.REDIS_URL_FILE!;
      const mount = main(d).volumeMounts?.find((m) => redisFile.startsWith(`${m.mountPath}/`));
      const volume = d.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
      expect(volume?.secret?.secretName, service).toBe('caracal-rotation-connections');
      expect(mount?.readOnly, service).toBe(true);
      // Only the recorder gets the database.
      expect(env.DATABASE_URL_FILE !== undefined, service).toBe(service === 'recorder');
    }
    expect(ofKind('Secret')).toEqual([]);
  });

  it('holds no secret value', () => {
    for (const d of deployments) {
      for (const c of allContainers(d)) {
        for (const e of c.env ?? []) expect(secretProblem(e.name, e.value), `${d.metadata.name}/${c.name}: ${e.name}`).toBeUndefined();
      }
    }
    for (const f of [...files, 'holders.json', 'kustomization.yaml']) expect(repoFile(`${BASE}/${f}`), f).not.toMatch(/[0-9a-f]{32,}/i);
  });

  describe('the roller', () => {
    const roles = ofKind<K8sObject & { rules: Rule[] }>('Role');
    const role = roles.find((r) => r.metadata.name === 'caracal-roller')!;
    const binding = ofKind<K8sObject & { roleRef: { kind: string; name: string }; subjects: { kind: string; name: string; namespace?: string }[] }>('RoleBinding').find(
      (b) => b.roleRef.name === 'caracal-roller',
    )!;

    it('has its own service account, bound to a Role, and is the only pod with an API token', () => {
      expect(role).toBeDefined();
      expect(binding.roleRef.kind).toBe('Role');
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'caracal-roller', namespace: NAMESPACE }]);
      expect(ofKind('ServiceAccount').map((s) => s.metadata.name)).toContain('caracal-roller');
      for (const service of SERVICES) {
        const pod = deployment(service).spec.template.spec;
        if (service === 'roller') {
          expect(pod.serviceAccountName).toBe('caracal-roller');
          expect(pod.automountServiceAccountToken).toBe(true);
        } else {
          expect(pod.serviceAccountName, service).not.toBe('caracal-roller');
          expect(pod.automountServiceAccountToken, service).toBe(false);
        }
      }
    });

    it('may only get and patch the named Caracal Deployments, and read their ReplicaSets and Pods', () => {
      for (const rule of role.rules) {
        for (const field of [rule.apiGroups, rule.resources, rule.verbs, rule.resourceNames]) expect(field ?? []).not.toContain('*');
      }
      const deploymentRules = role.rules.filter((r) => r.resources?.includes('deployments'));
      expect(deploymentRules).toHaveLength(1);
      const [rule] = deploymentRules;
      expect(rule!.apiGroups).toEqual(['apps']);
      expect(rule!.resources).toEqual(['deployments']);
      expect([...rule!.verbs!].sort()).toEqual(['get', 'patch']);
      expect(rule!.resourceNames?.length).toBeGreaterThan(0);
      for (const other of role.rules.filter((r) => r !== rule)) {
        expect(other.verbs!.every((v) => ['get', 'list', 'watch'].includes(v)), JSON.stringify(other)).toBe(true);
        expect(other.resources!.every((r) => ['pods', 'replicasets'].includes(r)), JSON.stringify(other)).toBe(true);
      }
      expect(JSON.stringify(role.rules)).not.toMatch(/secrets|configmaps|exec|escalate|bind|impersonate/);
    });

    it("restarts exactly the Deployments the Role names, through the kubernetes adapter, trusting the cluster's CA", () => {
      const restarts = Object.values(holdersFile.holders).map((h) => h.restart);
      expect(restarts.every((r) => r.adapter === 'kubernetes')).toBe(true);
      const named = restarts.map((r) => (r.adapter === 'kubernetes' ? r.deployment : '')).sort();
      const rule = role.rules.find((r) => r.resources?.includes('deployments'))!;
      expect(named).toEqual([...rule.resourceNames!].sort());
      for (const r of restarts) if (r.adapter === 'kubernetes') expect(r.namespace).toBe(role.metadata.namespace);
      // Rollouts take minutes, not the 30 s default.
      for (const h of Object.values(holdersFile.holders)) expect(h.ready_timeout_ms).toBeGreaterThanOrEqual(120_000);

      const roller = main(deployment('roller'));
      expect(envOf(roller).NODE_EXTRA_CA_CERTS).toBe(SA_CA);
      const holdersPath = envOf(roller).CARACAL_HOLDERS!;
      const mount = roller.volumeMounts?.find((m) => holdersPath.startsWith(`${m.mountPath}/`));
      expect(deployment('roller').spec.template.spec.volumes?.find((v) => v.name === mount?.name)?.configMap?.name).toBe('caracal-rotation-holders');
    });
  });

  describe('network policies', () => {
    const policies = ofKind<NetworkPolicy>('NetworkPolicy');
    const CARACAL_PORTS = [3000, 3001, 4000, 8080, 8081, 9090];

    /** Every egress port a pod of `service` is allowed, through any policy that selects it. */
    const egressPorts = (service: ServiceName): Set<number> => {
      const labels = deployment(service).spec.template.metadata.labels;
      const ports = new Set<number>();
      for (const p of policies.filter((x) => selects(x.spec.podSelector, labels))) {
        for (const rule of p.spec.egress ?? []) for (const port of rule.ports ?? []) ports.add(Number(port.port));
      }
      return ports;
    };

    it('deny everything not allowed, for every pod of ours', () => {
      const deny = policies.filter((p) => !p.spec.ingress && !p.spec.egress && p.spec.policyTypes?.includes('Ingress') && p.spec.policyTypes.includes('Egress'));
      expect(deny).toHaveLength(1);
      for (const d of deployments) expect(selects(deny[0]!.spec.podSelector, d.spec.template.metadata.labels), d.metadata.name).toBe(true);
      // Policies select only our pods, never Caracal's.
      for (const p of policies) expect(p.spec.podSelector.matchLabels?.['app.kubernetes.io/part-of'], p.metadata.name).toBe('caracal-rotation');
    });

    it('let services talk only to Redis and Postgres, and the roller and verifier to Caracal', () => {
      const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
      expect(sorted(egressPorts('planner'))).toEqual([53, 6379]);
      expect(sorted(egressPorts('recorder'))).toEqual([53, 5432, 6379]);
      expect(sorted(egressPorts('secret-writer'))).toEqual([53, 5432, 6379]);
      expect(sorted(egressPorts('verifier'))).toEqual([53, 5432, 6379, ...CARACAL_PORTS].sort((a, b) => a - b));
      // The roller also reaches the API server, to restart Caracal's Deployments.
      expect(sorted(egressPorts('roller'))).toEqual([53, 443, 6379, 6443, ...CARACAL_PORTS].sort((a, b) => a - b));
    });
  });
});
