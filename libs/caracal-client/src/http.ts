import { TransientError } from '@caracal-rotation/bus';
import { noteCaracalRequest } from './observe.js';
import { CARACAL_ROUTES, type CaracalRouteName } from './routes.js';

export interface CaracalRequest {
  /** The service's base URL, from the holders file. */
  baseUrl: string;
  /** Aborts the request (a check running out of time). */
  signal?: AbortSignal;
  params?: Record<string, string>;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

export interface CaracalResponse {
  status: number;
  text: string;
  headers: Headers;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** The URL of a route with its parameters filled in (each one URL-encoded). */
export function routeUrl(name: CaracalRouteName, request: Pick<CaracalRequest, 'baseUrl' | 'params' | 'query'>): URL {
  const path = CARACAL_ROUTES[name].path.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = request.params?.[key];
    if (value === undefined) throw new Error(`${name}: parameter ${key} is missing`);
    return encodeURIComponent(value);
  });
  // Relative to the base URL, so a service behind a path prefix keeps it.
  const url = new URL(path.replace(/^\//, ''), request.baseUrl.endsWith('/') ? request.baseUrl : `${request.baseUrl}/`);
  for (const [k, v] of Object.entries(request.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  return url;
}

/**
 * Sends one of the routes Caracal serves. Whatever Caracal answers is
 * returned (a refusal is often the point of a check); only a network failure
 * throws, as a TransientError, since a restarting service comes back.
 */
export async function caracalRequest(name: CaracalRouteName, request: CaracalRequest): Promise<CaracalResponse> {
  const route = CARACAL_ROUTES[name];
  const url = routeUrl(name, request);
  noteCaracalRequest(name);
  let res: Response;
  try {
    res = await fetch(url, {
      method: route.method,
      headers: { ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}), ...request.headers },
      body: request.body,
      signal: request.signal ? AbortSignal.any([request.signal, AbortSignal.timeout(request.timeoutMs ?? 10_000)]) : AbortSignal.timeout(request.timeoutMs ?? 10_000),
    });
  } catch (err) {
    throw new TransientError(`${route.method} ${url.origin}${url.pathname} failed: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`, { cause: err });
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, headers: res.headers, json };
}

/** An answer a caller cannot work with: a 5xx is transient (the service may be restarting), anything else is not. */
export function unexpectedAnswer(name: CaracalRouteName, res: CaracalResponse): Error {
  const route = CARACAL_ROUTES[name];
  const message = `${route.method} ${route.path} answered ${res.status}${res.text ? `: ${res.text.slice(0, 200)}` : ''}`;
  return res.status >= 500 ? new TransientError(message) : new Error(message);
}
