import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the Kubernetes API server, for tests of the code that
 * talks to it (the roller's workload restarts, the Secret store). Resources
 * plug in as route handlers; the server answers what the real API server
 * answers for everything else: a 404 Status object.
 */
export interface KubeRequest {
  method: string;
  /** Path without the query string, e.g. /apis/apps/v1/namespaces/caracal/statefulsets/caracal-sts */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** The parsed JSON body, if any. */
  body: unknown;
}

export interface KubeResponse {
  status: number;
  body: unknown;
}

/** Returns a response when the request is its own, undefined to let the next handler try. */
export type KubeHandler = (req: KubeRequest) => KubeResponse | undefined | Promise<KubeResponse | undefined>;

export interface KubernetesApiDouble {
  url: string;
  /** The bearer token the double accepts. */
  token: string;
  /** Every request received, in order (tests assert on verbs and paths). */
  requests: { method: string; path: string }[];
  close(): Promise<void>;
}

/** The Status object the API server answers with on errors. */
export function kubeStatus(code: number, reason: string, message: string): KubeResponse {
  return { status: code, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code } };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export interface KubernetesApiDoubleOptions {
  /** Serve HTTPS with this key and certificate (PEM), to test CA handling; default plain HTTP. */
  tls?: { key: string; cert: string };
}

export async function startKubernetesApiDouble(handlers: readonly KubeHandler[], token = 'test-token', options: KubernetesApiDoubleOptions = {}): Promise<KubernetesApiDouble> {
  const requests: { method: string; path: string }[] = [];
  const listener: RequestListener = (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const method = req.method ?? 'GET';
      requests.push({ method, path: url.pathname });
      let answer: KubeResponse | undefined;
      if (req.headers.authorization !== `Bearer ${token}`) {
        answer = kubeStatus(401, 'Unauthorized', 'Unauthorized');
      } else {
        const request: KubeRequest = { method, path: url.pathname, query: url.searchParams, headers: req.headers, body: await readBody(req) };
        for (const handler of handlers) {
          answer = await handler(request);
          if (answer) break;
        }
      }
      answer ??= kubeStatus(404, 'NotFound', `the server could not find the requested resource (${method} ${url.pathname})`);
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    })().catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify(kubeStatus(500, 'InternalError', String(err)).body));
    });
  };
  const server: Server = options.tls ? createTlsServer(options.tls, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    token,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
