/** Typed views of rendered Kubernetes objects, and how RBAC and NetworkPolicies answer a question. */
import { type K8sObject, type LabelSelector, SERVICES, type ServiceName, selects } from './support.js';

export interface Probe {
  httpGet?: { path?: string; port?: string | number };
}
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}
export interface Container {
  name: string;
  image?: string;
  args?: string[];
  command?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; runAsNonRoot?: boolean; capabilities?: { drop?: string[]; add?: string[] } };
  volumeMounts?: VolumeMount[];
}
export interface KeyToPath {
  key: string;
  path: string;
}
export interface SecretSource {
  name?: string;
  secretName?: string;
  items?: KeyToPath[];
  optional?: boolean;
}
export interface Volume {
  name: string;
  emptyDir?: { medium?: string };
  configMap?: { name: string; items?: KeyToPath[] };
  secret?: SecretSource;
  projected?: { sources: { secret?: SecretSource; configMap?: SecretSource }[] };
  persistentVolumeClaim?: { claimName: string };
  hostPath?: unknown;
}
export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; runAsGroup?: number; fsGroup?: number; seccompProfile?: { type?: string } };
  initContainers?: Container[];
  containers: Container[];
  volumes?: Volume[];
}
export interface Deployment extends K8sObject {
  spec: {
    replicas?: number;
    selector: LabelSelector;
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}
export interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs?: string[];
}
export interface Role extends K8sObject {
  rules: Rule[];
}
export interface RoleBinding extends K8sObject {
  roleRef: { kind: string; name: string };
  subjects: { kind: string; name: string; namespace?: string }[];
}
export interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
export interface PolicyRule {
  to?: PolicyPeer[];
  from?: PolicyPeer[];
  ports?: { port?: number | string; protocol?: string }[];
}
export interface NetworkPolicy extends K8sObject {
  spec: { podSelector: LabelSelector; policyTypes?: string[]; ingress?: PolicyRule[]; egress?: PolicyRule[] };
}

/** The objects of one rendering, by kind and by the service they run. */
export class Rendered {
  constructor(readonly objects: K8sObject[]) {}

  ofKind<T extends K8sObject>(kind: string): T[] {
    return this.objects.filter((o) => o.kind === kind) as T[];
  }

  get deployments(): Deployment[] {
    return this.ofKind<Deployment>('Deployment');
  }

  deployment(service: ServiceName): Deployment {
    const d = this.deployments.find((x) => x.metadata.name === `caracal-rotation-${service}`);
    if (!d) throw new Error(`no Deployment for ${service}`);
    return d;
  }

  pod(service: ServiceName): PodSpec {
    return this.deployment(service).spec.template.spec;
  }

  podLabels(service: ServiceName): Record<string, string> {
    return this.deployment(service).spec.template.metadata.labels;
  }

  /** The service's own container (the first; init containers apart). */
  main(service: ServiceName): Container {
    return this.pod(service).containers[0]!;
  }

  env(service: ServiceName): Record<string, string | undefined> {
    return envOf(this.main(service));
  }

  volume(service: ServiceName, name: string): Volume | undefined {
    return this.pod(service).volumes?.find((v) => v.name === name);
  }

  /** The volume mounted at `dir` (or a directory above it) in the service's container, and the mount. */
  mountAt(service: ServiceName, file: string): { mount: VolumeMount; volume: Volume } | undefined {
    const mounts = (this.main(service).volumeMounts ?? []).filter((m) => file === m.mountPath || file.startsWith(`${m.mountPath}/`));
    const mount = mounts.sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    const volume = mount ? this.volume(service, mount.name) : undefined;
    return mount && volume ? { mount, volume } : undefined;
  }

  /** The Roles bound to a service account. */
  rolesOf(serviceAccount: string, namespace: string): Role[] {
    const names = this.ofKind<RoleBinding>('RoleBinding')
      .filter((b) => b.roleRef.kind === 'Role' && b.subjects.some((s) => s.kind === 'ServiceAccount' && s.name === serviceAccount && (s.namespace ?? b.metadata.namespace) === namespace))
      .map((b) => b.roleRef.name);
    return this.ofKind<Role>('Role').filter((r) => names.includes(r.metadata.name) && r.metadata.namespace === namespace);
  }

