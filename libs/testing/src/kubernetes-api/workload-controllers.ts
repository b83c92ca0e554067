import { randomBytes } from 'node:crypto';
import {
  failPod,
  isReady,
  isTerminating,
  kubeTime,
  newPod,
  nextResourceVersion,
  startPod,
  templateHash,
  type PodObject,
  type PodTemplate,
  type WorkloadObject,
} from './workload-objects.js';

/**
 * What the Deployment and StatefulSet controllers and the kubelet do, one
 * step at a time: observe a new generation, create pods of the new revision,
 * wait for them to become ready, delete the old ones (which stay Terminating
 * for their grace period), and report it all in the workload's status.
 */

/** How a workload misbehaves, to test what a client makes of it. */
export interface WorkloadBehaviour {
  /** New pods never become ready: their containers wait with this reason (CrashLoopBackOff, ImagePullBackOff). */
  newPodsFailWith?: string;
  /** The controller does nothing (a stopped controller manager): the spec changes, nothing rolls, status stays. */
  controllerStopped?: boolean;
  /** Steps a deleted pod stays Terminating (its grace period); default 1. */
  terminationSteps?: number;
  /** Steps from a pod's creation to Running and ready; default 1. */
  startupSteps?: number;
  /** Deployment: steps without progress before the Progressing condition says ProgressDeadlineExceeded; default 20. */
  progressDeadlineSteps?: number;
}

export interface SimPod {
  pod: PodObject;
  workload: SimWorkload;
  revision: string;
  ordinal?: number;
  startIn: number;
  terminateIn?: number;
  failed?: boolean;
}

export interface SimWorkload {
  object: WorkloadObject;
  behaviour: WorkloadBehaviour;
  /** Pod templates by revision, so a StatefulSet can recreate a pod below its partition at the old revision. */
  revisions: Map<string, PodTemplate>;
  stalledSteps: number;
}

/** What a controller did to a pod, in order (tests read the order of a rollout from it). */
export interface PodAction {
  action: 'create' | 'delete';
  namespace: string;
  name: string;
  uid: string;
  /** The workload that owns the pod. */
  owner: string;
}

/** The store the controllers act on: every pod, by namespace/name, and the log of pod creations and deletions. */
export interface PodStore {
  pods: Map<string, SimPod>;
  actions: PodAction[];
}

const record = (store: PodStore, action: PodAction['action'], p: SimPod) =>
  store.actions.push({ action, namespace: p.pod.metadata.namespace, name: p.pod.metadata.name, uid: p.pod.metadata.uid, owner: p.workload.object.metadata.name });

const podKey = (namespace: string, name: string) => `${namespace}/${name}`;

/** A stable uid for the ReplicaSet of one Deployment revision (the double keeps no ReplicaSet objects). */
const replicaSetUid = (deploymentUid: string, revision: string) => `${deploymentUid.slice(0, 24)}${revision.padEnd(12, '0').slice(0, 12)}`;

export function revisionOf(w: SimWorkload): string {
  const hash = templateHash(w.object.spec.template);
  w.revisions.set(hash, structuredClone(w.object.spec.template));
  return hash;
}

export function ownedPods(store: PodStore, w: SimWorkload): SimPod[] {
  return [...store.pods.values()].filter((p) => p.workload === w);
}

function createPod(store: PodStore, w: SimWorkload, revision: string, ordinal?: number, runningSince?: Date): SimPod {
  const { name, namespace, uid } = w.object.metadata;
  const template = w.revisions.get(revision) ?? w.object.spec.template;
  const isSet = w.object.kind === 'StatefulSet';
  const podName = isSet ? `${name}-${ordinal}` : `${name}-${revision}-${randomBytes(3).toString('hex').slice(0, 5)}`;
  const labels: Record<string, string> = isSet
    ? { 'controller-revision-hash': `${name}-${revision}`, 'statefulset.kubernetes.io/pod-name': podName, 'apps.kubernetes.io/pod-index': String(ordinal) }
    : { 'pod-template-hash': revision };
  const owner = isSet ? { kind: 'StatefulSet', name, uid } : { kind: 'ReplicaSet', name: `${name}-${revision}`, uid: replicaSetUid(uid, revision) };
  const pod = newPod({ name: podName, namespace, template, labels, owner, runningSince });
  const sim: SimPod = { pod, workload: w, revision, ordinal, startIn: runningSince ? 0 : (w.behaviour.startupSteps ?? 1) };
  store.pods.set(podKey(namespace, podName), sim);
  if (!runningSince) record(store, 'create', sim);
  return sim;
}

