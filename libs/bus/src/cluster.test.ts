import { deadLetterStream, newRotationId, rotationStreams, stageEventId, type RotationEvent, type RotationStreams } from '@caracal-rotation/contracts';
import { deleteKeys, startRedisCluster, uniqueName, type LocalRedisCluster } from '@caracal-rotation/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  Keyring,
  compareStreamIds,
  Publisher,
  Signers,
  StaticKeyringSource,
  StreamConsumer,
  createRedisClient,
  expandDrainTargets,
  groupKeysForCommand,
  inspectDrain,
  isCluster,
  keySlot,
  parseClusterNodes,
  scanKeys,
  streamMark,
  subscribe,
  type Cluster,
  type OutgoingEvent,
} from './index.js';

// A real 3-master Redis Cluster of local redis-server processes.
const KEY_HEX = '4f1c2b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6';
const WAIT = { timeout: 10_000, interval: 25 } as const;

let cluster: LocalRedisCluster;
let redis: Cluster;
let source: StaticKeyringSource;
let publisher: Publisher;
const prefixes: string[] = [];

function freshStreams(): RotationStreams {
  const s = rotationStreams(uniqueName('t-bus-cluster'));
  prefixes.push(s.prefix);
  return s;
}

/** The master (host:port) serving a key's slot. */
const masterOf = (key: string): string => redis.slots[keySlot(key)]![0]!;

const toObject = (flat: string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
};

const completed = (s: RotationStreams, rotationId = newRotationId()): OutgoingEvent => ({
  stream: s.completed,
  name: 'completed',
  eventId: stageEventId(rotationId, 'verifier', 'retire'),
  rotationId,
  data: { material: 'AUDIT_HMAC_KEY', new_kid: 'a', previous_kid: null, completed_at: new Date().toISOString() },
});
const rejected = (s: RotationStreams, rotationId = newRotationId()): OutgoingEvent => ({
  stream: s.rejected,
  name: 'rejected',
  eventId: stageEventId(rotationId, 'planner', 'deploy'),
  rotationId,
  data: { material: 'AUDIT_HMAC_KEY', reason_code: 'invalid_request', message: 'test' },
});
const failed = (s: RotationStreams, rotationId = newRotationId()): OutgoingEvent => ({
  stream: s.failed,
  name: 'failed',
  eventId: stageEventId(rotationId, 'roller', 'deploy'),
  rotationId,
  data: { material: 'AUDIT_HMAC_KEY', stage: 'roller', phase: 'deploy', error: 'test', rolled_back: false },
});

/** Three rotation streams whose slots lie on at least two different masters. */
function spreadStreams(): RotationStreams {
  for (;;) {
    const s = freshStreams();
    if (new Set([s.completed, s.rejected, s.failed].map(masterOf)).size >= 2) return s;
  }
}

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  redis = createRedisClient({ url: cluster.url, clusterNodes: cluster.nodes }, { connectionName: 'bus-cluster-test' }) as Cluster;
  await redis.ping();
  source = new StaticKeyringSource(Keyring.fromHex(KEY_HEX));
  publisher = new Publisher(redis, source, 'bus-test/cluster');
}, 60_000);

afterAll(async () => {
  if (redis) {
    for (const prefix of prefixes) await deleteKeys(redis, prefix);
    for (const prefix of prefixes) await deleteKeys(redis, `seen:${prefix}`);
    await redis.quit();
  }
  await cluster?.stop();
}, 30_000);

