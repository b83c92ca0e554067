import { deleteKeys, testRedis, uniqueName } from '@caracal-rotation/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { drainBeforeSwitch } from './switch-drain.js';

const redis = testRedis();
const ns = uniqueName('t-switch-drain');
afterAll(async () => {
  await deleteKeys(redis, ns);
  redis.disconnect();
});

/** A stream with a live consumer group that has read `read` of `published` entries and acknowledged them. */
async function streamWith(name: string, published: number, read: number): Promise<string> {
  const stream = `${ns}.${name}`;
  await redis.xgroup('CREATE', stream, 'consumers', '0', 'MKSTREAM');
  for (let i = 0; i < published; i++) await redis.xadd(stream, '*', 'n', String(i));
  if (read > 0) {
    const reply = (await redis.xreadgroup('GROUP', 'consumers', 'c1', 'COUNT', read, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    await redis.xack(stream, 'consumers', ...reply[0]![1].map(([id]) => id));
  }
  return stream;
}

describe('draining before the switch', () => {
  it('goes ahead at once when every live group has read and acknowledged what was published', async () => {
    const stream = await streamWith('quiet', 3, 3);
    const result = await drainBeforeSwitch(redis, [{ stream, group: '*' }], { timeoutMs: 5_000, abandonAfterMs: 60_000, pollMs: 20 });
    expect(result).toMatchObject({ pairs: 1, drained: true, undrained: [] });
  });

  it('waits for a live group to catch up, and only up to what was published when it started', async () => {
    const stream = await streamWith('busy', 4, 1);
    let looked!: () => void;
    const lookedOnce = new Promise<void>((r) => (looked = r));
    const waiting = drainBeforeSwitch(redis, [{ stream: `${ns}.bus*`, group: '*' }], { timeoutMs: 10_000, abandonAfterMs: 60_000, pollMs: 20, onWaiting: () => looked() });
    await lookedOnce;
    await new Promise((r) => setTimeout(r, 150));
    // Published after the marks: not waited for.
    await redis.xadd(stream, '*', 'n', 'late');
    const reply = (await redis.xreadgroup('GROUP', 'consumers', 'c1', 'COUNT', 3, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    await redis.xack(stream, 'consumers', ...reply[0]![1].map(([id]) => id));
    const result = await waiting;
    expect(result).toMatchObject({ pairs: 1, drained: true });
    expect(result.waited_ms).toBeGreaterThanOrEqual(150);
  });

  it('says what is still pending when the bound passes, and does not wait for a group without consumers', async () => {
    const stuck = await streamWith('stuck', 5, 2);
    await redis.xreadgroup('GROUP', 'consumers', 'c1', 'COUNT', 1, 'STREAMS', stuck, '>');
    const ghost = `${ns}.ghost`;
    await redis.xgroup('CREATE', ghost, 'gone', '0', 'MKSTREAM');
    await redis.xadd(ghost, '*', 'n', '1');
    const result = await drainBeforeSwitch(redis, [{ stream: stuck, group: '*' }, { stream: ghost, group: '*' }], { timeoutMs: 300, abandonAfterMs: 60_000, pollMs: 20 });
    expect(result).toMatchObject({ pairs: 2, drained: false, undrained: [{ stream: stuck, group: 'consumers', pending: 1 }] });
  });
});
