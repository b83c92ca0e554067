import { parseLabelSelector } from './label-selector.js';
import { kubeStatus, type KubeHandler, type KubeRequest, type KubeResponse } from './server.js';
import { seedPods, stepDeployment, stepStatefulSet, type PodAction, type PodStore, type SimWorkload, type WorkloadBehaviour } from './workload-controllers.js';
import { newMeta, nextResourceVersion, type PodObject, type WorkloadObject } from './workload-objects.js';

/**
 * Deployments, StatefulSets and their pods for the Kubernetes API double
 * (startKubernetesApiDouble): GET and PATCH of the workloads (strategic-merge
 * and merge patches, as `kubectl rollout restart` sends), GET and list of
 * pods with label selectors, and controllers that roll pods over time after
 * a template change, with the status fields the real controllers report.
 * Errors are Status objects as the API server answers them (404, 403, 409,
 * 415, 422).
 */
export type { PodAction, WorkloadBehaviour } from './workload-controllers.js';
export type { PodObject, WorkloadObject } from './workload-objects.js';

export interface WorkloadSpec {
  kind: 'Deployment' | 'StatefulSet';
  namespace: string;
  name: string;
  /** Default 2. */
  replicas?: number;
  /** The selector's matchLabels, also the pods' labels; default `app.kubernetes.io/name: <name>`. */
  labels?: Record<string, string>;
  /** Container names of the pod template; default one named after the workload. */
  containers?: string[];
  /** StatefulSet only. */
  updateStrategy?: 'RollingUpdate' | 'OnDelete';
  /** StatefulSet only: ordinals below it are not updated. */
  partition?: number;
  behaviour?: WorkloadBehaviour;
}

export interface WorkloadsDouble {
  /** Pass to startKubernetesApiDouble. */
  handler: KubeHandler;
  /** Creates a workload whose pods are already running (since an hour ago); returns it so a test can change its behaviour. */
  add(spec: WorkloadSpec): SimWorkload;
  workload(kind: WorkloadSpec['kind'], namespace: string, name: string): WorkloadObject | undefined;
  /** The pods of a namespace matching the labels, terminating ones included. */
  pods(namespace: string, labels?: Record<string, string>): PodObject[];
  /** Every pod the controllers created or deleted (deletion = the start of Terminating), in order. */
  readonly podActions: readonly PodAction[];
  /** Refuses a verb on a resource with 403, as RBAC would. */
  forbid(rule: { verb: 'get' | 'list' | 'patch'; resource: 'deployments' | 'statefulsets' | 'pods' }): void;
  /** Stops the controllers. */
  close(): void;
}

export interface WorkloadsDoubleOptions {
  /** Interval between controller steps; default 20 ms. */
  stepMs?: number;
  /** The user named in 403 messages. */
  user?: string;
}

const KIND_OF = { deployments: 'Deployment', statefulsets: 'StatefulSet' } as const;
const WORKLOAD_PATH = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments|statefulsets)\/([^/]+)$/;
const PODS_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?$/;
const MERGE_TYPES = ['application/strategic-merge-patch+json', 'application/merge-patch+json'];

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386 merge: objects merge, null deletes, anything else replaces (lists too: the double has no patch-merge keys). */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Json = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

