import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { launchSandbox, type LaunchedSandbox } from '../../src/index.js';

/**
 * One sandbox per test file, and the probes a test uses against its public
 * surface: the secrets dir, the Docker socket, Redis and Postgres through the
 * URL files, the services' HTTP routes.
 */
export interface TestFleet {
  sandbox: LaunchedSandbox;
  home: string;
  runDir: string;
  secretsDir: string;
  secret(name: string): Promise<string>;
  /** Replaces a secret file as a writer does (new content, still 0444). */
  writeSecret(name: string, value: string): Promise<void>;
  redis(): Redis;
  admin(): Promise<pg.Client>;
  /** A client logged in as the API role (row-level security applies). */
  apiRole(): Promise<pg.Client>;
  docker(method: string, path: string): Promise<{ status: number; body: unknown }>;
  /** POST /containers/caracal-<svc>-1/restart through the socket, then waits for /ready. */
  restart(service: keyof LaunchedSandbox['services']): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestFleet(opts: { zones?: number; beforeLaunch?: (secretsDir: string) => Promise<void> } = {}): Promise<TestFleet> {
  const root = await fs.mkdtemp(path.join(tmpdir(), 'sandbox-test-'));
  const home = path.join(root, 'home');
  const runDir = path.join(root, 'run');
  const secretsDir = path.join(home, 'secrets');
  if (opts.beforeLaunch) {
    await fs.mkdir(secretsDir, { recursive: true, mode: 0o700 });
    await opts.beforeLaunch(secretsDir);
  }
  const sandbox = await launchSandbox({ home, runDir, zones: opts.zones ?? 2 });
  const clients: { end(): unknown }[] = [];
  const secret = async (name: string) => (await fs.readFile(path.join(secretsDir, name), 'utf8')).trim();
  const connect = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    await client.connect();
    clients.push(client);
    return client;
  };
  const docker = (method: string, p: string) =>
    new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const req = request({ socketPath: sandbox.docker_socket, method, path: p, headers: { host: 'docker' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = text;
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      });
      req.on('error', reject);
      req.end();
    });
  const fleet: TestFleet = {
    sandbox,
    home,
    runDir,
    secretsDir,
    secret,
    async writeSecret(name, value) {
      const file = path.join(secretsDir, name);
      const temp = path.join(secretsDir, `.${name}.${randomBytes(4).toString('hex')}`);
      await fs.writeFile(temp, value, { mode: 0o444 });
      await fs.rename(temp, file);
    },
    redis() {
      const url = readFileSync(sandbox.redis_url_file, 'utf8').trim();
      const client = new Redis(url, { maxRetriesPerRequest: 3 });
      client.on('error', () => undefined);
      clients.push({ end: () => client.disconnect() });
      return client;
    },
    admin: async () => connect(await secret('databaseUrl')),
    apiRole: async () => connect(await secret('apiDatabaseUrl')),
    docker,
    async restart(service) {
      const res = await docker('POST', `/v1.43/containers/caracal-${service}-1/restart?t=20`);
      if (res.status !== 204) throw new Error(`restart ${service}: ${res.status} ${JSON.stringify(res.body)}`);
      await waitFor(async () => (await fetch(`${sandbox.services[service]}/ready`).catch(() => undefined))?.status === 200, `${service} ready after restart`);
    },
    async stop() {
      await Promise.all(clients.map((c) => c.end()));
      await sandbox.stop();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
  return fleet;
}

/** Polls until `check` holds (not a timing assertion: the bound only stops a hung test). */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A counter's value from a Prometheus text body. */
export function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in metrics`);
  return Number(line.slice(name.length + 1));
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
