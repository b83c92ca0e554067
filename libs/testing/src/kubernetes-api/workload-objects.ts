import { createHash, randomUUID } from 'node:crypto';

/**
 * The Kubernetes objects the workloads double keeps: Deployments,
 * StatefulSets and their Pods, in the shapes the API server returns (only the
 * fields a client of rollouts reads).
 */

/** Kubernetes writes times as RFC 3339 in whole seconds (metav1.Time). */
export const kubeTime = (date: Date = new Date()): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  generation?: number;
  creationTimestamp: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller: boolean }[];
}

export interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: { containers: { name: string; image: string }[] };
}

export interface WorkloadObject {
  apiVersion: 'apps/v1';
  kind: 'Deployment' | 'StatefulSet';
  metadata: ObjectMeta;
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: PodTemplate;
    /** Deployment */
    strategy?: { type: 'RollingUpdate'; rollingUpdate: { maxSurge: number; maxUnavailable: number } };
    progressDeadlineSeconds?: number;
    /** StatefulSet */
    serviceName?: string;
    podManagementPolicy?: 'OrderedReady';
    updateStrategy?: { type: 'RollingUpdate' | 'OnDelete'; rollingUpdate?: { partition: number } };
  };
  status: Record<string, unknown> & { observedGeneration?: number };
}

export interface ContainerStatus {
  name: string;
  image: string;
  ready: boolean;
  started: boolean;
  restartCount: number;
  containerID?: string;
  state: { running?: { startedAt: string }; waiting?: { reason: string; message?: string } };
}

export interface PodObject {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: ObjectMeta;
  spec: PodTemplate['spec'] & { terminationGracePeriodSeconds: number };
  status: {
    phase: 'Pending' | 'Running';
    startTime?: string;
    conditions: { type: 'Ready' | 'ContainersReady'; status: 'True' | 'False' }[];
    containerStatuses: ContainerStatus[];
  };
}

let resourceVersion = 1000;
/** One counter for every object, as etcd's revision is. */
export const nextResourceVersion = (): string => String((resourceVersion += 1));

/** Deployment's pod-template-hash and StatefulSet's revision suffix: a hash of the pod template. */
export function templateHash(template: PodTemplate): string {
  return createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 10);
}

export function newMeta(name: string, namespace: string, extra: Partial<ObjectMeta> = {}): ObjectMeta {
  return { name, namespace, uid: randomUUID(), resourceVersion: nextResourceVersion(), creationTimestamp: kubeTime(), ...extra };
}

const containerId = () => `containerd://${createHash('sha256').update(randomUUID()).digest('hex')}`;

/** A pod as the kubelet reports it: Pending (its containers waiting) until it runs, or waiting for good when it cannot start. */
export function newPod(args: {
  name: string;
  namespace: string;
  template: PodTemplate;
  labels: Record<string, string>;
  owner: { kind: string; name: string; uid: string };
  /** Already running, since this time (pods that existed before the test). */
  runningSince?: Date;
}): PodObject {
  const { template, runningSince } = args;
  const pod: PodObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: newMeta(args.name, args.namespace, {
      labels: { ...template.metadata.labels, ...args.labels },
      ...(template.metadata.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: args.owner.kind, name: args.owner.name, uid: args.owner.uid, controller: true }],
      ...(runningSince ? { creationTimestamp: kubeTime(runningSince) } : {}),
    }),
    spec: { containers: template.spec.containers.map((c) => ({ ...c })), terminationGracePeriodSeconds: 30 },
    status: {
      phase: 'Pending',
      conditions: [
        { type: 'ContainersReady', status: 'False' },
        { type: 'Ready', status: 'False' },
      ],
      containerStatuses: template.spec.containers.map((c) => ({
        name: c.name,
        image: c.image,
        ready: false,
        started: false,
        restartCount: 0,
        state: { waiting: { reason: 'ContainerCreating' } },
      })),
    },
  };
  if (runningSince) startPod(pod, runningSince);
  return pod;
}

/** The kubelet started every container of the pod and its readiness probe passed. */
export function startPod(pod: PodObject, at: Date = new Date()): void {
  pod.status.phase = 'Running';
  pod.status.startTime = kubeTime(at);
  pod.status.conditions = [
    { type: 'ContainersReady', status: 'True' },
    { type: 'Ready', status: 'True' },
  ];
  pod.status.containerStatuses = pod.status.containerStatuses.map((c) => ({
    ...c,
    ready: true,
    started: true,
    containerID: containerId(),
    state: { running: { startedAt: kubeTime(at) } },
  }));
  pod.metadata.resourceVersion = nextResourceVersion();
}

/** The pod's containers cannot start (CrashLoopBackOff, ImagePullBackOff …): it stays Pending and not ready. */
export function failPod(pod: PodObject, reason: string): void {
  pod.status.containerStatuses = pod.status.containerStatuses.map((c) => ({
    ...c,
    restartCount: reason === 'CrashLoopBackOff' ? c.restartCount + 1 : c.restartCount,
    state: { waiting: { reason, message: `${reason} for container ${c.name} (workloads double)` } },
  }));
  pod.metadata.resourceVersion = nextResourceVersion();
}

export const isReady = (pod: PodObject): boolean => pod.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
export const isTerminating = (pod: PodObject): boolean => pod.metadata.deletionTimestamp !== undefined;
