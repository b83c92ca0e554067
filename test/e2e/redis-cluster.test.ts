import { createRedis, keySlot, scanKeys, type Cluster } from '@caracal-rotation/bus';
import { DEFAULT_CATALOG, EVENT_NAMES, deadLetterStream, type Material } from '@caracal-rotation/contracts';
import { followRotation } from '@caracal-rotation/caracal-rotate';
import { getRotation } from '@caracal-rotation/projection';
import { keyIdOf } from '@caracal-rotation/secrets';
import { readStream } from '@caracal-rotation/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startE2E, type E2E } from '../support/e2e-stack.js';
import { startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster.js';
import { announcementsOf, auditKeyVerdict, caracalSecret, coordinatorTokenVerdict, zoneJwks, type Verdict } from '../support/replica-probes.js';

/**
 * The orchestrator's bus on a 3-master Redis Cluster: the five services, the
 * operator and the test's own checks all get the cluster
 * (REDIS_CLUSTER_NODES), and full rotations run through it. Caracal keeps its
 * own standalone Redis, as a `caracal up` deployment has.
 */
let cluster: LocalRedisCluster;
let e2e: E2E;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  e2e = await startE2E('cluster', { redisUrl: cluster.url, redisClusterNodes: cluster.nodes, sandbox: { zones: 4 } });
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

  const VERDICTS: Partial<Record<Material, (e2e: E2E, value: string) => Promise<Verdict>>> = {
    CARACAL_COORDINATOR_TOKEN: coordinatorTokenVerdict,
    AUDIT_HMAC_KEY: auditKeyVerdict,
  };
  describe.each(['CARACAL_COORDINATOR_TOKEN', 'AUDIT_HMAC_KEY'] as Material[])('rotating %s', (material) => {
    it('completes: new material deployed and accepted, the old refused, everything projected', async () => {
      const file = DEFAULT_CATALOG.materials.find((m) => m.material === material)!.file!;
      const before = await caracalSecret(e2e, file);

      const { id, outcome } = await e2e.rotate({ material, ticket: 'CLUSTER-1' });
      expect(outcome, JSON.stringify((await completedRow(id))?.failure)).toBe('completed');

      const after = await caracalSecret(e2e, file);
      expect(after).not.toBe(before);
      expect(await VERDICTS[material]!(e2e, after)).toBe('accepted');
      expect(await VERDICTS[material]!(e2e, before)).toBe('refused');

      // Every stage ran: events on every stream of the pipeline, and both phases verified.
      const events = new Map<string, number>();
      for (const name of EVENT_NAMES) {
        const mine = (await readStream(e2e.redis, e2e.operator.streams[name])).filter((e) => e.fields.rotation_id === id);
        events.set(name, mine.length);
      }
      for (const name of ['requested', 'planned', 'written', 'rolled', 'verified', 'retiring'] as const) expect(events.get(name), name).toBeGreaterThan(0);
      expect(events.get('failed')).toBe(0);
      // `completed` is Caracal's to read: it is announced on Caracal's Redis.
      expect(await announcementsOf(e2e, id)).toHaveLength(1);

      const row = await completedRow(id);
      expect(row).toMatchObject({ state: 'completed', material, ticket: 'CLUSTER-1', newKid: keyIdOf(after), previousKid: keyIdOf(before) });
    }, 120_000);
  });

  it('rotates every zone signing key as a batch (the batch and its children in different slots)', async () => {
    const kids = async () => new Map([...(await zoneJwks(e2e))].map(([zone, { keys }]) => [zone, keys.map((k) => k.kid)]));
    const before = await kids();
    const batch = await e2e.operator.request({ material: 'ZONE_SIGNING_KEY', zone_id: '*', reason: 'batch on a cluster' });
    const result = await followRotation(e2e.redis, e2e.operator.streams, batch, () => undefined, { timeoutMs: 120_000, expectRotations: e2e.sandbox.zones.length });
    const children = [...result.terminal.entries()].filter(([id]) => id !== batch);
    expect(children.map(([, outcome]) => outcome)).toEqual(e2e.sandbox.zones.map(() => 'completed'));
    const after = await kids();
    for (const [id] of children) {
      const [{ data }] = (await announcementsOf(e2e, id)) as [Awaited<ReturnType<typeof announcementsOf>>[number]];
      expect(data.previous_kid).toBe(before.get(data.zone_id!)![0]);
      expect(after.get(data.zone_id!)).toEqual([data.new_kid, data.previous_kid]);
    }
  }, 150_000);

  it('nothing was dead-lettered, nothing is left pending, and no key went to the standalone Redis', async () => {
    for (const name of EVENT_NAMES) expect(await e2e.redis.xlen(deadLetterStream(e2e.operator.streams[name])), name).toBe(0);
    // The recorder may still be projecting the last events: every group catches up.
    await vi.waitFor(
      async () => {
        // `completed` lives on Caracal's Redis, not on the bus.
        for (const name of EVENT_NAMES.filter((n) => n !== 'completed')) {
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
    // The services' keys are spread over the masters, and none reached the tests' standalone Redis.
    const keys = await scanKeys(e2e.redis, `${e2e.prefix}*`);
    expect(new Set(keys.map(masterOf)).size).toBeGreaterThan(1);
    const standalone = createRedis(process.env.REDIS_URL!);
    try {
      expect(await scanKeys(standalone, `*${e2e.prefix}*`)).toEqual([]);
    } finally {
      standalone.disconnect();
    }
  }, 60_000);
});
