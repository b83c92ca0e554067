import { EVENT_DATA_SCHEMAS, envelopeSchema, eventType, type EventName, type RotationEvent } from '@caracal-rotation/contracts';
import { writeDeadLetter, type DeadLetterReason } from './dead-letter.js';
import { PermanentHandlerError } from './errors.js';
import type { KeyringSource } from './keyring-source.js';
import type { OutgoingEvent, Publisher } from './publisher.js';
import { duplicateForBlocking, groupKeysForCommand, type Redis, type RedisClient } from './redis.js';
import type { StreamFields } from './signature.js';

export interface Subscription<T = unknown> {
  stream: string;
  event: EventName;
  /** Validates `data`; defaults to the contract schema of `event`. Throwing dead-letters the entry as `invalid_payload`. */
  parse?: (data: unknown) => T;
  /** Returns the events to emit; they are published before the input is acknowledged. */
  handle: (event: RotationEvent<T>) => Promise<readonly OutgoingEvent[] | void>;
}

/** Keeps each subscription's payload type while allowing a heterogeneous list. */
export const subscribe = <T>(s: Subscription<T>): Subscription<unknown> => s as unknown as Subscription<unknown>;

export type Outcome = 'ok' | 'dead_letter' | 'retry' | 'duplicate' | 'deferred';

export interface BusLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ConsumerOptions {
  redis: RedisClient;
  group: string;
  consumer: string;
  subscriptions: readonly Subscription<unknown>[];
  keyring: KeyringSource;
  publisher: Publisher;
  batchSize?: number;
  blockMs?: number;
  /** Entries idle longer than this are claimed from (presumed dead) consumers. Must exceed the slowest handler. */
  claimIdleMs?: number;
  maxDeliveries?: number;
  maxInFlight?: number;
  /** First delay before this consumer retries an entry its handler failed on; doubles per delivery. */
  retryDelayMs?: number;
  /** How long an entry with an unknown `kid` stays pending while the keyring catches up. */
  unknownKidGraceMs?: number;
  seenTtlSeconds?: number;
  logger?: BusLogger;
  onOutcome?: (stream: string, outcome: Outcome, reason?: string) => void;
}

type RawEntry = [id: string, fields: string[] | null];

const toFields = (flat: string[]): StreamFields => {
  const out: StreamFields = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
};
const entryTimeMs = (id: string): number => Number(id.split('-')[0]);
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// Renews our claim on an entry only while we still own it, so a slow handler
// keeps its entry without stealing one a reaper already handed to someone else.
const RENEW_IF_OWNER = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if p[1] and p[1][2] == ARGV[2] then
  return redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
end
return {}`;

// Sets the delivery count of an entry we still own (used to give back a
// delivery that only waited for the keyring).
const SET_COUNT_IF_OWNER = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if p[1] and p[1][2] == ARGV[2] then
  return redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'RETRYCOUNT', ARGV[4], 'JUSTID')
end
return {}`;

/**
 * One consumer of a group over one or more streams (DESIGN §7): its own pending
 * entries first, then new ones; signature, envelope and payload checks before
 * any handler runs; emit-then-ack; retries, a reaper, a delivery limit and
 * dead letters; a bound on in-flight work; graceful stop.
 */
export class StreamConsumer {
  private readonly o: Required<Omit<ConsumerOptions, 'logger' | 'onOutcome'>> & Pick<ConsumerOptions, 'logger' | 'onOutcome'>;
  private readonly byStream: Map<string, Subscription<unknown>>;
  /** One blocking reader per group of streams a single XREADGROUP may name (all of them on a standalone Redis, one slot's on a cluster). */
  private blocking: RedisClient[] = [];
  private running = false;
  private loop: Promise<void> | undefined;
  private reaper: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly retries = new Set<NodeJS.Timeout>();
  private readonly active = new Set<string>();
  private reaping = false;
  private slotWaiters: (() => void)[] = [];
  /** Per event id, the processing of the copy in flight, so a duplicate in the same batch waits for it. */
  private readonly eventTurns = new Map<string, Promise<void>>();
  /** Deferrals per entry for an unknown kid: only the backoff uses it. */
  private readonly deferrals = new Map<string, number>();

  constructor(options: ConsumerOptions) {
    this.o = {
      batchSize: 64,
      blockMs: 1000,
      claimIdleMs: 30_000,
      maxDeliveries: 5,
      maxInFlight: 256,
      retryDelayMs: 500,
      unknownKidGraceMs: 60_000,
      seenTtlSeconds: 7 * 24 * 3600,
      ...options,
    };
    this.byStream = new Map(options.subscriptions.map((s) => [s.stream, s]));
  }

