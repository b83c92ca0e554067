import { readFile } from 'node:fs/promises';

/**
 * Restarts a Kubernetes Deployment the way `kubectl rollout restart` and
 * Reloader do: a strategic-merge PATCH of the pod template annotation
 * `kubectl.kubernetes.io/restartedAt`, which makes the Deployment controller
 * roll every pod; then waits until the rollout is complete.
 *
 * Talks to the API server with the pod's service account: the bearer token is
 * re-read from its file on every restart (projected tokens are rotated by the
 * kubelet). The API server's certificate is checked against Node's trust store:
 * run the roller with `NODE_EXTRA_CA_CERTS=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt`
 * (deploy/k8s does) so that the cluster CA is trusted.
 *
 * RBAC needed: `get` and `patch` on `apps/deployments` for the named
 * Deployment (resourceNames); `list` on `pods` lets a failed rollout say
 * which pods are stuck and why (optional: without it the error is shorter).
 */

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const DEFAULT_TOKEN_FILE = `${SERVICE_ACCOUNT_DIR}/token`;
export const SERVICE_ACCOUNT_CA_FILE = `${SERVICE_ACCOUNT_DIR}/ca.crt`;
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';

export interface KubernetesTarget {
  namespace: string;
  deployment: string;
  /** Base URL of the API server; default `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`. */
  api_server?: string;
  /** Bearer token file; default the pod's service account token. */
  token_file?: string;
}

export interface KubernetesRestartOptions {
  /** Bound on the whole restart: the PATCH and waiting for the rollout. */
  timeoutMs: number;
  /** Interval between status reads. */
  pollMs?: number;
  /** Where KUBERNETES_SERVICE_HOST/PORT are read from (tests pin it). */
  env?: NodeJS.ProcessEnv;
  /** The annotation's value (tests pin it). */
  now?: () => Date;
}

export interface RolloutStatus {
  generation: number;
  observedGeneration: number;
  desired: number;
  replicas: number;
  updated: number;
  available: number;
}

export interface KubernetesRestartResult {
  restartedAt: string;
  /** The Deployment's generation right after the PATCH. */
  generation: number;
  status: RolloutStatus;
  polls: number;
}

/** The slice of a Deployment this adapter reads. */
interface DeploymentObject {
  metadata?: { generation?: number };
  spec?: { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type?: string; status?: string; reason?: string; message?: string }[];
  };
}

const DEFAULT_POLL_MS = 1_000;
/** Longest single HTTP exchange with the API server. */
const REQUEST_TIMEOUT_MS = 10_000;
/** The pod diagnosis runs after the deadline: keep it short. */
const DIAGNOSIS_TIMEOUT_MS = 2_000;
const MAX_POD_PROBLEMS = 3;
/** Errors while polling that do not end the wait. */
const TRANSIENT = new Set<KubernetesRestartError['code']>(['timeout', 'unreachable', 'api']);

export class KubernetesRestartError extends Error {
  constructor(
    message: string,
    readonly code: 'config' | 'auth' | 'not_found' | 'api' | 'unreachable' | 'progress_deadline' | 'timeout',
  ) {
    super(message);
    this.name = 'KubernetesRestartError';
  }
}

/** The API server URL: the holder's `api_server`, else the in-cluster service variables. */
export function apiServerUrl(target: Pick<KubernetesTarget, 'api_server'>, env: NodeJS.ProcessEnv = process.env): string {
  if (target.api_server) return target.api_server.replace(/\/+$/, '');
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  if (!host) {
    throw new KubernetesRestartError(
      'no API server: set api_server in the holders file, or run the roller in a pod (KUBERNETES_SERVICE_HOST is not set)',
      'config',
    );
  }
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** `/apis/apps/v1/namespaces/<ns>/deployments/<name>` under the API server. */
export function deploymentUrl(apiServer: string, namespace: string, deployment: string): string {
  return `${apiServer}/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments/${encodeURIComponent(deployment)}`;
}

/** The patch `kubectl rollout restart` sends: only the pod template annotation changes. */
export function restartPatch(restartedAt: string): object {
  return { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: restartedAt } } } } };
}