export function createWorkloadsDouble(options: WorkloadsDoubleOptions = {}): WorkloadsDouble {
  const user = options.user ?? 'system:serviceaccount:caracal-rotation:caracal-roller';
  const workloads = new Map<string, SimWorkload>();
  const store: PodStore = { pods: new Map(), actions: [] };
  const forbidden = new Set<string>();
  const key = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

  const timer = setInterval(() => {
    for (const w of workloads.values()) (w.object.kind === 'Deployment' ? stepDeployment : stepStatefulSet)(store, w);
  }, options.stepMs ?? 20);
  timer.unref();

  function refusal(verb: string, resource: string, group: string, namespace: string, name?: string): KubeResponse | undefined {
    if (!forbidden.has(`${verb} ${resource}`)) return undefined;
    const what = `${resource}${group ? `.${group}` : ''}${name ? ` "${name}"` : ''}`;
    return kubeStatus(403, 'Forbidden', `${what} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${group}" in the namespace "${namespace}"`);
  }

  function patchWorkload(w: SimWorkload, req: KubeRequest, resource: string): KubeResponse {
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (!MERGE_TYPES.includes(type)) {
      return kubeStatus(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${MERGE_TYPES.join(', ')}`);
    }
    const obj = w.object;
    const name = obj.metadata.name;
    if (!isObject(req.body)) return kubeStatus(400, 'BadRequest', `error decoding patch: the patch is not a JSON object`);
    const meta = isObject(req.body.metadata) ? req.body.metadata : {};
    if (typeof meta.resourceVersion === 'string' && meta.resourceVersion !== obj.metadata.resourceVersion) {
      return kubeStatus(409, 'Conflict', `Operation cannot be fulfilled on ${resource}.apps "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    if (typeof meta.uid === 'string' && meta.uid !== obj.metadata.uid) {
      return kubeStatus(409, 'Conflict', `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${obj.metadata.uid}`);
    }
    const spec = isObject(req.body.spec) ? (mergePatch(obj.spec, req.body.spec) as WorkloadObject['spec']) : obj.spec;
    if (JSON.stringify(spec.selector) !== JSON.stringify(obj.spec.selector)) {
      return kubeStatus(422, 'Invalid', `${obj.kind}.apps "${name}" is invalid: spec.selector: Invalid value: ${JSON.stringify(spec.selector)}: field is immutable`);
    }
    const specChanged = JSON.stringify(spec) !== JSON.stringify(obj.spec);
    obj.spec = spec;
    if (isObject(meta.labels)) obj.metadata.labels = mergePatch(obj.metadata.labels, meta.labels) as Record<string, string>;
    if (isObject(meta.annotations)) obj.metadata.annotations = mergePatch(obj.metadata.annotations, meta.annotations) as Record<string, string>;
    // Any change of the spec is a new generation for the controller to observe.
    if (specChanged) obj.metadata.generation = (obj.metadata.generation ?? 1) + 1;
    obj.metadata.resourceVersion = nextResourceVersion();
    return { status: 200, body: structuredClone(obj) };
  }

  const handler: KubeHandler = (req) => {
    let m = WORKLOAD_PATH.exec(req.path);
    if (m) {
      const [, namespace, resource, name] = m as unknown as [string, string, 'deployments' | 'statefulsets', string];
      const verb = req.method === 'GET' ? 'get' : req.method === 'PATCH' ? 'patch' : undefined;
      if (!verb) return kubeStatus(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
      const denied = refusal(verb, resource, 'apps', namespace, name);
      if (denied) return denied;
      const w = workloads.get(key(KIND_OF[resource], namespace, name));
      if (!w) return kubeStatus(404, 'NotFound', `${resource}.apps "${name}" not found`);
      return verb === 'get' ? { status: 200, body: structuredClone(w.object) } : patchWorkload(w, req, resource);
    }
    m = PODS_PATH.exec(req.path);
    if (m) {
      const [, namespace, name] = m as unknown as [string, string, string | undefined];
      if (req.method !== 'GET') return kubeStatus(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
      const denied = refusal(name ? 'get' : 'list', 'pods', '', namespace, name);
      if (denied) return denied;
      if (name) {
        const pod = store.pods.get(`${namespace}/${name}`);
        return pod ? { status: 200, body: structuredClone(pod.pod) } : kubeStatus(404, 'NotFound', `pods "${name}" not found`);
      }
      let matches: ReturnType<typeof parseLabelSelector>;
      try {
        matches = parseLabelSelector(req.query.get('labelSelector'));
      } catch (err) {
        return kubeStatus(400, 'BadRequest', (err as Error).message);
      }
      const items = [...store.pods.values()].map((p) => p.pod).filter((p) => p.metadata.namespace === namespace && matches(p.metadata.labels ?? {}));
      return { status: 200, body: { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: nextResourceVersion() }, items: structuredClone(items) } };
    }
    return undefined;
  };

  return {
    handler,
    add(spec) {
      const labels = spec.labels ?? { 'app.kubernetes.io/name': spec.name };
      const containers = (spec.containers ?? [spec.name]).map((name) => ({ name, image: `caracal/${name}:test` }));
      const object: WorkloadObject = {
        apiVersion: 'apps/v1',
        kind: spec.kind,
        metadata: newMeta(spec.name, spec.namespace, { generation: 1, labels: { ...labels } }),
        spec: {
          replicas: spec.replicas ?? 2,
          selector: { matchLabels: { ...labels } },
          template: { metadata: { labels: { ...labels } }, spec: { containers } },
          ...(spec.kind === 'Deployment'
            ? { strategy: { type: 'RollingUpdate' as const, rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }, progressDeadlineSeconds: 600 }
            : {
                serviceName: spec.name,
                podManagementPolicy: 'OrderedReady' as const,
                updateStrategy:
                  (spec.updateStrategy ?? 'RollingUpdate') === 'RollingUpdate'
                    ? { type: 'RollingUpdate' as const, rollingUpdate: { partition: spec.partition ?? 0 } }
                    : { type: 'OnDelete' as const },
              }),
        },
        status: { observedGeneration: 1 },
      };
      const w: SimWorkload = { object, behaviour: { ...spec.behaviour }, revisions: new Map(), stalledSteps: 0 };
      seedPods(store, w, new Date(Date.now() - 3_600_000));
      // Settle the status at once, as a workload that has been running for an hour has it.
      const behaviour = w.behaviour;
      w.behaviour = {};
      (spec.kind === 'Deployment' ? stepDeployment : stepStatefulSet)(store, w);
      w.behaviour = behaviour;
      workloads.set(key(spec.kind, spec.namespace, spec.name), w);
      return w;
    },
    podActions: store.actions,
    workload: (kind, namespace, name) => workloads.get(key(kind, namespace, name))?.object,
    pods(namespace, labels = {}) {
      return [...store.pods.values()]
        .map((p) => p.pod)
        .filter((p) => p.metadata.namespace === namespace && Object.entries(labels).every(([k, v]) => p.metadata.labels?.[k] === v));
    },
    forbid(rule) {
      forbidden.add(`${rule.verb} ${rule.resource}`);
    },
    close() {
      clearInterval(timer);
    },
  };
}
