import { chmod, mkdtemp, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deadLetterStream, newRotationId, rotationStreams, stageEventId, type RotationEvent, type RotationStreams } from '@caracal-rotation/contracts';
// Test-only helper (a devDependency); the workspace's tag rules do not yet exempt test files.
import { deleteKeys, testRedis, uniqueName } from '@caracal-rotation/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  FileKeyringSource,
  Keyring,
  Publisher,
  Signers,
  StaticKeyringSource,
  StreamConsumer,
  createRedis,
  decodeHexKey,
  keyIdOf,
  subscribe,
  type ConsumerOptions,
  type KeyringSource,
  type Outcome,
  type Redis,
} from './index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const OLD_HEX = '4f1c2b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6';
const NEW_HEX = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const OTHER_HEX = 'fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210';
const kidOf = (hex: string) => keyIdOf(decodeHexKey(hex));
const GROUP = 'g';
const WAIT = { timeout: 8_000, interval: 20 } as const;

let redis: Redis;
let raw: Redis;
const prefixes: string[] = [];
const running: StreamConsumer[] = [];
const closers: KeyringSource[] = [];
let dir: string;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function freshStreams(): RotationStreams {
  const s = rotationStreams(uniqueName('t-bus-keyring'));
  prefixes.push(s.prefix);
  return s;
}

const completedEvent = (s: RotationStreams, rotationId = newRotationId()) => ({
  stream: s.completed,
  name: 'completed' as const,
  eventId: stageEventId(rotationId, 'verifier', 'retire'),
  rotationId,
  data: { material: 'AUDIT_HMAC_KEY', new_kid: 'a', previous_kid: null, completed_at: new Date().toISOString() },
});

const publisherWith = (keyring: Keyring, name = 'bus-test/keyring') => new Publisher(redis, new StaticKeyringSource(keyring), name);

async function deadLetters(stream: string): Promise<Record<string, string>[]> {
  const rows = (await raw.xrange(deadLetterStream(stream), '-', '+')) as [string, string[]][];
  return rows.map(([, flat]) => Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i]!, flat[2 * i + 1]!])));
}

async function pendingCount(stream: string): Promise<number> {
  return Number(((await raw.xpending(stream, GROUP)) as unknown[])[0]);
}

interface Run {
  consumer: StreamConsumer;
  calls: RotationEvent<unknown>[];
  outcomes: { outcome: Outcome; reason: string | undefined }[];
}

async function startConsumer(s: RotationStreams, keyring: KeyringSource, overrides: Partial<ConsumerOptions> = {}): Promise<Run> {
  const calls: RotationEvent<unknown>[] = [];
  const outcomes: Run['outcomes'] = [];
  const consumer = new StreamConsumer({
    redis,
    group: GROUP,
    consumer: 'c1',
    signers: new Signers({ bus: keyring }),
    publisher: new Publisher(redis, keyring, 'bus-test/consumer'),
    subscriptions: [
      subscribe({
        stream: s.completed,
        event: 'completed',
        signers: ['bus'],
        handle: async (event) => {
          calls.push(event);
        },
      }),
    ],
    claimIdleMs: 300,
    retryDelayMs: 50,
    blockMs: 100,
    maxDeliveries: 3,
    onOutcome: (_stream, outcome, reason) => outcomes.push({ outcome, reason }),
    ...overrides,
  });
  running.push(consumer);
  await consumer.start();
  return { consumer, calls, outcomes };
}

/** Writes a key file the way the secret-writer does: temp file in the same directory, then rename. */
async function writeKeyFile(name: string, hex: string): Promise<void> {
  const tmp = join(dir, `.${name}.${process.pid}.${Math.random().toString(16).slice(2)}.tmp`);
  await writeFile(tmp, hex, { mode: 0o444 });
  await rename(tmp, join(dir, name));
}

beforeAll(() => {
  redis = createRedis(REDIS_URL);
  raw = testRedis();
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bus-keyring-'));
  await chmod(dir, 0o700);
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
  for (const c of closers.splice(0)) c.close();
  await rm(dir, { recursive: true, force: true });
});

afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(raw, prefix);
  await Promise.all([redis.quit(), raw.quit()]);
});

describe('keyring rotation seen by a consumer', () => {
  it('accepts an event signed with the previous key while that key is in the keyring, and dead-letters one as unknown_kid once it was removed and the grace passed', async () => {
    const s = freshStreams();
    const source = new StaticKeyringSource(Keyring.fromHex(NEW_HEX, OLD_HEX));
    const run = await startConsumer(s, source, { unknownKidGraceMs: 1 });
    const oldPublisher = publisherWith(Keyring.fromHex(OLD_HEX));

    const first = completedEvent(s);
    await oldPublisher.publish(first);
    await vi.waitFor(() => expect(run.calls).toHaveLength(1), WAIT);
    expect(run.calls[0]!).toMatchObject({ rotationId: first.rotationId, kid: kidOf(OLD_HEX) });

    source.set(Keyring.fromHex(NEW_HEX));
    const lateId = await oldPublisher.publish(completedEvent(s));
    await vi.waitFor(async () => expect(await deadLetters(s.completed)).toHaveLength(1), WAIT);
    const [dead] = await deadLetters(s.completed);
    expect(dead).toMatchObject({ original_id: lateId, error: 'unknown_kid' });
    expect(JSON.parse(dead!.values!).kid).toBe(kidOf(OLD_HEX));
    expect(run.calls).toHaveLength(1);
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);

    // The new key still works.
    await publisherWith(Keyring.fromHex(NEW_HEX)).publish(completedEvent(s));
    await vi.waitFor(() => expect(run.calls).toHaveLength(2), WAIT);
  });

  it('with a long grace an unknown kid stays pending: not dead-lettered, the handler not called, retried meanwhile', async () => {
    const s = freshStreams();
    const source = new StaticKeyringSource(Keyring.fromHex(NEW_HEX));
    const refresh = vi.spyOn(source, 'refresh');
    const run = await startConsumer(s, source, { unknownKidGraceMs: 60_000 });
    await publisherWith(Keyring.fromHex(OLD_HEX)).publish(completedEvent(s));

    await vi.waitFor(() => expect(run.outcomes.filter((o) => o.outcome === 'deferred' && o.reason === 'unknown_kid').length).toBeGreaterThanOrEqual(3), WAIT);
    expect(refresh.mock.calls.length).toBeGreaterThanOrEqual(3);
    expect(run.calls).toHaveLength(0);
    expect(await deadLetters(s.completed)).toEqual([]);
    expect(await pendingCount(s.completed)).toBe(1);
  });

  it('an entry deferred for an unknown kid is processed once the key arrives, however often it was retried meanwhile', async () => {
    const s = freshStreams();
    const source = new StaticKeyringSource(Keyring.fromHex(OLD_HEX));
    const run = await startConsumer(s, source, { unknownKidGraceMs: 60_000, maxDeliveries: 2 });
    const rotationId = newRotationId();
    await publisherWith(Keyring.fromHex(NEW_HEX)).publish(completedEvent(s, rotationId));

    await vi.waitFor(() => expect(run.outcomes.filter((o) => o.outcome === 'deferred').length).toBeGreaterThanOrEqual(4), WAIT);
    source.set(Keyring.fromHex(NEW_HEX, OLD_HEX));

    await vi.waitFor(() => expect(run.outcomes.at(-1)?.outcome).not.toBe('deferred'), WAIT);
    expect(run.outcomes.at(-1)).toEqual({ outcome: 'ok', reason: undefined });
    expect(run.calls).toHaveLength(1);
    expect(run.calls[0]!.rotationId).toBe(rotationId);
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
    expect(await deadLetters(s.completed)).toEqual([]);
  });

  it('a consumer on a polling FileKeyringSource dead-letters an old-key event as unknown_kid once the Previous file is removed', async () => {
    const s = freshStreams();
    await writeKeyFile('streamsHmacKey', NEW_HEX);
    await writeKeyFile('streamsHmacKeyPrevious', OLD_HEX);
    const source = await FileKeyringSource.open({ dir, pollMs: 25 });
    closers.push(source);
    expect(source.current().kids).toEqual([kidOf(NEW_HEX), kidOf(OLD_HEX)]);
    const run = await startConsumer(s, source, { unknownKidGraceMs: 1 });
    const oldPublisher = publisherWith(Keyring.fromHex(OLD_HEX));

    await oldPublisher.publish(completedEvent(s));
    await vi.waitFor(() => expect(run.calls).toHaveLength(1), WAIT);

    // Retirement removes the Previous file; the poll notices.
    await unlink(join(dir, 'streamsHmacKeyPrevious'));
    await vi.waitFor(() => expect(source.current().kids).toEqual([kidOf(NEW_HEX)]), WAIT);
    const lateId = await oldPublisher.publish(completedEvent(s));
    await vi.waitFor(async () => expect(await deadLetters(s.completed)).toHaveLength(1), WAIT);
    expect((await deadLetters(s.completed))[0]).toMatchObject({ original_id: lateId, error: 'unknown_kid' });
    expect(run.calls).toHaveLength(1);
    expect(await pendingCount(s.completed)).toBe(0);
  });

  it('a consumer meeting a new kid re-reads the key files before judging (no polling, no grace)', async () => {
    const s = freshStreams();
    await writeKeyFile('streamsHmacKey', OLD_HEX);
    const source = await FileKeyringSource.open({ dir, pollMs: 0 });
    closers.push(source);
    const run = await startConsumer(s, source, { unknownKidGraceMs: 0 });

    // The secret-writer deploys the new key; a service that already has it publishes.
    await writeKeyFile('streamsHmacKey', NEW_HEX);
    await writeKeyFile('streamsHmacKeyPrevious', OLD_HEX);
    expect(source.current().kids).toEqual([kidOf(OLD_HEX)]);
    const event = completedEvent(s);
    await publisherWith(Keyring.fromHex(NEW_HEX, OLD_HEX)).publish(event);

    await vi.waitFor(() => expect(run.calls).toHaveLength(1), WAIT);
    expect(run.calls[0]!).toMatchObject({ rotationId: event.rotationId, kid: kidOf(NEW_HEX) });
    expect(source.current().kids).toEqual([kidOf(NEW_HEX), kidOf(OLD_HEX)]);
    expect(await deadLetters(s.completed)).toEqual([]);

    // A kid no file knows is still refused after the re-read.
    const strangerId = await publisherWith(Keyring.fromHex(OTHER_HEX)).publish(completedEvent(s));
    await vi.waitFor(async () => expect(await deadLetters(s.completed)).toHaveLength(1), WAIT);
    expect((await deadLetters(s.completed))[0]).toMatchObject({ original_id: strangerId, error: 'unknown_kid' });
    expect(run.calls).toHaveLength(1);
  });
});

