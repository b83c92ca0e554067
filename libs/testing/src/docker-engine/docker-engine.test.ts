import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerEngineDouble, type DockerEngineDouble } from './server.js';

/** One Engine API call over the unix socket, as a Docker client makes it. */
interface Inspect {
  Id: string;
  RestartCount: number;
  State: { Status: string; Running: boolean; Pid: number; ExitCode: number; StartedAt: string; FinishedAt: string };
  HostConfig: { RestartPolicy: { Name: string } };
}
interface Reply {
  status: number;
  headers: Record<string, unknown>;
  text: string;
  /** The body as JSON: an inspect result unless the caller says otherwise. */
  json<T = Inspect & { message: string }>(): T;
}

function call(socketPath: string, method: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { host: 'docker' } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const RFC3339_NANO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
/** A process that runs until signalled. */
const sleeper = [process.execPath, '-e', 'setInterval(() => {}, 1000)'];
/** A process that ignores SIGTERM: only SIGKILL ends it. */
const stubborn = [process.execPath, '-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); console.log('armed')"];

let engine: DockerEngineDouble;
beforeAll(async () => {
  engine = await startDockerEngineDouble();
});
afterAll(async () => {
  const pids = ['api', 'sts', 'worker', 'stubborn', 'crashy'].map((n) => engine.container(n)?.pid ?? 0).filter(Boolean);
  await engine.close();
  for (const pid of pids) expect(alive(pid)).toBe(false);
});

describe('the Docker Engine API double', () => {
  it('answers /_ping and /version, with or without a version prefix', async () => {
    const ping = await call(engine.socketPath, 'GET', '/_ping');
    expect(ping.status).toBe(200);
    expect(ping.text).toBe('OK');
    expect(ping.headers['api-version']).toBe('1.45');
    const version = await call(engine.socketPath, 'GET', '/v1.43/version');
    expect(version.json<object>()).toMatchObject({ ApiVersion: '1.45', MinAPIVersion: '1.24', Os: 'linux' });
    const tooNew = await call(engine.socketPath, 'GET', '/v1.99/version');
    expect(tooNew.status).toBe(400);
    expect(tooNew.json().message).toMatch(/client version 1.99 is too new/);
  });

  it('runs a container as a real process and inspects it by name or id', async () => {
    const api = await engine.run({ name: 'api', argv: sleeper, labels: { 'com.docker.compose.service': 'api' }, image: 'caracal/api:test' });
    const byName = await call(engine.socketPath, 'GET', '/v1.43/containers/api/json');
    expect(byName.status).toBe(200);
    const body = byName.json();
    expect(body).toMatchObject({
      Id: api.id,
      Name: '/api',
      RestartCount: 0,
      State: { Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, ExitCode: 0, Error: '', FinishedAt: '0001-01-01T00:00:00Z' },
      Config: { Image: 'caracal/api:test', Labels: { 'com.docker.compose.service': 'api' } },
    });
    expect(body.Id).toMatch(/^[0-9a-f]{64}$/);
    expect(body.State.StartedAt).toMatch(RFC3339_NANO);
    expect(alive(body.State.Pid)).toBe(true);
    const byPrefix = await call(engine.socketPath, 'GET', `/containers/${api.id.slice(0, 12)}/json`);
    expect(byPrefix.json().Id).toBe(api.id);
  });

  it('restarts: SIGTERM, a new process, a later StartedAt, RestartCount untouched', async () => {
    const sts = await engine.run({ name: 'sts', argv: sleeper });
    const before = (await call(engine.socketPath, 'GET', '/containers/sts/json')).json();
    const restarted = await call(engine.socketPath, 'POST', `/v1.43/containers/${sts.id}/restart?t=5`);
    expect(restarted.status).toBe(204);
    expect(restarted.text).toBe('');
    const after = (await call(engine.socketPath, 'GET', '/containers/sts/json')).json();
    expect(after.State.Running).toBe(true);
    expect(after.State.Pid).not.toBe(before.State.Pid);
    expect(alive(before.State.Pid)).toBe(false);
    expect(after.State.StartedAt > before.State.StartedAt).toBe(true);
    expect(after.RestartCount).toBe(0);
  });

  it('stops with SIGKILL after t seconds when SIGTERM is ignored, and answers 304 when there is nothing to do', async () => {
    const c = await engine.run({ name: 'stubborn', argv: stubborn });
    // Wait until the handler is installed, else SIGTERM would end it.
    await waitFor(async () => c.output(), (out) => out.includes('armed'));
    const stopped = await call(engine.socketPath, 'POST', '/containers/stubborn/stop?t=0');
    expect(stopped.status).toBe(204);
    const state = (await call(engine.socketPath, 'GET', '/containers/stubborn/json')).json().State;
    expect(state).toMatchObject({ Status: 'exited', Running: false, Pid: 0, ExitCode: 137 });
    expect(state.FinishedAt).toMatch(RFC3339_NANO);
    expect((await call(engine.socketPath, 'POST', '/containers/stubborn/stop')).status).toBe(304);
    expect((await call(engine.socketPath, 'POST', '/containers/stubborn/start')).status).toBe(204);
    expect((await call(engine.socketPath, 'POST', '/containers/stubborn/start')).status).toBe(304);
  });

  it('reports a process ended by SIGTERM with exit code 143', async () => {
    await engine.run({ name: 'worker', argv: sleeper, labels: { tier: 'back' } });
    expect((await call(engine.socketPath, 'POST', '/containers/worker/stop')).status).toBe(204);
    expect((await call(engine.socketPath, 'GET', '/containers/worker/json')).json().State.ExitCode).toBe(143);
  });

  it('lists running containers, all of them with all=1, and filters by label', async () => {
    const running = (await call(engine.socketPath, 'GET', '/containers/json')).json<{ Names: string[]; State: string }[]>();
    expect(running.every((c) => c.State === 'running')).toBe(true);
    expect(running.flatMap((c) => c.Names)).not.toContain('/worker');
    const all = (await call(engine.socketPath, 'GET', '/containers/json?all=1')).json<{ Names: string[]; Status: string }[]>();
    expect(all.find((c) => c.Names[0] === '/worker')?.Status).toMatch(/^Exited \(143\) /);
    const filters = encodeURIComponent(JSON.stringify({ label: ['tier=back'] }));
    const labelled = (await call(engine.socketPath, 'GET', `/containers/json?all=true&filters=${filters}`)).json<{ Names: string[] }[]>();
    expect(labelled.map((c) => c.Names[0])).toEqual(['/worker']);
    const bad = await call(engine.socketPath, 'GET', `/containers/json?filters=${encodeURIComponent('{"colour":["red"]}')}`);
    expect(bad.status).toBe(400);
  });

  it('answers 404 with Docker ErrorResponse for a container it does not know', async () => {
    for (const [method, path] of [
      ['GET', '/containers/nope/json'],
      ['POST', '/v1.43/containers/nope/restart'],
      ['POST', '/containers/nope/start'],
    ] as const) {
      const res = await call(engine.socketPath, method, path);
      expect(res.status).toBe(404);
      expect(res.json<object>()).toEqual({ message: 'No such container: nope' });
    }
  });

  it('applies a restart policy to a process that exits by itself', async () => {
    await engine.run({ name: 'crashy', argv: [process.execPath, '-e', 'setTimeout(() => process.exit(3), 50)'], restartPolicy: 'on-failure' });
    const state = await waitFor(
      async () => (await call(engine.socketPath, 'GET', '/containers/crashy/json')).json(),
      (c) => c.RestartCount >= 1,
    );
    expect(state.HostConfig.RestartPolicy.Name).toBe('on-failure');
    await call(engine.socketPath, 'POST', '/containers/crashy/stop?t=0');
    const stopped = (await call(engine.socketPath, 'GET', '/containers/crashy/json')).json();
    expect(stopped.State.Running).toBe(false);
  });

  it('refuses to start an executable that does not exist, as runc does', async () => {
    await expect(engine.run({ name: 'missing', argv: ['/nonexistent/caracal'] })).rejects.toThrow(/executable file not found/);
    const state = (await call(engine.socketPath, 'GET', '/containers/missing/json')).json().State;
    expect(state).toMatchObject({ Status: 'created', Running: false, ExitCode: 127 });
    expect((await call(engine.socketPath, 'POST', '/containers/missing/start')).status).toBe(400);
  });

  it('lets a test answer in its place', async () => {
    engine.intercept((req) => (req.method === 'POST' && req.path.endsWith('/restart') ? { status: 500, body: { message: 'driver failed' } } : undefined));
    try {
      const res = await call(engine.socketPath, 'POST', '/v1.43/containers/api/restart');
      expect(res.status).toBe(500);
      expect(res.json<object>()).toEqual({ message: 'driver failed' });
      expect((await call(engine.socketPath, 'GET', '/containers/api/json')).status).toBe(200);
    } finally {
      engine.intercept(undefined);
    }
    expect(engine.requests.some((r) => r.path === '/v1.43/containers/api/restart')).toBe(true);
  });
});
