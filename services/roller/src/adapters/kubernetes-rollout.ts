import { parseRfc3339Ns, wholeSecondNs } from './rfc3339.js';

/**
 * How the kubernetes adapter judges a rollout and its pods, from the objects
 * the API server returns. The rollout rules are `kubectl rollout status`'s;
 * the proof asks more: every pod is new and started after the write.
 */

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/** The slice of a Deployment or StatefulSet the adapter reads. */
export interface WorkloadObject {
  metadata?: { generation?: number };
  spec?: {
    replicas?: number;
    selector?: LabelSelector;
    updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } };
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
    conditions?: { type?: string; status?: string; reason?: string; message?: string }[];
  };
}

export interface PodObject {
  metadata?: { name?: string; uid?: string; deletionTimestamp?: string };
  status?: {
    phase?: string;
    containerStatuses?: {
      name?: string;
      ready?: boolean;
      state?: { running?: { startedAt?: string }; waiting?: { reason?: string }; terminated?: { reason?: string; exitCode?: number } };
    }[];
  };
}

export type WorkloadKind = 'Deployment' | 'StatefulSet';

export interface RolloutView {
  done: boolean;
  /** Where the rollout stands, for errors. */
  summary: string;
  /** Set when the rollout failed for good (a Deployment past its progress deadline). */
  failed?: string;
}

/** `labelSelector` for a pod list, from the workload's spec.selector. */
export function selectorQuery(selector: LabelSelector | undefined): string {
  const terms = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') terms.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') terms.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') terms.push(e.key);
    else terms.push(`!${e.key}`);
  }
  return terms.join(',');
}

/**
 * Why the restart annotation would not replace every pod, or undefined when it would.
 * A StatefulSet with OnDelete replaces nothing; one with a partition leaves the
 * ordinals below it running the old process.
 */
export function unreplaceableReason(kind: WorkloadKind, w: WorkloadObject): string | undefined {
  if (kind !== 'StatefulSet') return undefined;
  const strategy = w.spec?.updateStrategy?.type ?? 'RollingUpdate';
  if (strategy !== 'RollingUpdate') return `its updateStrategy is ${strategy}: the controller replaces no pod on a template change`;
  const partition = w.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
  if (partition > 0) return `its rollingUpdate.partition is ${partition}: ordinals below it would keep the old process`;
  return undefined;
}

/** Whether the controller has rolled the workload out to `generation`, as `kubectl rollout status` judges it. */
export function rolloutView(kind: WorkloadKind, w: WorkloadObject, generation: number): RolloutView {
  const desired = w.spec?.replicas ?? 1;
  const s = w.status ?? {};
  const observed = s.observedGeneration ?? 0;
  const seen = `generation ${generation} observed ${observed}`;
  if (kind === 'Deployment') {
    const summary = `${seen}; ${s.updatedReplicas ?? 0}/${desired} updated, ${s.availableReplicas ?? 0}/${desired} available, ${s.replicas ?? 0} total`;
    if (observed < generation) return { done: false, summary };
    const progressing = s.conditions?.find((c) => c.type === 'Progressing');
    if (progressing?.reason === 'ProgressDeadlineExceeded') return { done: false, summary, failed: progressing.message ?? 'progress deadline exceeded' };
    const done = (s.updatedReplicas ?? 0) === desired && (s.replicas ?? 0) === desired && (s.availableReplicas ?? 0) === desired;
    return { done, summary };
  }
  const summary = `${seen}; ${s.updatedReplicas ?? 0}/${desired} updated, ${s.readyReplicas ?? 0}/${desired} ready; revision ${s.currentRevision ?? '?'} → ${s.updateRevision ?? '?'}`;
  if (observed < generation) return { done: false, summary };
  const ready = (s.readyReplicas ?? 0) === desired;
  const partition = w.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
  // kubectl: with a partition, the rollout is complete once the ordinals at or above it are updated.
  if (partition > 0) return { done: ready && (s.updatedReplicas ?? 0) >= desired - partition, summary };
  return { done: ready && (s.updatedReplicas ?? 0) === desired && s.updateRevision === s.currentRevision, summary };
}

export type PodProof =
  | { ok: true; after: string; restartedAt: string; detail: string }
  /** not_restarted: an old pod is still there or a container started before the write; not_running: a new container does not run. */
  | { ok: false; after: string; problem: string; code: 'not_restarted' | 'not_running' };

const podLabel = (p: PodObject) => p.metadata?.name ?? '(unnamed pod)';