/**
 * Reads a rollout the way `kubectl rollout status` judges it. Done when the
 * controller has seen the latest spec and every desired replica is updated and
 * available, with no old replica left.
 */
export function rolloutStatus(d: DeploymentObject): RolloutStatus & { done: boolean; deadlineExceeded?: string } {
  const status: RolloutStatus = {
    generation: d.metadata?.generation ?? 0,
    observedGeneration: d.status?.observedGeneration ?? 0,
    desired: d.spec?.replicas ?? 1,
    replicas: d.status?.replicas ?? 0,
    updated: d.status?.updatedReplicas ?? 0,
    available: d.status?.availableReplicas ?? 0,
  };
  const progressing = d.status?.conditions?.find((c) => c.type === 'Progressing');
  const deadlineExceeded = progressing?.reason === 'ProgressDeadlineExceeded' ? (progressing.message ?? 'progress deadline exceeded') : undefined;
  const done =
    status.observedGeneration >= status.generation &&
    status.updated === status.desired &&
    status.replicas === status.desired &&
    status.available === status.desired;
  return { ...status, done, ...(deadlineExceeded ? { deadlineExceeded } : {}) };
}

function summary(s: RolloutStatus): string {
  return `generation ${s.generation} observed ${s.observedGeneration}; ${s.updated}/${s.desired} updated, ${s.available}/${s.desired} available, ${s.replicas} total`;
}

async function readToken(file: string): Promise<string> {
  let token: string;
  try {
    token = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new KubernetesRestartError(`service account token file ${file} cannot be read (${code})`, 'config');
  }
  if (!token) throw new KubernetesRestartError(`service account token file ${file} is empty`, 'config');
  return token;
}

/** The `message` of a Kubernetes Status body, if that is what came back. */
function statusMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message.slice(0, 300);
  } catch {
    // not JSON: fall through
  }
  return body.slice(0, 300);
}

function hintFor(err: Error): string {
  const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? '';
  if (/SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_LEAF|CERT_UNTRUSTED/.test(code)) {
    return `${cause?.message ?? code}; the API server's CA is not trusted: start the roller with NODE_EXTRA_CA_CERTS=${SERVICE_ACCOUNT_CA_FILE}`;
  }
  return cause?.message ?? err.message;
}

interface Call {
  method: 'GET' | 'PATCH';
  url: string;
  token: string;
  body?: string;
  deadline: number;
  what: string;
}

async function call<T = DeploymentObject>({ method, url, token, body, deadline, what }: Call): Promise<T> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) throw new KubernetesRestartError(`${what}: timed out`, 'timeout');
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        Accept: 'application/json',
        ...(body !== undefined ? { 'Content-Type': STRATEGIC_MERGE_PATCH } : {}),
      },
      body,
      signal: AbortSignal.timeout(Math.min(remaining, REQUEST_TIMEOUT_MS)),
    });
  } catch (err) {
    const e = err as Error;
    if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new KubernetesRestartError(`${what}: the API server did not answer in time`, 'timeout');
    throw new KubernetesRestartError(`${what}: cannot reach the API server at ${new URL(url).origin}: ${hintFor(e)}`, 'unreachable');
  }
  const text = await res.text();
  if (res.status === 401 || res.status === 403) {
    throw new KubernetesRestartError(
      `${what}: the API server answered ${res.status} (${statusMessage(text)}); the roller's service account needs get and patch on this Deployment (deploy/k8s roller Role)`,
      'auth',
    );
  }
  if (res.status === 404) throw new KubernetesRestartError(`${what}: not found (${statusMessage(text)})`, 'not_found');
  if (!res.ok) throw new KubernetesRestartError(`${what}: the API server answered ${res.status} (${statusMessage(text)})`, 'api');
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new KubernetesRestartError(`${what}: the API server answered ${res.status} with a body that is not JSON`, 'api');
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface PodList {
  items?: {
    metadata?: { name?: string };
    status?: {
      phase?: string;
      containerStatuses?: { name?: string; ready?: boolean; state?: { waiting?: { reason?: string; message?: string }; terminated?: { reason?: string; exitCode?: number } } }[];
    };
  }[];
}

