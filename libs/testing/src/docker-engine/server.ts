import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import { EngineError, SupervisedContainer, type ContainerSpec } from './container.js';
import { inspectView, matchesFilters, parseFilters, summaryView } from './views.js';

/**
 * A local stand-in for the Docker Engine API on a unix socket, for tests of
 * code that restarts containers (the roller's docker adapter) and for test
 * fleets that want "containers" without a Docker daemon. Each container is a
 * real child process; the routes answer with the shapes of the Engine API
 * reference (ContainerInspectResponse, ContainerSummary, ErrorResponse).
 */
export const ENGINE_API_VERSION = '1.45';
export const ENGINE_MIN_API_VERSION = '1.24';

export interface EngineRequest {
  method: string;
  /** The path without its version prefix: /v1.43/containers/x/json → /containers/x/json */
  path: string;
  query: URLSearchParams;
}

export interface EngineResponse {
  status: number;
  /** JSON body; none for 204 and 304. */
  body?: unknown;
}

/** Answers a request instead of the engine (a refusal, a restart that does nothing); undefined lets the engine answer. */
export type EngineInterceptor = (req: EngineRequest) => EngineResponse | undefined | Promise<EngineResponse | undefined>;

export interface DockerEngineDouble {
  socketPath: string;
  /** Every request received, in order; `path` keeps its version prefix. */
  requests: { method: string; path: string; query: string }[];
  /** Creates a container and starts its process (docker run). */
  run(spec: ContainerSpec): Promise<SupervisedContainer>;
  /** Creates a container without starting it (docker create). */
  create(spec: ContainerSpec): SupervisedContainer;
  /** A container by id, name or unique id prefix. */
  container(ref: string): SupervisedContainer | undefined;
  /** Puts an interceptor in front of the engine (undefined removes it). */
  intercept(interceptor: EngineInterceptor | undefined): void;
  /** Kills every container's process, closes the socket and removes its directory. */
  close(): Promise<void>;
}

export interface DockerEngineDoubleOptions {
  /** Where to listen; default a fresh private directory under the OS temp dir. */
  socketPath?: string;
  /** The newest API version this engine claims (an older daemon, for version negotiation); default ENGINE_API_VERSION. */
  apiVersion?: string;
}

const VERSIONED = /^\/v(\d+)\.(\d+)(\/.*)$/;
const CONTAINER_ROUTE = /^\/containers\/([^/]+)\/(json|start|stop|restart|kill)$/;

const message = (status: number, text: string): EngineResponse => ({ status, body: { message: text } });

function compareVersions(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number) as [number, number];
  const [bm, bn] = b.split('.').map(Number) as [number, number];
  return am - bm || an - bn;
}

/** `t` as Docker's strconv.Atoi reads it; undefined when absent. */
function stopTimeout(query: URLSearchParams): number | undefined {
  const raw = query.get('t') ?? query.get('timeout');
  if (raw === null || raw === '') return undefined;
  if (!/^-?\d+$/.test(raw)) throw new EngineError(400, `strconv.Atoi: parsing "${raw}": invalid syntax`);
  return Number(raw);
}

/** A signal by name (SIGINT, INT) or number, as the daemon's signal.ParseSignal accepts it. */
function parseSignal(raw: string | null): NodeJS.Signals | undefined {
  if (raw === null || raw === '') return undefined;
  const byNumber = /^\d+$/.test(raw) ? Object.entries(constants.signals).find(([, n]) => n === Number(raw))?.[0] : undefined;
  const name = byNumber ?? (raw.toUpperCase().startsWith('SIG') ? raw.toUpperCase() : `SIG${raw.toUpperCase()}`);
  if (!(name in constants.signals)) throw new EngineError(400, `Invalid signal: ${raw}`);
  return name as NodeJS.Signals;
}

