import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRedis, keySlot, scanKeys, type Cluster } from '@caracal-rotation/bus';
import { DEFAULT_CATALOG, EVENT_NAMES, deadLetterStream, type Material } from '@caracal-rotation/contracts';
import { getRotation } from '@caracal-rotation/projection';
import { keyIdOf } from '@caracal-rotation/secrets';
import { readStream } from '@caracal-rotation/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fleetAccepts } from '../support/fleet-probes.js';
import { startE2E, type E2E } from '../support/e2e-stack.js';
import { startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster.js';

/**
 * The whole system on a 3-master Redis Cluster: the five services, the
 * sandbox fleet, the operator and the test's own checks all get the cluster
 * (REDIS_CLUSTER_NODES), and full rotations run through it.
 */
const ZONES = ['zone-a', 'zone-b', 'zone-c', 'zone-d'];
let cluster: LocalRedisCluster;
let e2e: E2E;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  e2e = await startE2E('cluster', { redisUrl: cluster.url, redisClusterNodes: cluster.nodes, seed: { zones: ZONES } });
}, 180_000);
afterAll(async () => {
  await e2e?.stop();
  await cluster?.stop();
}, 60_000);

const masterOf = (key: string): string => (e2e.redis as Cluster).slots[keySlot(key)]![0]!;

async function completedRow(id: string) {
  let row = await getRotation(e2e.pool, id);
  for (let i = 0; i < 100 && row?.state !== 'completed'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    row = await getRotation(e2e.pool, id);
  }
  return row;
}

describe('on a Redis Cluster', () => {
  it('the rotation streams lie on more than one master', async () => {
    await e2e.redis.ping(); // the client knows the slot map once connected
    expect(new Set(EVENT_NAMES.map((n) => masterOf(e2e.operator.streams[n]))).size).toBeGreaterThan(1);
    expect(cluster.nodes).toHaveLength(3);
  });

  describe.each(['CARACAL_COORDINATOR_TOKEN', 'AUDIT_HMAC_KEY'] as Material[])('rotating %s', (material) => {
    it('completes: new material deployed and accepted, the old refused, everything projected', async () => {
      const file = DEFAULT_CATALOG.materials.find((m) => m.material === material)!.file!;
      const before = (await readFile(join(e2e.secretsDir, file), 'utf8')).trim();

      const { id, outcome } = await e2e.rotate({ material, ticket: 'CLUSTER-1' });
      expect(outcome).toBe('completed');

      const after = (await readFile(join(e2e.secretsDir, file), 'utf8')).trim();
      expect(after).not.toBe(before);
      expect(await fleetAccepts(e2e.stack.fleet!, e2e.redis, material, after)).toBe(true);
      expect(await fleetAccepts(e2e.stack.fleet!, e2e.redis, material, before)).toBe(false);

      // Every stage ran: events on every stream of the pipeline, and both phases verified.
      const events = new Map<string, number>();
      for (const name of EVENT_NAMES) {
        const mine = (await readStream(e2e.redis, e2e.operator.streams[name])).filter((e) => e.fields.rotation_id === id);
        events.set(name, mine.length);
      }
      for (const name of ['requested', 'planned', 'written', 'rolled', 'verified', 'retiring', 'completed'] as const) expect(events.get(name), name).toBeGreaterThan(0);
      expect(events.get('failed')).toBe(0);

      const row = await completedRow(id);
      expect(row).toMatchObject({ state: 'completed', material, ticket: 'CLUSTER-1', newKid: keyIdOf(after), previousKid: keyIdOf(before) });
    }, 120_000);
  });

  it('rotates a zone signing key in the sandbox STS (zone keys and their directory in different slots)', async () => {
    const zone = ZONES[1]!;
    const jwks = async () =>
      ((await (await fetch(`${e2e.stack.fleet!.url('sts')}/.well-known/jwks.json?zone_id=${zone}`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const [oldKid] = await jwks();
    const { id, outcome } = await e2e.rotate({ material: 'ZONE_SIGNING_KEY', zone_id: zone });
    expect(outcome).toBe('completed');
    const completed = (await readStream(e2e.redis, e2e.operator.streams.completed)).find((c) => c.fields.rotation_id === id)!;
    expect(completed.data).toMatchObject({ zone_id: zone, previous_kid: oldKid });
    expect(await jwks()).toEqual([completed.data.new_kid]);
  }, 120_000);

  it('nothing was dead-lettered, nothing is left pending, and no key went to the standalone Redis', async () => {
    for (const name of EVENT_NAMES) expect(await e2e.redis.xlen(deadLetterStream(e2e.operator.streams[name])), name).toBe(0);
    // The recorder may still be projecting the last events: every group catches up.
    await vi.waitFor(
      async () => {
        for (const name of EVENT_NAMES) {
          const stream = e2e.operator.streams[name];
          for (const g of (await e2e.redis.xinfo('GROUPS', stream)) as unknown[][]) {
            const info: Record<string, unknown> = {};
            for (let i = 0; i + 1 < g.length; i += 2) info[String(g[i])] = g[i + 1];
            expect(Number(info.pending), `${stream} ${String(info.name)}`).toBe(0);
            expect(Number(info.lag), `${stream} ${String(info.name)}`).toBe(0);
          }
        }
      },
      { timeout: 30_000, interval: 250 },
    );
    // The services' and the fleet's keys are spread over the masters.
    const keys = [...(await scanKeys(e2e.redis, `${e2e.prefix}*`)), ...(await scanKeys(e2e.redis, `${e2e.namespace}*`))];
    expect(new Set(keys.map(masterOf)).size).toBe(3);
    const standalone = createRedis(process.env.REDIS_URL!);
    try {
      expect(await scanKeys(standalone, `${e2e.prefix}*`)).toEqual([]);
      expect(await scanKeys(standalone, `${e2e.namespace}*`)).toEqual([]);
    } finally {
      standalone.disconnect();
    }
  }, 60_000);
});