/**
 * Best effort, for the error message of a failed rollout: which of the
 * Deployment's pods are not ready and why (CrashLoopBackOff, ImagePullBackOff,
 * a failing readiness probe …). Never throws.
 */
async function podProblems(apiServer: string, namespace: string, selector: Record<string, string> | undefined, token: string): Promise<string> {
  if (!selector || Object.keys(selector).length === 0) return '';
  const labelSelector = Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const url = `${apiServer}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods?labelSelector=${encodeURIComponent(labelSelector)}`;
  try {
    const pods = await call<PodList>({ method: 'GET', url, token, deadline: Date.now() + DIAGNOSIS_TIMEOUT_MS, what: 'pods' });
    const problems: string[] = [];
    for (const pod of pods.items ?? []) {
      for (const c of pod.status?.containerStatuses ?? []) {
        if (c.ready) continue;
        const why = c.state?.waiting?.reason ?? c.state?.terminated?.reason ?? 'not ready';
        problems.push(`${pod.metadata?.name ?? '?'}/${c.name ?? '?'}: ${why}`);
      }
      if (!pod.status?.containerStatuses?.length && pod.status?.phase) problems.push(`${pod.metadata?.name ?? '?'}: ${pod.status.phase}`);
    }
    if (problems.length === 0) return '';
    const shown = problems.slice(0, MAX_POD_PROBLEMS).join('; ');
    return `; pods: ${shown}${problems.length > MAX_POD_PROBLEMS ? ` and ${problems.length - MAX_POD_PROBLEMS} more` : ''}`;
  } catch {
    return '';
  }
}

/**
 * PATCHes the Deployment's restartedAt annotation, then polls it until the
 * rollout completes; rejects with a KubernetesRestartError when the API
 * refuses, the rollout exceeds its progress deadline, or `timeoutMs` passes.
 */
export async function restartDeployment(target: KubernetesTarget, opts: KubernetesRestartOptions): Promise<KubernetesRestartResult> {
  const deadline = Date.now() + opts.timeoutMs;
  const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  const apiServer = apiServerUrl(target, opts.env);
  const url = deploymentUrl(apiServer, target.namespace, target.deployment);
  const name = `deployment ${target.namespace}/${target.deployment}`;
  const token = await readToken(target.token_file ?? DEFAULT_TOKEN_FILE);

  const restartedAt = (opts.now?.() ?? new Date()).toISOString();
  const patched = await call({ method: 'PATCH', url, token, body: JSON.stringify(restartPatch(restartedAt)), deadline, what: `restart ${name}` });
  const generation = patched.metadata?.generation ?? 0;

  let polls = 0;
  let last: ReturnType<typeof rolloutStatus> | undefined;
  let selector = patched.spec?.selector?.matchLabels;
  let transient = '';
  for (;;) {
    polls += 1;
    try {
      const current = await call({ method: 'GET', url, token, deadline, what: `rollout of ${name}` });
      transient = '';
      last = rolloutStatus(current);
      selector = current.spec?.selector?.matchLabels ?? selector;
      // A rollout is ours only once the controller has seen our generation.
      if (last.done && last.observedGeneration >= generation) return { restartedAt, generation, status: last, polls };
      if (last.deadlineExceeded && last.observedGeneration >= generation) {
        const pods = await podProblems(apiServer, target.namespace, selector, token);
        throw new KubernetesRestartError(`rollout of ${name} failed: ${last.deadlineExceeded} (${summary(last)}${pods})`, 'progress_deadline');
      }
    } catch (err) {
      // The PATCH went through: a slow or briefly failing API server is waited out
      // until the deadline; a refusal (401/403/404) or a failed rollout is final.
      if (!(err instanceof KubernetesRestartError) || !TRANSIENT.has(err.code)) throw err;
      transient = err.message;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    await sleep(Math.min(pollMs, remaining));
  }
  const pods = last ? await podProblems(apiServer, target.namespace, selector, token) : '';
  const where = last ? ` (${summary(last)}${pods})` : '';
  throw new KubernetesRestartError(`rollout of ${name} timed out after ${opts.timeoutMs} ms${where}${transient ? `; last error: ${transient}` : ''}`, 'timeout');
}