describe('the connection factory', () => {
  it('returns a cluster client for cluster nodes and a standalone one otherwise', async () => {
    expect(isCluster(redis)).toBe(true);
    expect(redis.options.scaleReads).toBe('master');
    expect(redis.options.redisOptions?.protocol).toBe(2);
    const standalone = createRedisClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', clusterNodes: [] }, { lazyConnect: true });
    expect(isCluster(standalone)).toBe(false);
    standalone.disconnect();
    expect(parseClusterNodes(' 127.0.0.1:7000,redis-2:7001 ,[::1]:7002')).toEqual([
      { host: '127.0.0.1', port: 7000 },
      { host: 'redis-2', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(() => parseClusterNodes('redis-1')).toThrow(/host:port/);
    expect(() => createRedisClient({ url: 'redis://127.0.0.1:6379/3', clusterNodes: cluster.nodes })).toThrow(/database 0/);
  });

  it('computes the slot Redis computes, hash tags included', async () => {
    const s = freshStreams();
    const keys = [s.requested, s.completed, deadLetterStream(s.completed), `{${s.prefix}}:lock`, `{${s.prefix}}:queue`, 'a{}b', 'x{y', 'zone-€'];
    for (const key of keys) expect(keySlot(key), key).toBe(await redis.cluster('KEYSLOT', key));
    expect(keySlot(`{${s.prefix}}:lock`)).toBe(keySlot(`{${s.prefix}}:handoff:abc`));
    const groups = groupKeysForCommand(redis, [s.completed, s.rejected, s.completed, `{${s.prefix}}:a`, `{${s.prefix}}:b`]);
    for (const group of groups) expect(new Set(group.map(keySlot)).size).toBe(1);
    expect(groups.flat().sort()).toEqual([s.completed, s.rejected, s.completed, `{${s.prefix}}:a`, `{${s.prefix}}:b`].sort());
  });
});

describe('on a 3-master cluster', () => {
  it('publishAll appends events to streams on different masters, in order', async () => {
    const s = spreadStreams();
    const events = [completed(s), completed(s), rejected(s), failed(s), completed(s)];
    const ids = await publisher.publishAll(events);
    expect(ids).toHaveLength(events.length);
    for (const [i, event] of events.entries()) {
      const [entry] = (await redis.xrange(event.stream, ids[i]!, ids[i]!)) as [string, string[]][];
      expect(entry?.[0]).toBe(ids[i]);
      expect(toObject(entry![1]).event_id).toBe(event.eventId);
    }
    // The two entries on one stream keep their order.
    expect(compareStreamIds(ids[0]!, ids[1]!)).toBeLessThan(0);
    expect(compareStreamIds(ids[1]!, ids[4]!)).toBeLessThan(0);
  });

  it('a consumer reads several streams on different masters, emits, acks and dead-letters', async () => {
    const s = spreadStreams();
    const seen: RotationEvent<unknown>[] = [];
    const consumer = new StreamConsumer({
      redis,
      group: 'g',
      consumer: 'c1',
      signers: new Signers({ bus: source }),
      publisher,
      blockMs: 200,
      claimIdleMs: 2000,
      retryDelayMs: 50,
      subscriptions: [
        subscribe({
          stream: s.completed,
          event: 'completed',
          signers: ['bus'],
          // Emits onto two more streams (other slots) from one handler.
          handle: async (event) => {
            seen.push(event);
            return [rejected(s, event.rotationId), failed(s, event.rotationId)];
          },
        }),
        subscribe({ stream: s.rejected, event: 'rejected', signers: ['bus'], handle: async (event) => void seen.push(event) }),
        subscribe({ stream: s.failed, event: 'failed', signers: ['bus'], handle: async (event) => void seen.push(event) }),
      ],
    });
    await consumer.start();
    try {
      const rotations = [newRotationId(), newRotationId(), newRotationId()];
      for (const r of rotations) await publisher.publish(completed(s, r));
      // An entry with a bad signature is dead-lettered to `<stream>.dead`, another slot.
      const forged = { ...publisher.envelope(completed(s)), _sig: '0'.repeat(64) };
      const forgedId = String(await redis.xadd(s.rejected, '*', ...Object.entries(forged).flat()));

      await vi.waitFor(() => expect(seen).toHaveLength(rotations.length * 3), WAIT);
      expect(new Set(seen.map((e) => `${e.stream} ${e.rotationId}`)).size).toBe(rotations.length * 3);
      await vi.waitFor(async () => {
        const dead = (await redis.xrange(deadLetterStream(s.rejected), '-', '+')) as [string, string[]][];
        expect(dead.map(([, flat]) => toObject(flat).original_id)).toEqual([forgedId]);
      }, WAIT);
      await vi.waitFor(async () => {
        for (const stream of [s.completed, s.rejected, s.failed]) {
          const [pending] = (await redis.xpending(stream, 'g')) as [number];
          expect(Number(pending), stream).toBe(0);
        }
      }, WAIT);

      // The drain view: SCAN on every master finds every stream of the prefix (no dead letters).
      const targets = await expandDrainTargets(redis, [{ stream: `${s.prefix}.*`, group: '*' }]);
      expect(targets).toEqual(
        [s.completed, s.failed, s.rejected].sort().map((stream) => ({ stream, group: 'g' })),
      );
      const marks = await Promise.all(targets.map(async (t) => ({ ...t, mark: await streamMark(redis, t.stream) })));
      const reports = await inspectDrain(redis, marks);
      expect(reports.every((r) => r.drained && r.pending === 0 && r.lag === 0)).toBe(true);
    } finally {
      const started = Date.now();
      await consumer.stop();
      expect(Date.now() - started).toBeLessThan(2000);
    }
  }, 30_000);

  it('SCAN-based helpers cover every master; deleteKeys empties a prefix across the cluster', async () => {
    const prefix = uniqueName('t-bus-cluster-keys');
    prefixes.push(prefix);
    const keys = Array.from({ length: 30 }, (_, i) => `${prefix}:${i}`);
    for (const key of keys) await redis.set(key, '1');
    expect(new Set(keys.map(masterOf)).size).toBe(3);
    expect((await scanKeys(redis, `${prefix}:*`)).sort()).toEqual([...keys].sort());
    await deleteKeys(redis, prefix);
    expect(await scanKeys(redis, `${prefix}:*`)).toEqual([]);
  });
});
