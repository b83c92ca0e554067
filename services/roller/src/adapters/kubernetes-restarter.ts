import { connectKubernetes, type KubeClient, type KubernetesTarget } from './kubernetes-client.js';
import { diagnosePods, podIdentities, proveNewPods, rolloutView, selectorQuery, unreplaceableReason, type PodObject, type RolloutView, type WorkloadObject } from './kubernetes-rollout.js';
import { RestartError, remainingMs, sleep, type RestartRequest, type RestartResult, type Restarter } from './restarter.js';

/**
 * Restarts a Deployment or StatefulSet the way `kubectl rollout restart`
 * does: a strategic-merge patch of the pod template annotation
 * `kubectl.kubernetes.io/restartedAt`, which makes the controller replace
 * every pod. Then it waits for the rollout as `kubectl rollout status` does,
 * and proves the restart from the pods: every pod the workload's selector
 * finds has a UID not seen before the patch and containers running since
 * the write.
 *
 * RBAC: get and patch on the workload (apps deployments or statefulsets),
 * list on pods in its namespace.
 */
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
const FIELD_MANAGER = 'caracal-rotation-roller';

/** The patch `kubectl rollout restart` sends: only the pod template annotation changes. */
export function restartPatch(restartedAt: string): object {
  return { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: restartedAt } } } } };
}

interface PodList {
  items?: PodObject[];
}

/** Errors of a single call that a wait loop rides out until its deadline. */
const passing = (err: unknown) => err instanceof RestartError && (err.code === 'unreachable' || err.code === 'timeout');

export function kubernetesRestarter(target: KubernetesTarget, opts: { pollMs?: number; env?: NodeJS.ProcessEnv } = {}): Restarter {
  const pollMs = opts.pollMs ?? 1_000;
  const plural = target.kind === 'Deployment' ? 'deployments' : 'statefulsets';
  const label = `${target.kind.toLowerCase()} ${target.namespace}/${target.name}`;
  const path = `/apis/apps/v1/namespaces/${encodeURIComponent(target.namespace)}/${plural}/${encodeURIComponent(target.name)}`;

  /** The first thing wrong with the current pods, for an error message; never throws. */
  async function podTrouble(client: KubeClient, podsPath: string, seen: ReadonlySet<string>, writtenAt: Date): Promise<string> {
    try {
      const pods = await client.get<PodList>(podsPath, Date.now() + 2_000, `pods of ${label}`);
      const trouble = diagnosePods(pods.items ?? [], seen, writtenAt);
      return trouble ? `; ${trouble}` : '';
    } catch {
      return '';
    }
  }

  async function awaitRollout(client: KubeClient, generation: number, deadline: number, trouble: () => Promise<string>): Promise<RolloutView> {
    let view: RolloutView | undefined;
    let lastError = '';
    for (;;) {
      try {
        view = rolloutView(target.kind, await client.get<WorkloadObject>(path, deadline, `rollout of ${label}`), generation);
        lastError = '';
      } catch (err) {
        if (!passing(err)) throw err;
        lastError = (err as Error).message;
      }
      if (view?.failed) throw new RestartError(`rollout of ${label} failed: ${view.failed} (${view.summary}${await trouble()})`, 'not_running');
      if (view?.done) return view;
      if (remainingMs(deadline) <= pollMs) {
        const where = view ? ` (${view.summary}${await trouble()})` : '';
        throw new RestartError(`rollout of ${label} did not complete before the deadline${where}${lastError ? `; last error: ${lastError}` : ''}`, 'timeout');
      }
      await sleep(pollMs);
    }
  }

  async function restartAndProve({ writtenAt, deadline }: RestartRequest): Promise<RestartResult> {
    const client = await connectKubernetes(target, opts.env);
    const workload = await client.get<WorkloadObject>(path, deadline, `read ${label}`);
    const unreplaceable = unreplaceableReason(target.kind, workload);
    if (unreplaceable) throw new RestartError(`cannot restart ${label}: ${unreplaceable}`, 'config');
    if ((workload.spec?.replicas ?? 1) === 0) throw new RestartError(`${label} has 0 replicas: no process runs to restart`, 'not_running');
    const selector = selectorQuery(workload.spec?.selector);
    if (!selector) throw new RestartError(`${label} has an empty selector: its pods cannot be told apart`, 'config');
    const podsPath = `/api/v1/namespaces/${encodeURIComponent(target.namespace)}/pods?labelSelector=${encodeURIComponent(selector)}`;

    const before = (await client.get<PodList>(podsPath, deadline, `pods of ${label}`)).items ?? [];
    const seen = new Set(before.map((p) => p.metadata?.uid ?? ''));
    const beforeText = podIdentities(before);

    // Milliseconds, not kubectl's whole seconds: two restarts within a second must still change the template.
    const patched = await client.patch<WorkloadObject>(`${path}?fieldManager=${FIELD_MANAGER}`, restartPatch(new Date().toISOString()), deadline, `restart ${label}`);
    const generation = patched.metadata?.generation ?? 0;
    const proofSoFar = { before: beforeText, after: null };

    let view: RolloutView;
    try {
      view = await awaitRollout(client, generation, deadline, () => podTrouble(client, podsPath, seen, writtenAt));
    } catch (err) {
      if (err instanceof RestartError) throw new RestartError(err.message, err.code, proofSoFar);
      throw err;
    }

    // Old pods may still be terminating after the controller counts the rollout done.
    let last: ReturnType<typeof proveNewPods> | undefined;
    let lastError = '';
    for (;;) {
      try {
        last = proveNewPods((await client.get<PodList>(podsPath, deadline, `pods of ${label}`)).items ?? [], seen, writtenAt);
        lastError = '';
      } catch (err) {
        if (!passing(err)) throw new RestartError((err as Error).message, err instanceof RestartError ? err.code : 'unreachable', proofSoFar);
        lastError = (err as Error).message;
      }
      if (last?.ok) return { restartedAt: last.restartedAt, proof: { before: beforeText, after: last.after, detail: `rollout complete (${view.summary}); ${last.detail}` } };
      if (remainingMs(deadline) <= pollMs) {
        if (last) throw new RestartError(`${label}: the rollout is complete (${view.summary}) but ${last.problem}`, last.code, { before: beforeText, after: last.after });
        throw new RestartError(`${label}: the pods could not be read before the deadline (${lastError})`, 'timeout', proofSoFar);
      }
      await sleep(pollMs);
    }
  }

  return { adapter: 'kubernetes', target: label, restartAndProve };
}
