import { readFile } from 'node:fs/promises';
import type { RestartAdapter } from '@caracal-rotation/contracts';
import { platformRequest, TransportError } from './platform-http.js';
import { RestartError, remainingMs } from './restarter.js';

/**
 * The few API server calls the kubernetes adapter makes, with the pod's
 * service account by default: the API server from KUBERNETES_SERVICE_HOST/
 * PORT, the token (re-read on every restart: the kubelet rotates projected
 * tokens) and the cluster CA from /var/run/secrets/kubernetes.io/serviceaccount.
 * The holders file may name another api_server, token_file and ca_file.
 */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const DEFAULT_TOKEN_FILE = `${SERVICE_ACCOUNT_DIR}/token`;
export const DEFAULT_CA_FILE = `${SERVICE_ACCOUNT_DIR}/ca.crt`;
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';

/** Longest single exchange with the API server. */
const CALL_TIMEOUT_MS = 10_000;

export type KubernetesTarget = Extract<RestartAdapter, { adapter: 'kubernetes' }>;

export interface KubeClient {
  get<T>(path: string, deadline: number, what: string): Promise<T>;
  patch<T>(path: string, body: object, deadline: number, what: string): Promise<T>;
}

/** The API server URL: the holder's `api_server`, else the in-cluster service variables. */
export function apiServerUrl(target: Pick<KubernetesTarget, 'api_server'>, env: NodeJS.ProcessEnv = process.env): string {
  if (target.api_server) return target.api_server.replace(/\/+$/, '');
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  if (!host) {
    throw new RestartError('no API server: set api_server in the holders file, or run the roller in a pod (KUBERNETES_SERVICE_HOST is not set)', 'config');
  }
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

async function readConfigFile(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new RestartError(`${what} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})`, 'config');
  }
  if (!text) throw new RestartError(`${what} ${file} is empty`, 'config');
  return text;
}

/** The `message` of a Kubernetes Status body, if that is what came back. */
function statusMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message.slice(0, 300);
  } catch {
    // not JSON: fall through
  }
  return body.trim().slice(0, 300);
}

const CERT_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_LEAF|ERR_TLS/;

export async function connectKubernetes(target: KubernetesTarget, env: NodeJS.ProcessEnv = process.env): Promise<KubeClient> {
  const apiServer = apiServerUrl(target, env);
  const token = await readConfigFile(target.token_file ?? DEFAULT_TOKEN_FILE, 'service account token file');
  // In the cluster the service account's CA signs the API server; elsewhere, only when the holders file says so.
  const caFile = target.ca_file ?? (target.api_server ? undefined : DEFAULT_CA_FILE);
  const ca = caFile && apiServer.startsWith('https:') ? await readConfigFile(caFile, 'API server CA file') : undefined;

  async function call<T>(method: 'GET' | 'PATCH', path: string, deadline: number, what: string, body?: object): Promise<T> {
    const timeoutMs = Math.min(CALL_TIMEOUT_MS, remainingMs(deadline));
    if (timeoutMs <= 0) throw new RestartError(`${what}: the deadline passed`, 'timeout');
    let reply;
    try {
      reply = await platformRequest({
        method,
        url: `${apiServer}${path}`,
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(body ? { 'Content-Type': STRATEGIC_MERGE_PATCH } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        ca,
        timeoutMs,
      });
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      if (err.code === 'TIMEOUT') throw new RestartError(`${what}: the API server did not answer within ${timeoutMs} ms`, 'timeout');
      if (CERT_ERRORS.test(err.code)) {
        throw new RestartError(`${what}: the API server's certificate is not trusted (${err.code}); name its CA with ca_file in the holders file`, 'config');
      }
      throw new RestartError(`${what}: cannot reach the API server at ${new URL(apiServer).origin} (${err.code})`, 'unreachable');
    }
    const message = statusMessage(reply.text);
    if (reply.status === 401) throw new RestartError(`${what}: the API server refused the service account token (401 ${message})`, 'refused');
    if (reply.status === 403) throw new RestartError(`${what}: the API server answered 403 (${message}); the roller's Role needs get and patch on the workload and list on pods`, 'refused');
    if (reply.status === 404) throw new RestartError(`${what}: not found (${message})`, 'not_found');
    // Overload and server errors pass; a wait loop retries them until its deadline.
    if (reply.status === 429 || reply.status >= 500) throw new RestartError(`${what}: the API server answered ${reply.status} (${message})`, 'unreachable');
    if (reply.status < 200 || reply.status >= 300) throw new RestartError(`${what}: the API server answered ${reply.status} (${message})`, 'refused');
    try {
      return JSON.parse(reply.text) as T;
    } catch {
      throw new RestartError(`${what}: the API server answered ${reply.status} with a body that is not JSON`, 'refused');
    }
  }

  return {
    get: (path, deadline, what) => call('GET', path, deadline, what),
    patch: (path, body, deadline, what) => call('PATCH', path, deadline, what, body),
  };
}
