import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubernetesConnection } from './connection.js';
import { KubernetesStoreError } from './errors.js';

export interface ApiAnswer {
  status: number;
  /** The parsed JSON body; undefined when there was none or it was not JSON. */
  body: unknown;
}

export interface ApiRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH';
  /** Path under the API server, e.g. /api/v1/namespaces/caracal/secrets/caracal-runtime */
  path: string;
  body?: object;
  contentType?: string;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** A Secret is at most 1 MiB of data, base64 and JSON around it: anything far larger is not an API server's answer. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * The HTTP exchange with the API server, with node:http(s) rather than a
 * client library: the store needs four verbs on one resource type, and
 * node:https takes the cluster CA per request (fetch would need undici's
 * dispatcher or NODE_EXTRA_CA_CERTS). The bearer token is fetched per request
 * because the kubelet rotates projected tokens.
 *
 * Answers are returned whatever their status; only a failure to get one
 * throws (store_unreachable, transient).
 */
export class KubernetesApiClient {
  private readonly timeoutMs: number;

  constructor(
    private readonly connection: KubernetesConnection,
    opts: { requestTimeoutMs?: number } = {},
  ) {
    this.timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  get apiServer(): string {
    return this.connection.apiServer;
  }

  async send(req: ApiRequest): Promise<ApiAnswer> {
    const token = await this.connection.token();
    const url = new URL(`${this.connection.apiServer}${req.path}`);
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body), 'utf8');
    const headers: Record<string, string | number> = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    if (payload) {
      headers['Content-Type'] = req.contentType ?? 'application/json';
      headers['Content-Length'] = payload.length;
    }
    const requester = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const tls = url.protocol === 'https:' && this.connection.ca !== undefined ? { ca: this.connection.ca } : {};

    return new Promise<ApiAnswer>((resolve, reject) => {
      const fail = (message: string) => reject(new KubernetesStoreError('store_unreachable', message, undefined, true));
      const outgoing = requester(url, { method: req.method, headers, timeout: this.timeoutMs, ...tls }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            res.destroy();
            fail(`the API server at ${url.origin} sent more than ${MAX_RESPONSE_BYTES} bytes for ${req.method} ${req.path}`);
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', () => fail(`the answer of the API server at ${url.origin} to ${req.method} ${req.path} broke off`));
        res.on('end', () => {
          let body: unknown;
          try {
            body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      });
      outgoing.on('timeout', () => {
        outgoing.destroy();
        fail(`the API server at ${url.origin} did not answer ${req.method} ${req.path} within ${this.timeoutMs} ms`);
      });
      outgoing.on('error', (err: NodeJS.ErrnoException) => fail(`cannot reach the API server at ${url.origin}: ${describeTransportError(err)}`));
      outgoing.end(payload);
    });
  }
}

/** The transport error in words, with the fix for the common certificate case. Never the request. */
function describeTransportError(err: NodeJS.ErrnoException): string {
  const code = err.code ?? '';
  if (/SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_LEAF|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE/.test(code)) {
    return `${code}: the API server's certificate is not signed by a trusted CA; set CARACAL_K8S_CA (or CARACAL_K8S_CA_FILE) to the cluster CA`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${code}: the API server's certificate does not name this host`;
  return code || err.message;
}
