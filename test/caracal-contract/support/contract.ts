import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CARACAL_PROBES, CARACAL_ROUTES, observeCaracalRequests, type CaracalRequestName } from '@caracal-rotation/caracal-client';
import { launchSandbox, type LaunchedSandbox } from '@caracal-rotation/sandbox';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect } from 'vitest';

/**
 * The contract of one request the orchestrator sends to Caracal: a describe
 * block named after the request, whose tests must really send it (the
 * block fails otherwise). coverage.test.ts reads these declarations: every
 * request of CARACAL_ROUTES and CARACAL_PROBES has one.
 */
export function contract(name: CaracalRequestName, body: () => void): void {
  const entry = (CARACAL_ROUTES as Record<string, { source: string }>)[name] ?? (CARACAL_PROBES as Record<string, { source: string }>)[name];
  describe(`${name} (${entry?.source ?? 'not in the tables'})`, () => {
    const sent: CaracalRequestName[] = [];
    let stop: () => void = () => undefined;
    beforeAll(() => {
      stop = observeCaracalRequests((n) => sent.push(n));
    });
    afterAll(() => {
      stop();
      expect(entry, `${name} is in neither CARACAL_ROUTES nor CARACAL_PROBES`).toBeDefined();
      expect(sent, `the contract of ${name} never sent it`).toContain(name);
    });
    body();
  });
}

/** One sandbox per test file, with the credentials a contract presents. */
export interface ContractFleet {
  sandbox: LaunchedSandbox;
  secret(name: string): Promise<string>;
  redis: Redis;
  close(): Promise<void>;
}

export async function startContractFleet(zones = 2): Promise<ContractFleet> {
  const root = await mkdtemp(path.join(tmpdir(), 'caracal-contract-'));
  const sandbox = await launchSandbox({ home: path.join(root, 'home'), runDir: path.join(root, 'run'), zones });
  const secret = async (name: string) => (await readFile(path.join(sandbox.secrets_dir, name), 'utf8')).trim();
  const redis = new Redis(await secret('redisUrl'), { maxRetriesPerRequest: 3 });
  redis.on('error', () => undefined);
  return {
    sandbox,
    secret,
    redis,
    async close() {
      redis.disconnect();
      await sandbox.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
