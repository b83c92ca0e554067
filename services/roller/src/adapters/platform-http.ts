import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * One HTTP exchange with a platform API: the Docker Engine over its unix
 * socket, or the Kubernetes API server over TLS with its own CA (fetch can
 * do neither without an extra dependency).
 */
export interface PlatformCall {
  method: string;
  /** `http(s)://host:port/path?query`, or with `socketPath` the path and query only. */
  url: string;
  socketPath?: string;
  headers?: Record<string, string>;
  body?: string;
  /** CA bundle (PEM) the server's certificate must chain to; default Node's trust store. */
  ca?: string;
  timeoutMs: number;
}

export interface PlatformReply {
  status: number;
  text: string;
  headers: IncomingMessage['headers'];
}

/** The exchange failed below HTTP: `code` is Node's (ENOENT, EACCES, ECONNREFUSED, CERT_…) or TIMEOUT. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** A pod list of a large workload stays far below this; anything bigger is not an API answer. */
const MAX_REPLY_BYTES = 16 * 1024 * 1024;

export function platformRequest(call: PlatformCall): Promise<PlatformReply> {
  return new Promise((resolve, reject) => {
    let options: RequestOptions & { ca?: string };
    let send: typeof httpRequest;
    if (call.socketPath) {
      options = { socketPath: call.socketPath, path: call.url, headers: { Host: 'docker', ...call.headers } };
      send = httpRequest;
    } else {
      const url = new URL(call.url);
      options = { hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port, path: `${url.pathname}${url.search}`, headers: call.headers };
      if (url.protocol === 'https:') {
        if (call.ca) options.ca = call.ca;
        send = httpsRequest;
      } else send = httpRequest;
    }
    options.method = call.method;
    options.headers = { ...options.headers, ...(call.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(call.body)) } : {}) };

    const req = send(options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_REPLY_BYTES) {
          req.destroy(new TransportError(`the reply exceeded ${MAX_REPLY_BYTES} bytes`, 'EMSGSIZE'));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', (err) => reject(toTransportError(err)));
    });
    req.setTimeout(Math.max(1, call.timeoutMs), () => req.destroy(new TransportError(`no answer within ${call.timeoutMs} ms`, 'TIMEOUT')));
    req.on('error', (err) => reject(toTransportError(err)));
    req.end(call.body);
  });
}

function toTransportError(err: Error): TransportError {
  if (err instanceof TransportError) return err;
  return new TransportError(err.message, (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN');
}