export async function startDockerEngineDouble(options: DockerEngineDoubleOptions = {}): Promise<DockerEngineDouble> {
  const ownDir = options.socketPath ? undefined : await mkdtemp(path.join(tmpdir(), 'docker-engine-'));
  const socketPath = options.socketPath ?? path.join(ownDir!, 'docker.sock');
  const containers: SupervisedContainer[] = [];
  const requests: DockerEngineDouble['requests'] = [];
  let interceptor: EngineInterceptor | undefined;
  const apiVersion = options.apiVersion ?? ENGINE_API_VERSION;

  function find(ref: string): SupervisedContainer | undefined {
    const name = ref.replace(/^\//, '');
    const exact = containers.find((c) => c.id === ref || c.name === name);
    if (exact) return exact;
    const byPrefix = containers.filter((c) => c.id.startsWith(ref));
    if (byPrefix.length > 1) throw new EngineError(400, `multiple IDs found with provided prefix: ${ref}`);
    return byPrefix[0];
  }

  function create(spec: ContainerSpec): SupervisedContainer {
    const container = new SupervisedContainer(spec);
    if (containers.some((c) => c.name === container.name)) {
      throw new Error(`Conflict. The container name "/${container.name}" is already in use`);
    }
    containers.push(container);
    return container;
  }

  async function route(req: EngineRequest): Promise<EngineResponse | 'ping'> {
    if (req.path === '/_ping' && (req.method === 'GET' || req.method === 'HEAD')) return 'ping';
    if (req.path === '/version' && req.method === 'GET') {
      return {
        status: 200,
        body: {
          Platform: { Name: 'Docker Engine double (caracal-rotation testing)' },
          Version: '27.0.0-double',
          ApiVersion: apiVersion,
          MinAPIVersion: ENGINE_MIN_API_VERSION,
          Os: 'linux',
          Arch: process.arch === 'x64' ? 'amd64' : process.arch,
          KernelVersion: '',
          GoVersion: 'none',
          GitCommit: 'double',
          BuildTime: '',
        },
      };
    }
    if (req.path === '/containers/json' && req.method === 'GET') {
      let filters: Map<string, string[]>;
      try {
        filters = parseFilters(req.query.get('filters'));
      } catch (err) {
        return message(400, (err as Error).message);
      }
      const all = ['1', 'true', 'True'].includes(req.query.get('all') ?? '');
      const listed = containers.filter((c) => (all || c.running) && matchesFilters(c, filters));
      // Newest first, as docker ps lists them.
      listed.sort((a, b) => (b.createdNs > a.createdNs ? 1 : -1));
      const limit = Number(req.query.get('limit') ?? '-1');
      return { status: 200, body: (limit > 0 ? listed.slice(0, limit) : listed).map(summaryView) };
    }
    const match = CONTAINER_ROUTE.exec(req.path);
    if (!match) return message(404, 'page not found');
    const [, rawRef, action] = match as unknown as [string, string, string];
    const ref = decodeURIComponent(rawRef);
    const container = find(ref);
    if (!container) return message(404, `No such container: ${ref}`);
    if (action === 'json') return req.method === 'GET' ? { status: 200, body: inspectView(container) } : message(404, 'page not found');
    if (req.method !== 'POST') return message(404, 'page not found');
    switch (action) {
      case 'start':
        return { status: (await container.start()) === 'already' ? 304 : 204 };
      case 'stop':
        return { status: (await container.stop(stopTimeout(req.query), parseSignal(req.query.get('signal')))) === 'already' ? 304 : 204 };
      case 'restart':
        try {
          await container.restart(stopTimeout(req.query), parseSignal(req.query.get('signal')));
        } catch (err) {
          if (err instanceof EngineError && err.status !== 400) throw err;
          return message(500, `Cannot restart container ${ref}: ${(err as Error).message}`);
        }
        return { status: 204 };
      default:
        await container.kill(parseSignal(req.query.get('signal')) ?? 'SIGKILL');
        return { status: 204 };
    }
  }

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://docker');
    const method = req.method ?? 'GET';
    requests.push({ method, path: url.pathname, query: url.search });
    for await (const _ of req) {
      // The routes take no body; drain it so the connection can be reused.
    }
    const headers = { 'Api-Version': apiVersion, 'Docker-Experimental': 'false', Ostype: 'linux', Server: 'Docker/27.0.0-double (linux)' };
    const send = (r: EngineResponse) => {
      if (r.body === undefined) res.writeHead(r.status, headers).end();
      else res.writeHead(r.status, { ...headers, 'Content-Type': 'application/json' }).end(`${JSON.stringify(r.body)}\n`);
    };
    let pathname = url.pathname;
    const versioned = VERSIONED.exec(pathname);
    if (versioned) {
      const version = `${versioned[1]}.${versioned[2]}`;
      if (compareVersions(version, apiVersion) > 0) return send(message(400, `client version ${version} is too new. Maximum supported API version is ${apiVersion}`));
      if (compareVersions(version, ENGINE_MIN_API_VERSION) < 0) {
        return send(message(400, `client version ${version} is too old. Minimum supported API version is ${ENGINE_MIN_API_VERSION}, please upgrade your client to a newer version`));
      }
      pathname = versioned[3]!;
    }
    const request: EngineRequest = { method, path: pathname, query: url.searchParams };
    try {
      const intercepted = await interceptor?.(request);
      const result = intercepted ?? (await route(request));
      if (result === 'ping') {
        res.writeHead(200, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache' });
        res.end(method === 'HEAD' ? undefined : 'OK');
        return;
      }
      send(result);
    } catch (err) {
      send(message(err instanceof EngineError ? err.status : 500, (err as Error).message));
    }
  }

  // A test process that ends without close() must not leave its "containers" running.
  const killOnExit = () => {
    for (const c of containers) if (c.pid) c.killNow();
  };
  process.once('exit', killOnExit);

  const server: Server = createServer((req, res) => void answer(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });

  return {
    socketPath,
    requests,
    create,
    async run(spec) {
      const container = create(spec);
      await container.start();
      return container;
    },
    container: (ref) => find(ref),
    intercept(next) {
      interceptor = next;
    },
    async close() {
      process.off('exit', killOnExit);
      await Promise.all(containers.map((c) => c.remove()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownDir) await rm(ownDir, { recursive: true, force: true });
    },
  };
}
