import { deadLetterStream, newRotationId, rotationStreams, stageEventId, type RotationEvent, type RotationStreams } from '@caracal-rotation/contracts';
// Test-only helper (a devDependency); the workspace's tag rules do not yet exempt test files.
import { deleteKeys, testRedis, uniqueName } from '@caracal-rotation/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  Keyring,
  PermanentHandlerError,
  Publisher,
  Signers,
  StaticKeyringSource,
  TransientError,
  StreamConsumer,
  createRedis,
  subscribe,
  type ConsumerOptions,
  type OutgoingEvent,
  type Outcome,
  type Redis,
  type StreamFields,
} from './index.js';

// Real Redis, never mocked (REDIS_URL comes from the shared vitest global setup).
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEY_HEX = '4f1c2b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6';
const GROUP = 'g';
const WAIT = { timeout: 8_000, interval: 20 } as const;

type Handler = (event: RotationEvent<unknown>) => Promise<readonly OutgoingEvent[] | void>;

let redis: Redis;
let raw: Redis;
let source: StaticKeyringSource;
let publisher: Publisher;
const prefixes: string[] = [];
const running: StreamConsumer[] = [];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function freshStreams(): RotationStreams {
  const s = rotationStreams(uniqueName('t-bus-consumer'));
  prefixes.push(s.prefix);
  return s;
}

const completedData = () => ({ material: 'AUDIT_HMAC_KEY', new_kid: 'a', previous_kid: null, completed_at: new Date().toISOString() });

function completedEvent(s: RotationStreams, rotationId = newRotationId()): OutgoingEvent {
  return { stream: s.completed, name: 'completed', eventId: stageEventId(rotationId, 'verifier', 'retire'), rotationId, data: completedData() };
}

function rejectedEvent(s: RotationStreams, rotationId: string): OutgoingEvent {
  return {
    stream: s.rejected,
    name: 'rejected',
    eventId: stageEventId(rotationId, 'test', 'deploy'),
    rotationId,
    data: { material: 'AUDIT_HMAC_KEY', reason_code: 'invalid_request', message: 'test output' },
  };
}

const toObject = (flat: string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
};

async function entries(stream: string): Promise<{ id: string; fields: Record<string, string> }[]> {
  const rows = (await raw.xrange(stream, '-', '+')) as [string, string[]][];
  return rows.map(([id, flat]) => ({ id, fields: toObject(flat) }));
}

async function deadLetters(stream: string) {
  return (await entries(deadLetterStream(stream))).map((e) => e.fields);
}

async function pendingCount(stream: string, group = GROUP): Promise<number> {
  const summary = (await raw.xpending(stream, group)) as [number | string, ...unknown[]];
  return Number(summary[0]);
}

async function xadd(stream: string, fields: StreamFields): Promise<string> {
  return String(await raw.xadd(stream, '*', ...Object.entries(fields).flat()));
}