function terminate(store: PodStore, p: SimPod, w: SimWorkload): void {
  record(store, 'delete', p);
  p.pod.metadata.deletionTimestamp = kubeTime();
  p.pod.metadata.resourceVersion = nextResourceVersion();
  p.terminateIn = w.behaviour.terminationSteps ?? 1;
}

/** The kubelet's part: pods start (or fail to), terminating pods go away. Returns whether anything changed. */
function advancePods(store: PodStore, w: SimWorkload): boolean {
  let changed = false;
  for (const p of ownedPods(store, w)) {
    if (p.terminateIn !== undefined) {
      p.terminateIn -= 1;
      if (p.terminateIn <= 0) {
        store.pods.delete(podKey(p.pod.metadata.namespace, p.pod.metadata.name));
        changed = true;
      }
    } else if (p.pod.status.phase === 'Pending' && !p.failed) {
      if (w.behaviour.newPodsFailWith) {
        failPod(p.pod, w.behaviour.newPodsFailWith);
        p.failed = true;
        changed = true;
      } else if ((p.startIn -= 1) <= 0) {
        startPod(p.pod);
        changed = true;
      }
    }
  }
  return changed;
}

function observe(w: SimWorkload): boolean {
  const generation = w.object.metadata.generation ?? 1;
  if ((w.object.status.observedGeneration ?? 0) >= generation) return false;
  w.object.status.observedGeneration = generation;
  return true;
}

/** Seeds a workload with settled pods, running since `since` (before the test). */
export function seedPods(store: PodStore, w: SimWorkload, since: Date): void {
  const revision = revisionOf(w);
  for (let i = 0; i < w.object.spec.replicas; i += 1) createPod(store, w, revision, w.object.kind === 'StatefulSet' ? i : undefined, since);
  if (w.object.kind === 'StatefulSet') w.object.status.currentRevision = `${w.object.metadata.name}-${revision}`;
}

