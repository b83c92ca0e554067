import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { restartAdapterSchema } from '@caracal-rotation/contracts';
import { startDockerEngineDouble, type DockerEngineDouble } from '@caracal-rotation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerRestarter } from './docker-restarter.js';
import type { RestartError } from './restarter.js';

/** A holder process that runs until signalled. */
const holder = [process.execPath, '-e', 'setInterval(() => {}, 1000)'];
const dir = mkdtempSync(path.join(tmpdir(), 'docker-restarter-'));
/** A holder that refuses to start again once this file exists (a bad new secret, say). */
const brokenFlag = path.join(dir, 'broken');
const breakable = [process.execPath, '-e', `if (require('node:fs').existsSync(${JSON.stringify(brokenFlag)})) { console.error('bad key'); process.exit(3) } setInterval(() => {}, 1000)`];

let engine: DockerEngineDouble;
beforeAll(async () => {
  engine = await startDockerEngineDouble();
  await engine.run({ name: 'caracal-api-1', argv: holder });
  await engine.run({ name: 'caracal-sts-1', argv: breakable });
  await engine.run({ name: 'caracal-gateway-1', argv: holder });
});
afterAll(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

const target = (container: string, extra: Record<string, unknown> = {}) => {
  const parsed = restartAdapterSchema.parse({ adapter: 'docker', container, socket: engine.socketPath, stop_timeout_s: 2, ...extra });
  if (parsed.adapter !== 'docker') throw new Error('not a docker target');
  return parsed;
};
const soon = (ms = 10_000) => Date.now() + ms;
const failure = (p: Promise<unknown>) => p.then(() => expect.fail('expected a RestartError'), (e: unknown) => e as RestartError);

describe('the docker restart adapter', () => {
  it('restarts through the Engine API and proves it with a later State.StartedAt and a new process', async () => {
    const api = engine.container('caracal-api-1')!;
    const oldPid = api.pid;
    const oldStart = api.startedAt;
    const writtenAt = new Date();
    const result = await dockerRestarter(target('caracal-api-1'), { pollMs: 20 }).restartAndProve({ writtenAt, deadline: soon() });

    expect(api.pid).not.toBe(oldPid);
    expect(result.restartedAt).toBe(api.startedAt);
    expect(result.restartedAt! > oldStart).toBe(true);
    expect(result.proof.before).toBe(`StartedAt=${oldStart} Pid=${oldPid} Status=running`);
    expect(result.proof.after).toBe(`StartedAt=${api.startedAt} Pid=${api.pid} Status=running`);
    expect(result.proof.detail).toContain(`later than the previous start ${oldStart} and than the write at ${writtenAt.toISOString()}`);
    // Negotiated to the daemon's version; the stop timeout comes from the holders file.
    expect(engine.requests.map((r) => `${r.method} ${r.path}${r.query}`)).toEqual(
      expect.arrayContaining(['GET /_ping', 'GET /v1.45/containers/caracal-api-1/json', 'POST /v1.45/containers/caracal-api-1/restart?t=2']),
    );
  });

  it('speaks an older daemon API version when the daemon is older', async () => {
    const old = await startDockerEngineDouble({ apiVersion: '1.41' });
    try {
      await old.run({ name: 'caracal-web-1', argv: holder });
      const socket = old.socketPath;
      await dockerRestarter({ ...target('caracal-web-1'), socket }, { pollMs: 20 }).restartAndProve({ writtenAt: new Date(), deadline: soon() });
      expect(old.requests.filter((r) => r.path !== '/_ping').every((r) => r.path.startsWith('/v1.41/'))).toBe(true);
    } finally {
      await old.close();
    }
  });

  it('says so when the container does not exist', async () => {
    const err = await failure(dockerRestarter(target('caracal-nope-1')).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
    expect(err.code).toBe('not_found');
    expect(err.message).toBe('docker container caracal-nope-1: no such container (Docker answered: No such container: caracal-nope-1)');
  });

  it('says so when the socket is missing', async () => {
    const err = await failure(dockerRestarter({ ...target('caracal-api-1'), socket: path.join(dir, 'absent.sock') }).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
    expect(err.code).toBe('unreachable');
    expect(err.message).toContain(`the Docker Engine socket ${path.join(dir, 'absent.sock')} does not exist`);
  });

  it.skipIf(process.getuid?.() === 0)('says so when the socket refuses the roller (permission denied)', async () => {
    const locked = await startDockerEngineDouble({ socketPath: path.join(dir, 'locked.sock') });
    try {
      const { chmod } = await import('node:fs/promises');
      await chmod(locked.socketPath, 0o000);
      const err = await failure(dockerRestarter({ ...target('caracal-api-1'), socket: locked.socketPath }).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
      expect(err.code).toBe('config');
      expect(err.message).toContain('permission denied on the Docker Engine socket');
    } finally {
      await locked.close();
    }
  });

  it('reports a refused restart with the daemon message', async () => {
    engine.intercept((req) => (req.path.endsWith('/restart') ? { status: 500, body: { message: 'Cannot restart container caracal-gateway-1: driver failed programming external connectivity' } } : undefined));
    try {
      const err = await failure(dockerRestarter(target('caracal-gateway-1')).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
      expect(err.code).toBe('refused');
      expect(err.message).toContain('answered 500 (Cannot restart container caracal-gateway-1: driver failed programming external connectivity)');
      expect(err.proof?.before).toMatch(/^StartedAt=\S+ Pid=\d+ Status=running$/);
    } finally {
      engine.intercept(undefined);
    }
  });

  it('does not take an accepted restart that left the same process running as proof', async () => {
    const gateway = engine.container('caracal-gateway-1')!;
    const pid = gateway.pid;
    engine.intercept((req) => (req.path.endsWith('/restart') ? { status: 204 } : undefined));
    try {
      const err = await failure(dockerRestarter(target('caracal-gateway-1'), { pollMs: 20 }).restartAndProve({ writtenAt: new Date(), deadline: soon(400) }));
      expect(err.code).toBe('not_restarted');
      expect(err.message).toContain(`State.StartedAt is still ${gateway.startedAt}: the container did not restart after the write`);
      expect(gateway.pid).toBe(pid);
    } finally {
      engine.intercept(undefined);
    }
  });

  it('refuses a start that is not later than the write', async () => {
    // The daemon's clock says the new process started before the secret was written.
    const writtenAt = new Date(Date.now() + 3_600_000);
    const err = await failure(dockerRestarter(target('caracal-gateway-1'), { pollMs: 20 }).restartAndProve({ writtenAt, deadline: soon(400) }));
    expect(err.code).toBe('not_restarted');
    expect(err.message).toContain(`is not later than the write at ${writtenAt.toISOString()}`);
  });

  it('reports a container that did not come back, with its exit code', async () => {
    writeFileSync(brokenFlag, '');
    const sts = engine.container('caracal-sts-1')!;
    let restarted = false;
    // The new process exits at once; hold the inspections after the restart until it has, so
    // the adapter sees what Docker shows a moment later rather than racing the exit.
    engine.intercept(async (req) => {
      if (req.path.endsWith('/restart')) restarted = true;
      else if (restarted) while (sts.running) await new Promise((r) => setTimeout(r, 10));
      return undefined;
    });
    try {
      const err = await failure(dockerRestarter(target('caracal-sts-1'), { pollMs: 20 }).restartAndProve({ writtenAt: new Date(), deadline: soon() }));
      expect(err.code).toBe('not_running');
      expect(err.message).toMatch(/^docker container caracal-sts-1 restarted at \S+ but did not stay running: Status exited, ExitCode 3, FinishedAt \S+$/);
      expect(sts.output()).toContain('bad key');
    } finally {
      engine.intercept(undefined);
    }
  });

  it('gives up at the deadline when the daemon does not answer the restart', async () => {
    engine.intercept(async (req) => {
      if (!req.path.endsWith('/restart')) return undefined;
      await new Promise((r) => setTimeout(r, 2_000));
      return { status: 204 };
    });
    try {
      const err = await failure(dockerRestarter(target('caracal-api-1')).restartAndProve({ writtenAt: new Date(), deadline: soon(300) }));
      expect(err.code).toBe('timeout');
      expect(err.message).toMatch(/^restart docker container caracal-api-1: the Docker Engine did not answer within \d+ ms$/);
    } finally {
      engine.intercept(undefined);
    }
  });
});