/** Reads entries as a consumer that then "dies": it never acknowledges them. */
async function readAsDeadConsumer(stream: string, consumer: string, count = 100): Promise<string[]> {
  const reply = (await raw.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', String(count), 'STREAMS', stream, '>')) as [string, [string, string[]][]][] | null;
  return (reply?.[0]?.[1] ?? []).map(([id]) => id);
}

interface Run {
  consumer: StreamConsumer;
  calls: RotationEvent<unknown>[];
  outcomes: { outcome: Outcome; reason: string | undefined }[];
}

async function startConsumer(s: RotationStreams, handle: Handler, overrides: Partial<ConsumerOptions> = {}): Promise<Run> {
  const calls: RotationEvent<unknown>[] = [];
  const outcomes: Run['outcomes'] = [];
  const consumer = new StreamConsumer({
    redis,
    group: GROUP,
    consumer: 'c1',
    signers: new Signers({ bus: source }),
    publisher,
    subscriptions: [
      subscribe({
        stream: s.completed,
        event: 'completed',
        signers: ['bus'],
        handle: async (event) => {
          calls.push(event);
          return handle(event);
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

beforeAll(() => {
  redis = createRedis(REDIS_URL);
  raw = testRedis();
  source = new StaticKeyringSource(Keyring.fromHex(KEY_HEX));
  publisher = new Publisher(redis, source, 'bus-test/consumer');
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});

afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(raw, prefix);
  await Promise.all([redis.quit(), raw.quit()]);
});

describe('StreamConsumer on real Redis', () => {
  it('processes a signed event once, acks it and passes the decoded envelope to the handler', async () => {
    const s = freshStreams();
    const run = await startConsumer(s, async () => undefined);
    const event = completedEvent(s);
    const entryId = await publisher.publish(event);

    await vi.waitFor(() => expect(run.calls).toHaveLength(1), WAIT);
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
    const got = run.calls[0]!;
    expect(got).toMatchObject({
      stream: s.completed,
      entryId,
      eventId: event.eventId,
      type: 'rotation.completed',
      rotationId: event.rotationId,
      producer: 'bus-test/consumer',
      kid: source.current().current.kid,
      deliveries: 1,
    });
    expect(got.data).toEqual(event.data);
    expect(run.outcomes).toEqual([{ outcome: 'ok', reason: undefined }]);
  });

  it('(a) a consumer that read an entry and died: another consumer of the group claims it via the reaper and processes it exactly once', async () => {
    const s = freshStreams();
    await raw.xgroup('CREATE', s.completed, GROUP, '0', 'MKSTREAM');
    const event = completedEvent(s);
    const entryId = await publisher.publish(event);
    expect(await readAsDeadConsumer(s.completed, 'dead')).toEqual([entryId]);
    expect(await pendingCount(s.completed)).toBe(1);

    const b = await startConsumer(s, async (e) => [rejectedEvent(s, e.rotationId)], { consumer: 'b' });

    await vi.waitFor(() => expect(b.calls).toHaveLength(1), WAIT);
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
    expect(b.calls[0]!.entryId).toBe(entryId);
    expect(b.calls[0]!.deliveries).toBe(2);

    // Several reaper periods later: still exactly one handler call and one output.
    await sleep(1_000);
    expect(b.calls).toHaveLength(1);
    const out = await entries(s.rejected);
    expect(out).toHaveLength(1);
    expect(out[0]!.fields.event_id).toBe(rejectedEvent(s, event.rotationId).eventId);
    expect(await deadLetters(s.completed)).toEqual([]);
  });

  it('(a) a slow but live consumer keeps its entry: another consumer\'s reaper does not steal it', async () => {
    const s = freshStreams();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // A wider claimIdleMs than elsewhere leaves the heartbeat (every claimIdleMs / 3) room on a busy CI machine.
    const a = await startConsumer(s, () => gate, { consumer: 'a', claimIdleMs: 600 });
    await publisher.publish(completedEvent(s));
    await vi.waitFor(() => expect(a.calls).toHaveLength(1), WAIT);

    const b = await startConsumer(s, async () => undefined, { consumer: 'b', claimIdleMs: 600 });
    await sleep(2_000); // more than three times claimIdleMs
    expect(b.calls).toHaveLength(0);
    release();
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
    expect(a.calls).toHaveLength(1);
    expect(b.calls).toHaveLength(0);
  });

  it('(b) a handler that always throws: called exactly maxDeliveries times, then the entry is dead-lettered as max_deliveries', async () => {
    const s = freshStreams();
    const run = await startConsumer(
      s,
      async () => {
        throw new Error('boom');
      },
      { maxDeliveries: 4 },
    );
    const entryId = await publisher.publish(completedEvent(s));
    const [original] = await entries(s.completed);

    await vi.waitFor(async () => expect(await deadLetters(s.completed)).toHaveLength(1), WAIT);
    const [dead] = await deadLetters(s.completed);
    expect(dead).toMatchObject({ original_id: entryId, error: 'max_deliveries', group: GROUP });
    expect(JSON.parse(dead!.values!)).toEqual(original!.fields);
    expect(run.calls.map((c) => c.deliveries)).toEqual([1, 2, 3, 4]);
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);

    await sleep(700);
    expect(run.calls).toHaveLength(4);
    expect(await deadLetters(s.completed)).toHaveLength(1);
  });

  it('(c) a field changed after signing: dead-lettered as invalid_signature, the handler never runs', async () => {
    const s = freshStreams();
    const run = await startConsumer(s, async () => undefined);
    const good = publisher.envelope(completedEvent(s));
    const tampered: StreamFields[] = [
      { ...good, producer: 'mallory/host' },
      { ...good, data: JSON.stringify({ ...completedData(), new_kid: 'evil' }) },
      { ...good, _sig: `${good._sig!.slice(0, 63)}${good._sig!.endsWith('0') ? '1' : '0'}` },
      { ...good, extra: 'x' },
    ];
    const ids: string[] = [];
    for (const fields of tampered) ids.push(await xadd(s.completed, fields));

    await vi.waitFor(async () => expect(await deadLetters(s.completed)).toHaveLength(tampered.length), WAIT);
    const dead = await deadLetters(s.completed);
    expect(dead.map((d) => d.original_id)).toEqual(ids);
    expect(dead.map((d) => d.error)).toEqual(tampered.map(() => 'invalid_signature'));
    expect(dead.map((d) => JSON.parse(d.values!))).toEqual(tampered);
    expect(run.calls).toHaveLength(0);
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
  });

  it('(d) invalid payloads (data not JSON, data failing the schema, a type of another stream, a broken envelope) are dead-lettered as invalid_payload', async () => {
    const s = freshStreams();
    const run = await startConsumer(s, async () => undefined);
    const keyring = source.current();
    const base = publisher.envelope(completedEvent(s));
    const { _sig: _drop, kid: _kid, ...unsigned } = base;
    const bad: Record<string, StreamFields> = {
      notJson: { ...unsigned, data: '{"material": "AUDIT_HMAC_KEY",' },
      schema: { ...unsigned, data: JSON.stringify({ material: 'AUDIT_HMAC_KEY', previous_kid: null }) },
      unknownMaterial: { ...unsigned, data: JSON.stringify({ ...completedData(), material: 'NOT_A_MATERIAL' }) },
      wrongType: {
        ...unsigned,
        type: 'rotation.rejected',
        data: JSON.stringify({ material: 'AUDIT_HMAC_KEY', reason_code: 'invalid_request', message: 'm' }),
      },
      badEventId: { ...unsigned, event_id: 'not-a-uuid' },
      missingRotationId: Object.fromEntries(Object.entries(unsigned).filter(([k]) => k !== 'rotation_id')),
      badTimestamp: { ...unsigned, occurred_at: '2026-11-28 10:00:00' },
    };
    const idToCase = new Map<string, string>();
    for (const [name, fields] of Object.entries(bad)) {
      const signed = keyring.sign(s.completed, fields);
      expect(keyring.verify(s.completed, signed).ok).toBe(true);
      idToCase.set(await xadd(s.completed, signed), name);
    }
    // A good event after them still flows.
    await publisher.publish(completedEvent(s));

    await vi.waitFor(async () => expect(await deadLetters(s.completed)).toHaveLength(Object.keys(bad).length), WAIT);
    await vi.waitFor(() => expect(run.calls).toHaveLength(1), WAIT);
    const dead = await deadLetters(s.completed);
    expect(new Set(dead.map((d) => idToCase.get(d.original_id!)))).toEqual(new Set(Object.keys(bad)));
    for (const d of dead) expect(d.error).toBe('invalid_payload');
    expect(run.calls[0]!.data).toMatchObject({ material: 'AUDIT_HMAC_KEY' });

    // An entry with no kid at all is refused at once: no keyring reload could supply one.
    const noKid = await xadd(s.completed, { ...unsigned, _sig: 'ab'.repeat(32) });
    await vi.waitFor(async () => expect((await deadLetters(s.completed)).find((d) => d.original_id === noKid)?.error).toBe('invalid_payload'), { timeout: 5000 });
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
  });

  it('a dead letter that cannot be written leaves the entry pending (no crash), and the reaper finishes the job later', async () => {
    const s = freshStreams();
    // A plain string where the dead-letter stream should be: XADD fails with WRONGTYPE.
    await raw.set(deadLetterStream(s.completed), 'in the way');
    // In a service an unhandled rejection ends the process (Node's default).
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const run = await startConsumer(s, async () => undefined);
      const good = publisher.envelope(completedEvent(s));
      const entryId = await xadd(s.completed, { ...good, producer: 'mallory/host' });

      await sleep(200);
      expect(unhandled).toEqual([]);
      expect(await pendingCount(s.completed)).toBe(1);
      await raw.del(deadLetterStream(s.completed));
      await vi.waitFor(async () => expect(await deadLetters(s.completed)).toHaveLength(1), WAIT);
      expect((await deadLetters(s.completed))[0]).toMatchObject({ original_id: entryId, error: 'invalid_signature' });
      await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
      expect(run.calls).toHaveLength(0);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('(e) a PermanentHandlerError dead-letters the entry with its code at the first delivery', async () => {
    const s = freshStreams();
    const run = await startConsumer(
      s,
      async () => {
        throw new PermanentHandlerError('some_code', 'cannot ever work');
      },
      { maxDeliveries: 5 },
    );
    const entryId = await publisher.publish(completedEvent(s));

    await vi.waitFor(async () => expect(await deadLetters(s.completed)).toHaveLength(1), WAIT);
    const [dead] = await deadLetters(s.completed);
    expect(dead).toMatchObject({ original_id: entryId, error: 'some_code', detail: 'cannot ever work' });
    expect(run.calls.map((c) => c.deliveries)).toEqual([1]);
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
    await sleep(500);
    expect(run.calls).toHaveLength(1);
  });

  it('(f) outputs are published, signed, and the input acked afterwards', async () => {
    const s = freshStreams();
    const run = await startConsumer(s, async (e) => [rejectedEvent(s, e.rotationId)]);
    const event = completedEvent(s);
    await publisher.publish(event);

    await vi.waitFor(async () => expect(await entries(s.rejected)).toHaveLength(1), WAIT);
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
    const [out] = await entries(s.rejected);
    expect(source.current().verify(s.rejected, out!.fields)).toEqual({ ok: true, kid: source.current().current.kid });
    expect(out!.fields).toMatchObject({ event_id: rejectedEvent(s, event.rotationId).eventId, type: 'rotation.rejected', rotation_id: event.rotationId });
    expect(JSON.parse(out!.fields.data!)).toEqual(rejectedEvent(s, event.rotationId).data);
    expect(run.calls).toHaveLength(1);
  });

  it('(f) when publishing the outputs fails, the input is not acked and is retried until the outputs are out', async () => {
    const s = freshStreams();
    // A plain string where the output stream should be: XADD fails with WRONGTYPE.
    await raw.set(s.rejected, 'in the way');
    const run = await startConsumer(s, async (e) => [rejectedEvent(s, e.rotationId)], { maxDeliveries: 20, retryDelayMs: 100 });
    const event = completedEvent(s);
    await publisher.publish(event);

    await vi.waitFor(() => expect(run.outcomes.filter((o) => o.outcome === 'retry').length).toBeGreaterThanOrEqual(1), WAIT);
    expect(await pendingCount(s.completed)).toBe(1);
    expect(run.outcomes.some((o) => o.outcome === 'ok')).toBe(false);

    await raw.del(s.rejected);
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
    const out = await entries(s.rejected);
    expect(out).toHaveLength(1);
    expect(out[0]!.fields.event_id).toBe(rejectedEvent(s, event.rotationId).eventId);
    expect(run.calls.length).toBeGreaterThanOrEqual(2);
    expect(await deadLetters(s.completed)).toEqual([]);
  });

  it('(g) the same envelope published twice while the consumer runs: the handler is called once, both entries acked', async () => {
    const s = freshStreams();
    const run = await startConsumer(s, async () => undefined);
    const fields = publisher.envelope(completedEvent(s));
    await xadd(s.completed, fields);
    await vi.waitFor(() => expect(run.calls).toHaveLength(1), WAIT);
    await xadd(s.completed, fields);

    await vi.waitFor(() => expect(run.outcomes.map((o) => o.outcome)).toEqual(['ok', 'duplicate']), WAIT);
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
    expect(run.calls).toHaveLength(1);
  });

  it('(g) the same envelope twice in one read batch: the handler is still called once', async () => {
    const s = freshStreams();
    await raw.xgroup('CREATE', s.completed, GROUP, '0', 'MKSTREAM');
    const fields = publisher.envelope(completedEvent(s));
    await xadd(s.completed, fields);
    await xadd(s.completed, fields);
    const run = await startConsumer(s, async () => {
      await sleep(50);
    });

    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
    await vi.waitFor(() => expect(run.outcomes).toHaveLength(2), WAIT);
    expect(run.calls).toHaveLength(1);
    expect(run.outcomes.map((o) => o.outcome).sort()).toEqual(['duplicate', 'ok']);
  });

  it('(g) a duplicate is recognised across consumers of the same group, while another group gets the event for itself', async () => {
    const s = freshStreams();
    const fields = publisher.envelope(completedEvent(s));
    const first = await startConsumer(s, async () => undefined, { consumer: 'one' });
    await xadd(s.completed, fields);
    await vi.waitFor(() => expect(first.calls).toHaveLength(1), WAIT);
    await first.consumer.stop();

    const second = await startConsumer(s, async () => undefined, { consumer: 'two' });
    const other = await startConsumer(s, async () => undefined, { consumer: 'x', group: 'other' });
    await xadd(s.completed, fields);
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
    await vi.waitFor(() => expect(second.outcomes.map((o) => o.outcome)).toEqual(['duplicate']), WAIT);
    expect(second.calls).toHaveLength(0);
    // The other group sees the event once too (its two copies arrive in one batch).
    await vi.waitFor(async () => expect(await pendingCount(s.completed, 'other')).toBe(0), WAIT);
    await vi.waitFor(() => expect(other.outcomes.map((o) => o.outcome).sort()).toEqual(['duplicate', 'ok']), WAIT);
    expect(other.calls).toHaveLength(1);
  });

  it('(h) on start a consumer first processes its own pending entries, then new ones', async () => {
    const s = freshStreams();
    await raw.xgroup('CREATE', s.completed, GROUP, '0', 'MKSTREAM');
    const older = [completedEvent(s), completedEvent(s), completedEvent(s)];
    for (const e of older) await publisher.publish(e);
    expect(await readAsDeadConsumer(s.completed, 'worker-x')).toHaveLength(3);
    const newer = [completedEvent(s), completedEvent(s)];
    for (const e of newer) await publisher.publish(e);

    // A long claimIdleMs: the reaper cannot be what finds the old entries.
    const run = await startConsumer(s, async () => undefined, { consumer: 'worker-x', claimIdleMs: 60_000 });
    await vi.waitFor(() => expect(run.calls).toHaveLength(5), WAIT);
    expect(run.calls.map((c) => c.rotationId)).toEqual([...older, ...newer].map((e) => e.rotationId));
    expect(run.calls.map((c) => c.deliveries)).toEqual([2, 2, 2, 1, 1]);
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
  });

  describe('(i) maxInFlight', () => {
    async function boundedRun(s: RotationStreams, overrides: Partial<ConsumerOptions> = {}) {
      let now = 0;
      let max = 0;
      const run = await startConsumer(
        s,
        async () => {
          now += 1;
          max = Math.max(max, now);
          await sleep(80);
          now -= 1;
        },
        { maxInFlight: 2, ...overrides },
      );
      return { run, max: () => max };
    }

    it('never runs more than maxInFlight handlers at once for new entries', async () => {
      const s = freshStreams();
      const { run, max } = await boundedRun(s);
      await Promise.all(Array.from({ length: 8 }, () => publisher.publish(completedEvent(s))));
      await vi.waitFor(() => expect(run.calls).toHaveLength(8), WAIT);
      expect(max()).toBe(2);
      await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
    });

    it('keeps the bound while re-reading its own pending entries on start', async () => {
      const s = freshStreams();
      await raw.xgroup('CREATE', s.completed, GROUP, '0', 'MKSTREAM');
      for (let i = 0; i < 6; i++) await publisher.publish(completedEvent(s));
      await readAsDeadConsumer(s.completed, 'c1');
      const { run, max } = await boundedRun(s, { claimIdleMs: 60_000 });
      await vi.waitFor(() => expect(run.calls).toHaveLength(6), WAIT);
      expect(max()).toBeLessThanOrEqual(2);
    });

    it('keeps the bound for entries the reaper claims from a dead consumer', async () => {
      const s = freshStreams();
      await raw.xgroup('CREATE', s.completed, GROUP, '0', 'MKSTREAM');
      for (let i = 0; i < 6; i++) await publisher.publish(completedEvent(s));
      await readAsDeadConsumer(s.completed, 'dead');
      const { run, max } = await boundedRun(s);
      await vi.waitFor(() => expect(run.calls).toHaveLength(6), WAIT);
      expect(max()).toBeLessThanOrEqual(2);
      await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
    });
  });

  it('(j) stop() waits for an in-flight handler to finish (and its ack), and reads nothing afterwards', async () => {
    const s = freshStreams();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let finished = false;
    const run = await startConsumer(s, async () => {
      await gate;
      finished = true;
    });
    await publisher.publish(completedEvent(s));
    await vi.waitFor(() => expect(run.calls).toHaveLength(1), WAIT);

    let stopped = false;
    const stopping = run.consumer.stop().then(() => {
      stopped = true;
    });
    await sleep(300);
    expect(stopped).toBe(false);
    expect(run.consumer.inFlightCount).toBe(1);

    release();
    await stopping;
    expect(finished).toBe(true);
    expect(run.consumer.inFlightCount).toBe(0);
    expect(await pendingCount(s.completed)).toBe(0);

    await publisher.publish(completedEvent(s));
    await sleep(400);
    expect(run.calls).toHaveLength(1);
  });

  it('stop() returns promptly when idle, despite a blocking read in progress', async () => {
    const s = freshStreams();
    const run = await startConsumer(s, async () => undefined, { blockMs: 10_000 });
    await sleep(100);
    const t0 = Date.now();
    await run.consumer.stop();
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});

describe('admission: who may sign, how big, how old', () => {
  const OPERATOR_HEX = 'a1'.repeat(32);
  const operatorSource = new StaticKeyringSource(Keyring.fromHex(OPERATOR_HEX));

  it('dead-letters an entry signed by a known key of a kind the stream does not accept, as unauthorized_signer, without running the handler', async () => {
    const s = freshStreams();
    // The operator's key is known to this consumer as a Caracal key: valid signature, wrong kind.
    const run = await startConsumer(s, async () => undefined, { signers: new Signers({ bus: source, caracal: operatorSource }) });
    const forged = new Publisher(redis, operatorSource, 'gateway/compromised');
    await forged.publish(completedEvent(s));
    await vi.waitFor(async () => expect(await deadLetters(s.completed)).toHaveLength(1), WAIT);
    expect((await deadLetters(s.completed))[0]).toMatchObject({ error: 'unauthorized_signer', group: GROUP });
    expect(run.calls).toHaveLength(0);
    expect(await pendingCount(s.completed)).toBe(0);
  });

  it('refuses a data field over the cap as too_large and an entry older than the horizon as stale, before parsing', async () => {
    const s = freshStreams();
    // The old entry goes first: stream ids only grow.
    const old = publisher.envelope(completedEvent(s));
    await raw.xadd(s.completed, `${Date.now() - 8 * 24 * 3600 * 1000}-0`, ...Object.entries(old).flat());
    const run = await startConsumer(s, async () => undefined);
    const big = publisher.envelope({ ...completedEvent(s), data: { ...completedData(), padding: 'x'.repeat(70 * 1024) } });
    await xadd(s.completed, big);
    await vi.waitFor(async () => expect((await deadLetters(s.completed)).map((d) => d.error).sort()).toEqual(['stale', 'too_large']), WAIT);
    expect(run.calls).toHaveLength(0);
  });

  it('refuses as stale an old signed event added again under a new stream id', async () => {
    const s = freshStreams();
    const run = await startConsumer(s, async () => undefined);
    const replayed = publisher.envelope(completedEvent(s), new Date(Date.now() - 8 * 24 * 3600 * 1000).toISOString());
    await xadd(s.completed, replayed);
    await vi.waitFor(async () => expect((await deadLetters(s.completed)).map((d) => d.error)).toEqual(['stale']), WAIT);
    expect(run.calls).toHaveLength(0);
  });

  it('retries a transient fault past the delivery limit, for as long as retryForMs allows', async () => {
    const s = freshStreams();
    let failures = 0;
    const run = await startConsumer(
      s,
      async () => {
        if (failures++ < 6) throw new TransientError('connect ECONNREFUSED 127.0.0.1:5432');
        return undefined;
      },
      { maxDeliveries: 2, retryDelayMs: 20, maxRetryDelayMs: 40, retryForMs: 60_000 },
    );
    await publisher.publish(completedEvent(s));
    await vi.waitFor(() => expect(run.outcomes.some((o) => o.outcome === 'ok')).toBe(true), WAIT);
    expect(run.calls).toHaveLength(7);
    expect(await deadLetters(s.completed)).toEqual([]);
  });

  it('gives up on a transient fault after retryForMs, as transient_exhausted', async () => {
    const s = freshStreams();
    const run = await startConsumer(
      s,
      async () => {
        throw new TransientError('the STS answered 503');
      },
      { retryDelayMs: 20, maxRetryDelayMs: 40, retryForMs: 300 },
    );
    await publisher.publish(completedEvent(s));
    await vi.waitFor(async () => expect((await deadLetters(s.completed)).map((d) => d.error)).toEqual(['transient_exhausted']), WAIT);
    expect(run.calls.length).toBeGreaterThan(2);
  });

  it('tells onDeadLetter about authentic entries only, and publishes what it returns', async () => {
    const s = freshStreams();
    const notices: { reason: string; authentic: boolean }[] = [];
    await startConsumer(
      s,
      async () => {
        throw new PermanentHandlerError('refused', 'the writer refused');
      },
      {
        onDeadLetter: (n) => {
          notices.push({ reason: n.reason, authentic: n.authentic });
          return [rejectedEvent(s, n.fields.rotation_id!)];
        },
      },
    );
    const rotationId = newRotationId();
    await publisher.publish(completedEvent(s, rotationId));
    const tampered = { ...publisher.envelope(completedEvent(s)), producer: 'someone-else' };
    await xadd(s.completed, tampered);
    await vi.waitFor(async () => expect(await deadLetters(s.completed)).toHaveLength(2), WAIT);
    expect(notices).toEqual([{ reason: 'refused', authentic: true }]);
    // What onDeadLetter returns is published after the dead letter is written.
    await vi.waitFor(async () => expect((await entries(s.rejected)).map((e) => e.fields.rotation_id)).toEqual([rotationId]), WAIT);
  });
});

describe('batch mode', () => {
  it('hands every admitted entry of a read to one call, acks them together, and falls back to one by one when a batch fails', async () => {
    const s = freshStreams();
    const batches: number[] = [];
    let handled = 0;
    let failNext = false;
    const singles: string[] = [];
    const handleBatch = async (events: readonly RotationEvent<unknown>[]) => {
      if (events.length === 1) singles.push(events[0]!.eventId);
      batches.push(events.length);
      if (failNext && events.length > 1) {
        failNext = false;
        throw new Error('the database went away');
      }
      handled += events.length;
      return undefined;
    };
    for (let i = 0; i < 20; i++) await publisher.publish(completedEvent(s));
    const run = await startConsumer(s, async (e) => handleBatch([e]), { handleBatch, batchSize: 64 });
    await vi.waitFor(async () => expect(handled).toBe(20), WAIT);
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
    expect(Math.max(...batches)).toBeGreaterThan(1);
    await run.consumer.stop();

    failNext = true;
    singles.length = 0;
    for (let i = 0; i < 5; i++) await publisher.publish(completedEvent(s));
    const again = await startConsumer(s, async (e) => handleBatch([e]), { handleBatch, batchSize: 64 });
    await vi.waitFor(async () => expect(handled).toBe(25), WAIT);
    await vi.waitFor(async () => expect(await pendingCount(s.completed)).toBe(0), WAIT);
    expect(singles.length).toBeGreaterThanOrEqual(5);
    expect(await deadLetters(s.completed)).toEqual([]);
    await again.consumer.stop();
  });
});