  get streams(): string[] {
    return [...this.byStream.keys()];
  }

  /** Creates the group on every stream (from the beginning, so nothing published earlier is missed). */
  async ensureGroups(): Promise<void> {
    for (const stream of this.streams) {
      try {
        await this.o.redis.xgroup('CREATE', stream, this.o.group, '0', 'MKSTREAM');
      } catch (err) {
        if (!errorText(err).includes('BUSYGROUP')) throw err;
      }
    }
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.ensureGroups();
    this.running = true;
    const readGroups = groupKeysForCommand(this.o.redis, this.streams);
    this.blocking = readGroups.map(() => duplicateForBlocking(this.o.redis));
    await this.drainOwnPending();
    const reapEvery = Math.max(50, Math.floor(this.o.claimIdleMs / 2));
    this.reaper = setInterval(() => void this.reap().catch((err) => this.o.logger?.warn({ err: errorText(err) }, 'reaper pass failed')), reapEvery);
    const loops = readGroups.map((streams, i) => this.readLoop(this.blocking[i]!, streams));
    this.loop = loops.length === 1 ? loops[0] : Promise.all(loops).then(() => undefined);
  }

  /** Stops reading, lets in-flight handlers finish, then closes the reader connections. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.reaper) clearInterval(this.reaper);
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
    for (const reader of this.blocking) reader.disconnect();
    await this.loop?.catch(() => undefined);
    await Promise.allSettled([...this.inFlight]);
    this.deferrals.clear();
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private async drainOwnPending(): Promise<void> {
    for (const stream of this.streams) {
      let cursor = '0';
      for (;;) {
        const count = Math.min(this.o.batchSize, this.o.maxInFlight);
        const reply = (await this.o.redis.xreadgroup('GROUP', this.o.group, this.o.consumer, 'COUNT', count, 'STREAMS', stream, cursor)) as
          | [string, RawEntry[]][]
          | null;
        const entries = reply?.[0]?.[1] ?? [];
        if (entries.length === 0) break;
        await this.dispatchAll(stream, entries, false);
        await Promise.allSettled([...this.inFlight]);
        cursor = entries[entries.length - 1]![0];
      }
    }
  }

  private async readLoop(reader: RedisClient, streams: readonly string[]): Promise<void> {
    while (this.running) {
      const room = this.o.maxInFlight - this.inFlight.size;
      if (room <= 0) {
        await this.waitForSlot();
        continue;
      }
      let reply: [string, RawEntry[]][] | null;
      try {
        reply = (await reader.xreadgroup(
          'GROUP',
          this.o.group,
          this.o.consumer,
          'COUNT',
          Math.min(room, this.o.batchSize),
          'BLOCK',
          this.o.blockMs,
          'STREAMS',
          ...streams,
          ...streams.map(() => '>'),
        )) as [string, RawEntry[]][] | null;
      } catch (err) {
        if (!this.running) return;
        this.o.logger?.warn({ err: errorText(err) }, 'stream read failed; retrying');
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      for (const [stream, entries] of reply ?? []) await this.dispatchAll(stream, entries, true);
    }
  }

  private async dispatchAll(stream: string, entries: RawEntry[], fresh: boolean): Promise<void> {
    const counts = fresh ? new Map<string, number>() : await this.deliveryCounts(stream, entries.map(([id]) => id));
    for (const [id, flat] of entries) {
      // Entries from the reaper, retries and own-pending reads count against maxInFlight too.
      if (this.inFlight.size >= this.o.maxInFlight) {
        await this.waitForSlot();
        // Stopped while waiting: the entry stays pending for us (re-read on start, or reaped elsewhere).
        if (!this.running) return;
      }
      if (this.active.has(`${stream}/${id}`)) continue;
      this.track(stream, id, this.process(stream, id, flat, counts.get(id) ?? 1));
    }
  }

  private async waitForSlot(): Promise<void> {
    while (this.inFlight.size >= this.o.maxInFlight) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
  }

  private track(stream: string, id: string, work: Promise<void>): void {
    const key = `${stream}/${id}`;
    this.active.add(key);
    // Nobody awaits this promise: a rejection (Redis refusing the ack or the dead letter)
    // would be unhandled and end the process. The entry stays pending; the reaper retries it.
    const p = work
      .catch((err: unknown) => this.o.logger?.error({ stream, entry_id: id, err: errorText(err) }, 'processing failed; entry left pending'))
      .finally(() => {
        this.active.delete(key);
        this.inFlight.delete(p);
        for (const wake of this.slotWaiters.splice(0)) wake();
      });
    this.inFlight.add(p);
  }

  private async deliveryCounts(stream: string, ids: string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (ids.length === 0) return counts;
    const sorted = [...ids].sort((a, b) => (entryTimeMs(a) - entryTimeMs(b)) || a.localeCompare(b));
    const rows = (await this.o.redis.xpending(stream, this.o.group, sorted[0]!, sorted[sorted.length - 1]!, ids.length * 2 + 10, this.o.consumer)) as [
      string,
      string,
      number,
      number,
    ][];
    for (const [id, , , deliveries] of rows) counts.set(id, Number(deliveries));
    return counts;
  }

  private async process(stream: string, id: string, flat: string[] | null, deliveries: number): Promise<void> {
    const sub = this.byStream.get(stream)!;
    if (!flat) {
      // The entry was deleted while pending; nothing is left to process.
      await this.o.redis.xack(stream, this.o.group, id);
      return;
    }
    const fields = toFields(flat);

    // No reload can ever supply a key id that is absent or malformed: refuse at once.
    if (!/^[0-9a-f]{16}$/.test(fields.kid ?? '')) return this.deadLetter(stream, id, fields, 'invalid_payload', 'kid is missing or malformed');
    let verdict = this.o.keyring.current().verify(stream, fields);
    if (!verdict.ok && verdict.reason === 'unknown_kid') {
      verdict = (await this.o.keyring.refresh().catch(() => this.o.keyring.current())).verify(stream, fields);
    }
    if (!verdict.ok) {
      if (verdict.reason === 'unknown_kid' && Date.now() - entryTimeMs(id) < this.o.unknownKidGraceMs) {
        // Waiting for the keyring is not a failed attempt: give the delivery back, so
        // the entry is not dead-lettered as max_deliveries once its key arrives (DESIGN §5).
        await this.o.redis.eval(SET_COUNT_IF_OWNER, 1, stream, this.o.group, this.o.consumer, id, Math.max(0, deliveries - 1)).catch(() => undefined);
        const deferrals = (this.deferrals.get(`${stream}/${id}`) ?? 0) + 1;
        this.deferrals.set(`${stream}/${id}`, deferrals);
        this.o.onOutcome?.(stream, 'deferred', 'unknown_kid');
        this.scheduleRetry(stream, id, deferrals);
        return;
      }
      this.deferrals.delete(`${stream}/${id}`);
      return this.deadLetter(stream, id, fields, verdict.reason, `kid ${verdict.kid ?? '(none)'}`);
    }
    this.deferrals.delete(`${stream}/${id}`);
    if (deliveries > this.o.maxDeliveries) {
      return this.deadLetter(stream, id, fields, 'max_deliveries', `delivered ${deliveries} times`);
    }

    let event: RotationEvent<unknown>;
    try {
      event = this.decode(stream, id, fields, deliveries, sub);
    } catch (err) {
      return this.deadLetter(stream, id, fields, 'invalid_payload', errorText(err));
    }

    const seenKey = `seen:${stream}:${this.o.group}:${event.eventId}`;
    // Two copies of one event can be in flight here at once (one read batch, or a
    // retry beside a re-emission): the later one waits for the earlier, then finds it seen.
    const earlier = this.eventTurns.get(seenKey);
    let turnDone!: () => void;
    const turn = new Promise<void>((resolve) => (turnDone = resolve));
    this.eventTurns.set(seenKey, turn);
    try {
      await earlier;
      await this.handleOnce(stream, id, fields, deliveries, sub, event, seenKey);
    } finally {
      turnDone();
      if (this.eventTurns.get(seenKey) === turn) this.eventTurns.delete(seenKey);
    }
  }

  private async handleOnce(
    stream: string,
    id: string,
    fields: StreamFields,
    deliveries: number,
    sub: Subscription<unknown>,
    event: RotationEvent<unknown>,
    seenKey: string,
  ): Promise<void> {
    if (await this.o.redis.exists(seenKey)) {
      await this.o.redis.xack(stream, this.o.group, id);
      this.o.onOutcome?.(stream, 'duplicate');
      return;
    }

    const heartbeat = this.keepClaim(stream, id);
    try {
      const outgoing = (await sub.handle(event)) ?? [];
      await this.o.publisher.publishAll(outgoing);
      await this.o.redis.set(seenKey, '1', 'EX', this.o.seenTtlSeconds);
      await this.o.redis.xack(stream, this.o.group, id);
      this.o.onOutcome?.(stream, 'ok');
    } catch (err) {
      if (err instanceof PermanentHandlerError) {
        return this.deadLetter(stream, id, fields, err.code, err.message);
      }
      this.o.logger?.warn({ stream, entry_id: id, event_id: event.eventId, rotation_id: event.rotationId, deliveries, err: errorText(err) }, 'handler failed; will retry');
      this.o.onOutcome?.(stream, 'retry');
      if (deliveries >= this.o.maxDeliveries) return this.deadLetter(stream, id, fields, 'max_deliveries', errorText(err));
      this.scheduleRetry(stream, id, deliveries);
    } finally {
      clearInterval(heartbeat);
    }
  }

  private decode(stream: string, id: string, fields: StreamFields, deliveries: number, sub: Subscription<unknown>): RotationEvent<unknown> {
    const envelope = envelopeSchema.parse(fields);
    if (envelope.type !== eventType(sub.event)) throw new Error(`type ${envelope.type} does not belong on ${stream}`);
    let json: unknown;
    try {
      json = JSON.parse(envelope.data);
    } catch {
      throw new Error('data is not valid JSON');
    }
    const parse = sub.parse ?? ((d: unknown) => EVENT_DATA_SCHEMAS[sub.event].parse(d));
    return {
      stream,
      entryId: id,
      eventId: envelope.event_id,
      type: envelope.type,
      rotationId: envelope.rotation_id,
      occurredAt: envelope.occurred_at,
      producer: envelope.producer,
      kid: envelope.kid,
      data: parse(json),
      deliveries,
    };
  }

  private async deadLetter(stream: string, id: string, fields: StreamFields, reason: DeadLetterReason, detail: string): Promise<void> {
    await writeDeadLetter(this.o.redis, stream, { id, fields }, reason, { group: this.o.group, detail });
    await this.o.redis.xack(stream, this.o.group, id);
    this.o.logger?.warn({ stream, entry_id: id, reason, detail }, 'dead-lettered');
    this.o.onOutcome?.(stream, 'dead_letter', reason);
  }

  private keepClaim(stream: string, id: string): NodeJS.Timeout {
    const every = Math.max(100, Math.floor(this.o.claimIdleMs / 3));
    const t = setInterval(() => {
      void this.o.redis.eval(RENEW_IF_OWNER, 1, stream, this.o.group, this.o.consumer, id).catch(() => undefined);
    }, every);
    t.unref();
    return t;
  }

  private scheduleRetry(stream: string, id: string, deliveries: number): void {
    if (!this.running) return;
    const delay = Math.min(this.o.retryDelayMs * 2 ** Math.max(0, deliveries - 1), this.o.claimIdleMs);
    const t = setTimeout(() => {
      this.retries.delete(t);
      if (!this.running) return;
      void this.claimAndProcess(stream, [id], Math.max(0, delay - 20)).catch((err) =>
        this.o.logger?.warn({ stream, entry_id: id, err: errorText(err) }, 'retry failed'),
      );
    }, delay);
    this.retries.add(t);
  }

  private async claimAndProcess(stream: string, ids: string[], minIdleMs: number): Promise<void> {
    // A Cluster has the same XCLAIM; TypeScript only fails to pick its overload on the union type.
    const claimed = (await (this.o.redis as Redis).xclaim(stream, this.o.group, this.o.consumer, minIdleMs, ...ids)) as RawEntry[];
    await this.dispatchAll(stream, claimed, false);
  }

  /** Claims entries idle past `claimIdleMs` (their consumer is presumed dead) and processes them here. */
  async reap(): Promise<void> {
    // One pass at a time, claiming only what can start now: an entry claimed and then
    // left waiting for a slot would look idle again and be re-claimed, each time
    // spending one of its deliveries.
    if (this.reaping) return;
    this.reaping = true;
    try {
      for (const stream of this.streams) {
        if (!this.running) return;
        let cursor = '0-0';
        do {
          const room = Math.min(this.o.batchSize, this.o.maxInFlight - this.inFlight.size);
          if (room <= 0) return;
          const [next, entries] = (await this.o.redis.xautoclaim(stream, this.o.group, this.o.consumer, this.o.claimIdleMs, cursor, 'COUNT', room)) as [
            string,
            RawEntry[],
          ];
          await this.dispatchAll(stream, entries, false);
          cursor = next;
        } while (cursor !== '0-0' && this.running);
      }
    } finally {
      this.reaping = false;
    }
  }
}
