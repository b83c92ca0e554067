import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { SecretsError } from '../errors.js';
import { errnoCode } from '../fs-util.js';

/** Where a pod finds its service account: token, CA and namespace (projected by the kubelet). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubernetesConnectionOptions {
  /** Base URL of the API server; default `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`. */
  apiServer?: string;
  /** Default: the pod's namespace (the service account's `namespace` file). */
  namespace?: string;
  /** A bearer token used as is. Without it the token file is read before every request. */
  token?: string;
  /** Default: the pod's service account token, which the kubelet rotates (hence re-read). */
  tokenFile?: string;
  /** PEM of the CA that signed the API server's certificate; default the service account's `ca.crt` when present. */
  ca?: string;
  /** Where KUBERNETES_SERVICE_HOST/PORT are read from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Default SERVICE_ACCOUNT_DIR; tests point it elsewhere. */
  serviceAccountDir?: string;
}

export interface KubernetesConnection {
  apiServer: string;
  namespace: string;
  /** The bearer token for the next request. */
  token(): Promise<string>;
  /** Trusted CA (PEM) for an https API server; undefined: Node's trust store. */
  ca?: string;
}

const NAMESPACE_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Resolves how to reach the API server, with in-cluster defaults. Runs once
 * at start, synchronously like the other configuration loaders, and fails
 * with what to set instead of failing later at the first request.
 */
export function resolveKubernetesConnection(opts: KubernetesConnectionOptions = {}): KubernetesConnection {
  const env = opts.env ?? process.env;
  const saDir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;

  const apiServer = apiServerOf(opts.apiServer, env);

  const namespace = opts.namespace ?? readOptional(`${saDir}/namespace`);
  if (namespace === undefined) {
    throw new SecretsError('invalid_config', `no Kubernetes namespace: set CARACAL_K8S_NAMESPACE, or run in a pod (${saDir}/namespace is absent)`);
  }
  if (namespace.length > 63 || !NAMESPACE_PATTERN.test(namespace)) {
    throw new SecretsError('invalid_config', `Kubernetes namespace must be a DNS label (${NAMESPACE_PATTERN.source}, at most 63 characters)`);
  }

  let token: () => Promise<string>;
  if (opts.token !== undefined) {
    const fixed = opts.token.trim();
    if (fixed === '') throw new SecretsError('invalid_config', 'the Kubernetes bearer token (CARACAL_K8S_TOKEN) is empty');
    token = async () => fixed;
  } else {
    const file = opts.tokenFile ?? `${saDir}/token`;
    if (!existsSync(file)) {
      throw new SecretsError('invalid_config', `no Kubernetes token: set CARACAL_K8S_TOKEN (or CARACAL_K8S_TOKEN_FILE), or run in a pod with a service account token (${file} is absent)`);
    }
    token = () => readTokenFile(file);
  }

  const ca = opts.ca ?? (apiServer.startsWith('https:') ? readOptional(`${saDir}/ca.crt`) : undefined);
  return { apiServer, namespace, token, ...(ca !== undefined ? { ca } : {}) };
}

function apiServerOf(explicit: string | undefined, env: NodeJS.ProcessEnv): string {
  if (explicit !== undefined && explicit !== '') {
    if (!URL.canParse(explicit) || !['http:', 'https:'].includes(new URL(explicit).protocol)) {
      throw new SecretsError('invalid_config', 'the Kubernetes API server (CARACAL_K8S_API_SERVER) must be an http:// or https:// URL');
    }
    return explicit.replace(/\/+$/, '');
  }
  const host = env.KUBERNETES_SERVICE_HOST;
  if (!host) {
    throw new SecretsError('invalid_config', 'no Kubernetes API server: set CARACAL_K8S_API_SERVER, or run in a pod (KUBERNETES_SERVICE_HOST is not set)');
  }
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function readOptional(file: string): string | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim();
    return text === '' ? undefined : text;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new SecretsError('invalid_config', `${file} cannot be read (${errnoCode(err) ?? 'unknown error'})`);
  }
}

async function readTokenFile(file: string): Promise<string> {
  let token: string;
  try {
    token = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new SecretsError('invalid_config', `the Kubernetes token file ${file} cannot be read (${errnoCode(err) ?? 'unknown error'})`);
  }
  if (token === '') throw new SecretsError('invalid_config', `the Kubernetes token file ${file} is empty`);
  return token;
}