  /** Whether the service's pods may `verb` the `resource` named `name` through their service account. */
  may(service: ServiceName, verb: string, group: string, resource: string, name?: string): boolean {
    const pod = this.pod(service);
    if (pod.automountServiceAccountToken !== true) return false;
    const namespace = this.deployment(service).metadata.namespace ?? '';
    return this.rolesOf(pod.serviceAccountName ?? 'default', namespace).some((role) =>
      role.rules.some(
        (r) =>
          (r.apiGroups ?? []).includes(group) &&
          (r.resources ?? []).includes(resource) &&
          (r.verbs ?? []).includes(verb) &&
          (r.resourceNames === undefined || r.resourceNames.length === 0 || (name !== undefined && r.resourceNames.includes(name))),
      ),
    );
  }

  /** The NetworkPolicies that select a service's pods for a direction. */
  policiesOf(service: ServiceName, type: 'Ingress' | 'Egress'): NetworkPolicy[] {
    const labels = this.podLabels(service);
    return this.ofKind<NetworkPolicy>('NetworkPolicy').filter((p) => selects(p.spec.podSelector, labels) && (p.spec.policyTypes ?? ['Ingress']).includes(type));
  }

  /**
   * Whether a service's pods may open a TCP connection to a pod with `labels`
   * in the same namespace on `port` (some egress rule allows it; with no
   * policy selecting the pod everything is allowed, which our base never has).
   */
  egressToPod(service: ServiceName, labels: Record<string, string>, port: number): boolean {
    return this.policiesOf(service, 'Egress').some((p) =>
      (p.spec.egress ?? []).some((rule) => portAllowed(rule, port) && (rule.to === undefined || rule.to.some((peer) => peerIsPod(peer, labels)))),
    );
  }

  /** Egress on `port` to an address outside the cluster's pods (an ipBlock, or a rule with no `to`). */
  egressToAddress(service: ServiceName, port: number): boolean {
    return this.policiesOf(service, 'Egress').some((p) =>
      (p.spec.egress ?? []).some((rule) => portAllowed(rule, port) && (rule.to === undefined || rule.to.some((peer) => peer.ipBlock !== undefined))),
    );
  }

  /** Every egress port a service's pods are allowed, through any policy. */
  egressPorts(service: ServiceName): number[] {
    const ports = new Set<number>();
    for (const p of this.policiesOf(service, 'Egress')) for (const rule of p.spec.egress ?? []) for (const port of rule.ports ?? []) ports.add(Number(port.port));
    return [...ports].sort((a, b) => a - b);
  }
}

function portAllowed(rule: PolicyRule, port: number): boolean {
  return rule.ports === undefined || rule.ports.length === 0 || rule.ports.some((p) => (p.protocol ?? 'TCP') === 'TCP' && Number(p.port) === port);
}

/** A peer matching a pod of our own namespace: a podSelector without namespaceSelector. */
function peerIsPod(peer: PolicyPeer, labels: Record<string, string>): boolean {
  return peer.podSelector !== undefined && peer.namespaceSelector === undefined && peer.ipBlock === undefined && selects(peer.podSelector, labels);
}

export const envOf = (c: Container): Record<string, string | undefined> => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));

/** The Secret keys a volume projects into its directory, by file name (`*<secret>` for a whole Secret). */
export function secretFiles(volume: Volume): Map<string, { secret: string; key: string; optional: boolean }> {
  const files = new Map<string, { secret: string; key: string; optional: boolean }>();
  const add = (source: SecretSource | undefined, name: string | undefined) => {
    if (!source || !name) return;
    for (const item of source.items ?? []) files.set(item.path, { secret: name, key: item.key, optional: source.optional === true });
    // A whole Secret: every key, by its own name.
    if (!source.items) files.set(`*${name}`, { secret: name, key: '*', optional: source.optional === true });
  };
  add(volume.secret, volume.secret?.secretName);
  for (const s of volume.projected?.sources ?? []) add(s.secret, s.secret?.name);
  return files;
}

export { SERVICES };
