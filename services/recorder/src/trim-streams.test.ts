import { createRedis, type Redis } from '@caracal-rotation/bus';
import { deadLetterStream, rotationStreams } from '@caracal-rotation/contracts';
import { deleteKeys, uniqueName } from '@caracal-rotation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trimAcknowledged, trimRotationStreams, trimmableStreams } from './trim-streams.js';

// Real Redis, streams of this file's own.
const prefix = uniqueName('rec-trim');
const streams = rotationStreams(prefix);
let redis: Redis;
const silent = { debug: () => undefined, warn: () => undefined };

beforeAll(() => {
  redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
});

afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

const ids = async (stream: string) => (await redis.xrange(stream, '-', '+')).map(([id]) => id);
const add = async (stream: string, n: number) => {
  const out: string[] = [];
  for (let i = 0; i < n; i += 1) out.push((await redis.xadd(stream, '*', 'n', String(i)))!);
  return out;
};
const read = (stream: string, group: string, count: number) => redis.xreadgroup('GROUP', group, 'c', 'COUNT', count, 'STREAMS', stream, '>');

describe('trimming the rotation streams', () => {
  it('removes exactly the entries every group has read and acknowledged', async () => {
    const s = streams.written;
    const all = await add(s, 10);
    for (const g of ['fast', 'slow', 'holding']) await redis.xgroup('CREATE', s, g, '0');
    await read(s, 'fast', 10);
    await redis.xack(s, 'fast', ...all);
    // slow read 6 and acknowledged them; holding read 8 and still holds its 4th.
    await read(s, 'slow', 6);
    await redis.xack(s, 'slow', ...all.slice(0, 6));
    await read(s, 'holding', 8);
    await redis.xack(s, 'holding', ...all.slice(0, 8).filter((_, i) => i !== 3));

    expect(await trimAcknowledged(redis, s)).toEqual({ minId: all[3], trimmed: 3 });
    expect(await ids(s)).toEqual(all.slice(3));

    await redis.xack(s, 'holding', all[3]!);
    expect(await trimAcknowledged(redis, s)).toEqual({ minId: expect.any(String), trimmed: 3 });
    // Up to what `slow` read: the 7th entry onwards has not been acknowledged by every group.
    expect(await ids(s)).toEqual(all.slice(6));
    // Nothing more to trim.
    expect((await trimAcknowledged(redis, s))!.trimmed).toBe(0);
  });

  it('trims nothing a group has not read yet, and leaves streams without groups alone', async () => {
    const s = streams.verified;
    const all = await add(s, 4);
    await redis.xgroup('CREATE', s, 'reader', '0');
    await redis.xgroup('CREATE', s, 'new-service', '0');
    await read(s, 'reader', 4);
    await redis.xack(s, 'reader', ...all);
    expect((await trimAcknowledged(redis, s))!.trimmed).toBe(0);
    expect(await ids(s)).toEqual(all);

    // Dead letters have no group: they are evidence, kept.
    const dead = deadLetterStream(streams.verified);
    await add(dead, 3);
    expect(await trimAcknowledged(redis, dead)).toBeUndefined();
    expect(await redis.xlen(dead)).toBe(3);
  });

  it("passes over every rotation stream and its dead letters, and never Caracal's streams", async () => {
    expect(trimmableStreams(streams)).toHaveLength(26);
    expect(trimmableStreams(streams).every((s) => s.startsWith(`${prefix}.`))).toBe(true);
    const s = streams.rolled;
    const all = await add(s, 5);
    await redis.xgroup('CREATE', s, 'verifier', '0');
    await read(s, 'verifier', 5);
    await redis.xack(s, 'verifier', ...all.slice(0, 2));
    const trimmed = await trimRotationStreams({ redis, streams, logger: silent });
    expect(trimmed.get(s)).toBe(2);
    expect(await ids(s)).toEqual(all.slice(2));
    expect([...trimmed.keys()].every((name) => name.startsWith(`${prefix}.`))).toBe(true);
  });
});