/** `name@uid` of each pod, sorted: what the proof shows before and after. */
export function podIdentities(pods: PodObject[], withStart = false): string {
  return pods
    .map((p) => {
      const starts = withStart ? ` started ${(p.status?.containerStatuses ?? []).map((c) => c.state?.running?.startedAt ?? 'not running').join('/')}` : '';
      return `${podLabel(p)}@${p.metadata?.uid ?? '?'}${starts}`;
    })
    .sort()
    .join(', ');
}

function containerProblem(p: PodObject, writtenSecondNs: bigint, writtenAt: Date): { problem: string; code: 'not_restarted' | 'not_running' } | undefined {
  const containers = p.status?.containerStatuses ?? [];
  if (containers.length === 0) return { problem: `pod ${podLabel(p)} reports no containers (phase ${p.status?.phase ?? 'unknown'})`, code: 'not_running' };
  for (const c of containers) {
    const startedAt = c.state?.running?.startedAt;
    if (!startedAt) {
      const why = c.state?.waiting?.reason ?? (c.state?.terminated ? `terminated: ${c.state.terminated.reason ?? `exit ${c.state.terminated.exitCode}`}` : 'no state');
      return { problem: `pod ${podLabel(p)} container ${c.name ?? '?'} is not running (${why})`, code: 'not_running' };
    }
    const ns = parseRfc3339Ns(startedAt);
    // The kubelet reports whole seconds: a start in the same second as the write counts as after it.
    if (ns === null || ns < writtenSecondNs) {
      return { problem: `pod ${podLabel(p)} container ${c.name ?? '?'} started at ${startedAt}, before the write at ${writtenAt.toISOString()}`, code: 'not_restarted' };
    }
  }
  return undefined;
}

type PodProblem = { problem: string; code: 'not_restarted' | 'not_running' };

/** Everything that keeps the pods from proving a restart, in pod order. */
function podProblems(pods: PodObject[], seenUids: ReadonlySet<string>, writtenAt: Date): PodProblem[] {
  if (pods.length === 0) return [{ problem: 'the selector finds no pod', code: 'not_running' }];
  const writtenSecondNs = wholeSecondNs(writtenAt);
  const problems: PodProblem[] = [];
  for (const p of pods) {
    if (seenUids.has(p.metadata?.uid ?? '')) {
      const state = p.metadata?.deletionTimestamp ? `still terminating (since ${p.metadata.deletionTimestamp})` : 'still running: it was not replaced';
      problems.push({ problem: `pod ${podLabel(p)} (UID ${p.metadata?.uid}) existed before the restart and is ${state}`, code: 'not_restarted' });
    } else if (p.metadata?.deletionTimestamp) {
      problems.push({ problem: `pod ${podLabel(p)} is terminating`, code: 'not_running' });
    } else {
      const problem = containerProblem(p, writtenSecondNs, writtenAt);
      if (problem) problems.push(problem);
    }
  }
  return problems;
}

/**
 * The proof of a restart: every pod the selector finds is one that did not
 * exist before (a UID not seen), and each of its containers runs since the
 * write or later. A pod seen before that is still there, terminating or not,
 * means the old process may still hold the old material.
 */
export function proveNewPods(pods: PodObject[], seenUids: ReadonlySet<string>, writtenAt: Date): PodProof {
  const after = podIdentities(pods, true);
  const [first] = podProblems(pods, seenUids, writtenAt);
  if (first) return { ok: false, after, ...first };
  const starts = pods.flatMap((p) => (p.status?.containerStatuses ?? []).map((c) => c.state!.running!.startedAt!));
  const restartedAt = starts.reduce((latest, t) => (parseRfc3339Ns(t)! > parseRfc3339Ns(latest)! ? t : latest));
  return {
    ok: true,
    after,
    restartedAt,
    detail: `${pods.length} pod(s), none seen before the restart, every container running since the write at ${writtenAt.toISOString()} or later (last start ${restartedAt})`,
  };
}

/** Why a rollout is stuck, for its error: containers that do not run first (the likely cause), at most three. */
export function diagnosePods(pods: PodObject[], seenUids: ReadonlySet<string>, writtenAt: Date): string {
  const problems = podProblems(pods, seenUids, writtenAt).sort((a, b) => (a.code === b.code ? 0 : a.code === 'not_running' ? -1 : 1));
  const shown = problems.slice(0, 3).map((p) => p.problem);
  return shown.join('; ') + (problems.length > 3 ? `; and ${problems.length - 3} more` : '');
}