/** One step of the Deployment controller (RollingUpdate, maxSurge 1, maxUnavailable 0) and of the kubelet. */
export function stepDeployment(store: PodStore, w: SimWorkload): void {
  if (w.behaviour.controllerStopped) return;
  const { spec, metadata } = w.object;
  const revision = revisionOf(w);
  let changed = observe(w);
  changed = advancePods(store, w) || changed;

  const live = ownedPods(store, w).filter((p) => !isTerminating(p.pod));
  const fresh = live.filter((p) => p.revision === revision);
  const old = live.filter((p) => p.revision !== revision);
  const surge = spec.strategy?.rollingUpdate.maxSurge ?? 1;
  if (fresh.length < spec.replicas && live.length < spec.replicas + surge) {
    createPod(store, w, revision);
    changed = true;
  } else if (old.length > 0) {
    // Scale the old ReplicaSet down only while enough pods stay ready (maxUnavailable 0).
    const ready = live.filter((p) => isReady(p.pod)).length;
    const victim = old.find((p) => !isReady(p.pod)) ?? old[0]!;
    if (ready - (isReady(victim.pod) ? 1 : 0) >= spec.replicas || live.length > spec.replicas + surge) {
      terminate(store, victim, w);
      changed = true;
    }
  } else if (fresh.length > spec.replicas) {
    terminate(store, fresh.find((p) => !isReady(p.pod)) ?? fresh[0]!, w);
    changed = true;
  }

  const now = ownedPods(store, w).filter((p) => !isTerminating(p.pod));
  const updated = now.filter((p) => p.revision === revision).length;
  const available = now.filter((p) => isReady(p.pod)).length;
  const complete = updated === spec.replicas && now.length === spec.replicas && available === spec.replicas;
  w.stalledSteps = changed || complete ? 0 : w.stalledSteps + 1;
  const replicaSet = `${metadata.name}-${revision}`;
  const progressing =
    complete
      ? { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${replicaSet}" has successfully progressed.` }
      : w.stalledSteps >= (w.behaviour.progressDeadlineSteps ?? 20)
        ? { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${replicaSet}" has timed out progressing.` }
        : { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${replicaSet}" is progressing.` };
  const status = {
    observedGeneration: w.object.status.observedGeneration,
    replicas: now.length,
    updatedReplicas: updated,
    readyReplicas: available,
    availableReplicas: available,
    ...(spec.replicas - available > 0 ? { unavailableReplicas: spec.replicas - available } : {}),
    conditions: [
      { type: 'Available', status: available >= spec.replicas ? 'True' : 'False', reason: available >= spec.replicas ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable' },
      progressing,
    ],
  };
  if (JSON.stringify(status) !== JSON.stringify(w.object.status)) {
    w.object.status = status;
    metadata.resourceVersion = nextResourceVersion();
  }
}

/** One step of the StatefulSet controller (OrderedReady; RollingUpdate from the highest ordinal down to the partition, or OnDelete). */
export function stepStatefulSet(store: PodStore, w: SimWorkload): void {
  if (w.behaviour.controllerStopped) return;
  const { spec, metadata } = w.object;
  const name = metadata.name;
  const updateRevision = revisionOf(w);
  const currentRevision = String(w.object.status.currentRevision ?? `${name}-${updateRevision}`).slice(name.length + 1);
  observe(w);
  advancePods(store, w);

  const strategy = spec.updateStrategy?.type ?? 'RollingUpdate';
  const partition = spec.updateStrategy?.rollingUpdate?.partition ?? 0;
  const pods = ownedPods(store, w);
  const byOrdinal = new Map(pods.map((p) => [p.ordinal!, p]));
  let acted = false;
  // OrderedReady: create the lowest missing ordinal once every lower one is running and ready.
  for (let ordinal = 0; ordinal < spec.replicas && !acted; ordinal += 1) {
    const p = byOrdinal.get(ordinal);
    if (!p) {
      const revision = strategy === 'RollingUpdate' && ordinal < partition ? currentRevision : updateRevision;
      createPod(store, w, revision, ordinal);
      acted = true;
    } else if (isTerminating(p.pod) || !isReady(p.pod)) acted = true;
  }
  const extra = pods.filter((p) => p.ordinal! >= spec.replicas && !isTerminating(p.pod)).sort((a, b) => b.ordinal! - a.ordinal!);
  if (!acted && extra.length > 0) {
    terminate(store, extra[0]!, w);
    acted = true;
  }
  if (!acted && strategy === 'RollingUpdate') {
    const stale = pods.filter((p) => p.ordinal! >= partition && p.ordinal! < spec.replicas && p.revision !== updateRevision).sort((a, b) => b.ordinal! - a.ordinal!);
    if (stale[0]) terminate(store, stale[0], w);
  }

  const live = ownedPods(store, w).filter((p) => !isTerminating(p.pod));
  const ready = live.filter((p) => isReady(p.pod)).length;
  const updated = live.filter((p) => p.revision === updateRevision).length;
  const status: Record<string, unknown> = {
    observedGeneration: w.object.status.observedGeneration,
    replicas: live.length,
    readyReplicas: ready,
    availableReplicas: ready,
    currentReplicas: live.filter((p) => p.revision === currentRevision).length,
    updatedReplicas: updated,
    currentRevision: `${name}-${currentRevision}`,
    updateRevision: `${name}-${updateRevision}`,
    collisionCount: 0,
  };
  // The controller's completeRollingUpdate: every pod updated and ready makes the update revision current.
  if (strategy === 'RollingUpdate' && updated === live.length && ready === live.length && live.length === spec.replicas) {
    status.currentRevision = status.updateRevision;
    status.currentReplicas = updated;
  }
  if (JSON.stringify(status) !== JSON.stringify(w.object.status)) {
    w.object.status = status;
    metadata.resourceVersion = nextResourceVersion();
  }
}
