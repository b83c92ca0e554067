import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { caracalStreams, type CaracalService, type HoldersConfig } from '@caracal-rotation/contracts';
import { loadHoldersConfig } from '@caracal-rotation/runtime';
import { launchSandbox, type LaunchedSandbox } from '@caracal-rotation/sandbox';
import { FileSecretStore, keyIdOf } from '@caracal-rotation/secrets';
import { Redis } from 'ioredis';

/**
 * One sandbox (a replica of a `caracal up` deployment) per test file, with
 * what a test does to it as an operator would: change a secret file the way
 * the secret-writer does (the old value recorded in the version history),
 * and restart, stop or start a service through its Docker socket.
 */
export interface Fleet {
  sandbox: LaunchedSandbox;
  holders: HoldersConfig;
  store: FileSecretStore;
  caracalRedis: Redis;
  streams: ReturnType<typeof caracalStreams>;
  secret(name: string): Promise<string>;
  /** Writes a fresh value (or `value`), records the old one in the history under `rotationId`; returns both kids. */
  rotate(name: string, rotationId: string, value?: string): Promise<{ newKid: string; previousKid: string }>;
  docker(action: 'restart' | 'stop' | 'start', service: CaracalService): Promise<void>;
  waitReady(service: CaracalService): Promise<void>;
  close(): Promise<void>;
}

function dockerPost(socket: string, p: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method: 'POST', path: p, headers: { host: 'docker' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

export async function startFleet(zones = 2): Promise<Fleet> {
  const root = await mkdtemp(path.join(tmpdir(), 'verifier-fleet-'));
  const sandbox = await launchSandbox({ home: path.join(root, 'home'), runDir: path.join(root, 'run'), zones });
  const holders = await loadHoldersConfig(sandbox.holders);
  const store = new FileSecretStore({ dir: sandbox.secrets_dir });
  const caracalRedis = new Redis((await readFile(sandbox.redis_url_file, 'utf8')).trim(), { maxRetriesPerRequest: 3 });
  caracalRedis.on('error', () => undefined);
  const waitReady = async (service: CaracalService) => {
    const url = holders.services[service]!.url;
    for (let i = 0; i < 600; i++) {
      const status = await fetch(`${url}/ready`).then((r) => r.status, () => 0);
      if (status === 200) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${service} did not come ready`);
  };
  return {
    sandbox,
    holders,
    store,
    caracalRedis,
    streams: caracalStreams(holders.caracal.namespace),
    secret: async (name) => (await store.read(name))!,
    async rotate(name, rotationId, value) {
      const old = (await store.read(name))!;
      await store.recordVersion(name, old, { rotationId, phase: 'before' });
      const next = value ?? randomBytes(old.length / 2).toString('hex');
      await store.write(name, next);
      return { newKid: keyIdOf(next), previousKid: keyIdOf(old) };
    },
    async docker(action, service) {
      const status = await dockerPost(sandbox.docker_socket, `/v1.43/containers/caracal-${service}-1/${action}?t=20`);
      if (status !== 204 && status !== 304) throw new Error(`docker ${action} ${service}: ${status}`);
      if (action !== 'stop') await waitReady(service);
    },
    waitReady,
    async close() {
      caracalRedis.disconnect();
      await sandbox.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