describe('FileKeyringSource', () => {
  it('reads streamsHmacKey and streamsHmacKeyPrevious (trimming a trailing newline) from the directory', async () => {
    await writeKeyFile('streamsHmacKey', `${NEW_HEX}\n`);
    await writeKeyFile('streamsHmacKeyPrevious', OLD_HEX);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const source = await FileKeyringSource.open({ dir, pollMs: 0 });
    closers.push(source);
    expect(source.current().current.kid).toBe(kidOf(NEW_HEX));
    expect(source.current().previous?.kid).toBe(kidOf(OLD_HEX));
  });

  it('honours custom file names', async () => {
    await writeKeyFile('busKey', NEW_HEX);
    await writeKeyFile('busKeyOld', OLD_HEX);
    const source = await FileKeyringSource.open({ dir, file: 'busKey', previousFile: 'busKeyOld', pollMs: 0 });
    closers.push(source);
    expect(source.current().kids).toEqual([kidOf(NEW_HEX), kidOf(OLD_HEX)]);
  });

  it('refuses to open without a current key file, or with a bad key', async () => {
    await expect(FileKeyringSource.open({ dir, pollMs: 0 })).rejects.toThrow(/missing or empty/);
    await writeKeyFile('streamsHmacKey', NEW_HEX.slice(0, 40));
    await expect(FileKeyringSource.open({ dir, pollMs: 0 })).rejects.toThrow(/at least 32/);
  });

  it('picks up a key file replaced by rename (poll), and reports the change', async () => {
    await writeKeyFile('streamsHmacKey', OLD_HEX);
    const onChange = vi.fn();
    const source = await FileKeyringSource.open({ dir, pollMs: 25, onChange });
    closers.push(source);
    expect(onChange).toHaveBeenCalledTimes(1); // the initial read
    expect(source.current().kids).toEqual([kidOf(OLD_HEX)]);

    await writeKeyFile('streamsHmacKey', NEW_HEX);
    await writeKeyFile('streamsHmacKeyPrevious', OLD_HEX);
    await vi.waitFor(() => expect(source.current().kids).toEqual([kidOf(NEW_HEX), kidOf(OLD_HEX)]), WAIT);
    await vi.waitFor(() => expect((onChange.mock.lastCall?.[0] as Keyring | undefined)?.kids).toEqual([kidOf(NEW_HEX), kidOf(OLD_HEX)]), WAIT);

    await unlink(join(dir, 'streamsHmacKeyPrevious'));
    await vi.waitFor(() => expect(source.current().kids).toEqual([kidOf(NEW_HEX)]), WAIT);
  });

  it('picks up a key file overwritten in place with a value of the same length', async () => {
    const path = join(dir, 'streamsHmacKey');
    await writeFile(path, OLD_HEX, { mode: 0o600 });
    const source = await FileKeyringSource.open({ dir, pollMs: 25 });
    closers.push(source);
    const inode = (await stat(path)).ino;
    await sleep(20);
    await writeFile(path, NEW_HEX);
    expect((await stat(path)).ino).toBe(inode);
    await vi.waitFor(() => expect(source.current().current.kid).toBe(kidOf(NEW_HEX)), WAIT);
  });

  it('keeps the last good keyring and reports an error when the file turns bad, then recovers', async () => {
    await writeKeyFile('streamsHmacKey', OLD_HEX);
    const onError = vi.fn();
    const source = await FileKeyringSource.open({ dir, pollMs: 25, onError });
    closers.push(source);
    await writeKeyFile('streamsHmacKey', 'zz'.repeat(32));
    await vi.waitFor(() => expect(onError).toHaveBeenCalled(), WAIT);
    expect(source.current().kids).toEqual([kidOf(OLD_HEX)]);
    await writeKeyFile('streamsHmacKey', NEW_HEX);
    await vi.waitFor(() => expect(source.current().kids).toEqual([kidOf(NEW_HEX)]), WAIT);
  });

  it('with pollMs 0 does not poll: only refresh() re-reads', async () => {
    await writeKeyFile('streamsHmacKey', OLD_HEX);
    const source = await FileKeyringSource.open({ dir, pollMs: 0 });
    closers.push(source);
    await writeKeyFile('streamsHmacKey', NEW_HEX);
    await sleep(150);
    expect(source.current().current.kid).toBe(kidOf(OLD_HEX));
    expect((await source.refresh()).current.kid).toBe(kidOf(NEW_HEX));
    expect(source.current().current.kid).toBe(kidOf(NEW_HEX));
  });

  it('stops polling after close()', async () => {
    await writeKeyFile('streamsHmacKey', OLD_HEX);
    const source = await FileKeyringSource.open({ dir, pollMs: 25 });
    source.close();
    await writeKeyFile('streamsHmacKey', NEW_HEX);
    await sleep(150);
    expect(source.current().current.kid).toBe(kidOf(OLD_HEX));
  });
});
