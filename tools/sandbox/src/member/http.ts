import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The small HTTP toolkit the stand-in services share. */

export interface RouteContext {
  url: URL;
  match: RegExpExecArray | null;
}
export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: RouteContext) => Promise<void> | void;
export interface Route {
  method: 'GET' | 'POST';
  path: string | RegExp;
  handler: Handler;
}

/** Thrown by handlers to answer with a status and `{error}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'request body too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export async function readJsonObject(req: IncomingMessage, options: { emptyIsObject?: boolean } = {}): Promise<Record<string, unknown>> {
  const body = await readBody(req);
  // For endpoints whose body is optional: an empty POST means "no options".
  if (options.emptyIsObject && body.toString('utf8').trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HttpError(400, 'body must be a JSON object');
  return parsed as Record<string, unknown>;
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/**
 * Constant-time token check. Hashing both sides first gives equal-length
 * inputs, so neither the content nor the length of the expected token leaks.
 */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

export function requireBearer(req: IncomingMessage, expected: string): void {
  if (!tokenMatches(bearerToken(req), expected)) throw new HttpError(401, 'unauthorized');
}

export function createRouter(routes: readonly Route[], onError: (err: unknown) => void) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const route = routes.find((r) => r.method === req.method && matches(r.path, url.pathname));
    if (!route) {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    const match = typeof route.path === 'string' ? null : route.path.exec(url.pathname);
    Promise.resolve()
      .then(() => route.handler(req, res, { url, match }))
      .catch((err: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (err instanceof HttpError) {
          sendJson(res, err.status, { error: err.message });
          return;
        }
        onError(err);
        sendJson(res, 500, { error: 'internal error' });
      });
  };
}

function matches(path: string | RegExp, pathname: string): boolean {
  return typeof path === 'string' ? path === pathname : path.test(pathname);
}
