import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { holdersConfigSchema, type ServiceHolder } from '@caracal-rotation/contracts';
import { createWorkloadsDouble, startDockerEngineDouble, startKubernetesApiDouble } from '@caracal-rotation/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { createRestarter } from './create-restarter.js';

const dir = mkdtempSync(path.join(tmpdir(), 'create-restarter-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('restarters from the holders file', () => {
  it('builds the adapter each service names, and each restarts and proves through its platform', async () => {
    const engine = await startDockerEngineDouble();
    const workloads = createWorkloadsDouble({ stepMs: 5 });
    const kube = await startKubernetesApiDouble([workloads.handler], 'token-for-tests');
    try {
      await engine.run({ name: 'caracal-api-1', argv: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] });
      workloads.add({ kind: 'StatefulSet', namespace: 'caracal', name: 'caracal-sts', replicas: 2 });
      writeFileSync(path.join(dir, 'token'), 'token-for-tests');
      const counter = path.join(dir, 'gateway-pid');
      writeFileSync(counter, 'MainPID=100\n');
      const holders = holdersConfigSchema.parse({
        version: 2,
        services: {
          api: { url: 'http://api:3000', restart: { adapter: 'docker', container: 'caracal-api-1', socket: engine.socketPath, stop_timeout_s: 1 } },
          sts: { url: 'http://sts:8080', restart: { adapter: 'kubernetes', kind: 'StatefulSet', name: 'caracal-sts', namespace: 'caracal', api_server: kube.url, token_file: path.join(dir, 'token') } },
          gateway: {
            url: 'http://gateway:8081',
            restart: { adapter: 'exec', command: [process.execPath, '-e', `require('node:fs').writeFileSync(${JSON.stringify(counter)}, 'MainPID=' + process.pid + '\\n')`], proof: ['cat', counter] },
          },
          web: { url: 'http://web:3002', restart: { adapter: 'none', why: 're-reads the token files on every request' } },
        },
      });
      const services = holders.services as Record<string, ServiceHolder>;
      const request = () => ({ writtenAt: new Date(), deadline: Date.now() + 10_000 });

      const api = createRestarter(services.api!.restart, { pollMs: 20 });
      expect([api.adapter, api.target]).toEqual(['docker', 'docker container caracal-api-1']);
      expect((await api.restartAndProve(request())).proof.detail).toMatch(/^State\.StartedAt \S+ is later than the previous start/);

      const sts = createRestarter(services.sts!.restart, { pollMs: 20 });
      expect([sts.adapter, sts.target]).toEqual(['kubernetes', 'statefulset caracal/caracal-sts']);
      expect((await sts.restartAndProve(request())).proof.detail).toMatch(/^rollout complete .*2 pod\(s\), none seen before the restart/);

      const gateway = createRestarter(services.gateway!.restart, { pollMs: 20 });
      expect(gateway.adapter).toBe('exec');
      expect((await gateway.restartAndProve(request())).proof.before).toBe('MainPID=100');

      const web = createRestarter(services.web!.restart);
      expect(await web.restartAndProve(request())).toEqual({
        restartedAt: null,
        proof: { before: null, after: null, detail: 'no restart needed: re-reads the token files on every request' },
      });
    } finally {
      workloads.close();
      await kube.close();
      await engine.close();
    }
  });
});

describe('the restart entries of the holders file', () => {
  const holder = (restart: unknown) => ({ version: 2, services: { api: { url: 'http://caracal-api.caracal:3000', restart } } });

  it('fills in the defaults each adapter documents', () => {
    const docker = holdersConfigSchema.parse(holder({ adapter: 'docker', container: 'caracal-api-1' })).services.api!.restart;
    expect(docker).toEqual({ adapter: 'docker', container: 'caracal-api-1', socket: '/var/run/docker.sock', stop_timeout_s: 30 });
    const kube = holdersConfigSchema.parse(holder({ adapter: 'kubernetes', kind: 'Deployment', name: 'caracal-api', namespace: 'caracal' })).services.api!.restart;
    expect(kube).toEqual({ adapter: 'kubernetes', kind: 'Deployment', name: 'caracal-api', namespace: 'caracal' });
  });

  it('refuses Kubernetes names that are not Kubernetes names (no path tricks), other kinds, and the old http adapter', () => {
    for (const bad of [
      { adapter: 'kubernetes', kind: 'Deployment', namespace: 'caracal', name: '../../secrets/x' },
      { adapter: 'kubernetes', kind: 'Deployment', namespace: 'Caracal', name: 'api' },
      { adapter: 'kubernetes', kind: 'DaemonSet', namespace: 'caracal', name: 'api' },
      { adapter: 'kubernetes', kind: 'Deployment', namespace: 'caracal', name: 'api', api_server: 'not a url' },
      { adapter: 'exec', command: ['systemctl', 'restart', 'x'] },
      { adapter: 'http', url: 'http://api:3000/restart' },
    ]) {
      expect(holdersConfigSchema.safeParse(holder(bad)).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
