import type { EventName } from '@caracal-rotation/contracts';
import { admit, entryTimeMs, type AdmissionLimits, type SignedEvent } from './admit.js';
import { writeDeadLetter, type DeadLetterReason } from './dead-letter.js';
import { isTransient, PermanentHandlerError } from './errors.js';
import type { OutgoingEvent, Publisher } from './publisher.js';
import { duplicateForBlocking, groupKeysForCommand, isCluster, type Redis, type RedisClient } from './redis.js';
import type { StreamFields } from './signature.js';
import type { SignerDirectory, SignerKind } from './signers.js';

export interface Subscription<T = unknown> {
  stream: string;
  event: EventName;
  /** The kinds of key that may sign this stream; anything else is dead-lettered as unauthorized_signer. */
  signers: readonly SignerKind[];
  /** Validates `data`; defaults to the contract schema of `event`. Throwing dead-letters the entry as `invalid_payload`. */
  parse?: (data: unknown) => T;
  limits?: Partial<AdmissionLimits>;
  /** Returns the events to emit; they are published before the input is acknowledged. */
  handle: (event: SignedEvent<T>) => Promise<readonly OutgoingEvent[] | void>;
}

/** Keeps each subscription's payload type while allowing a heterogeneous list. */
export const subscribe = <T>(s: Subscription<T>): Subscription<unknown> => s as unknown as Subscription<unknown>;

export type Outcome = 'ok' | 'dead_letter' | 'retry' | 'duplicate' | 'deferred';

/** An entry went to the dead letter stream. `authentic`: its signature verified, so its rotation id can be trusted. */
export interface DeadLetterNotice {
  stream: string;
  entryId: string;
  deadLetterId: string;
  reason: DeadLetterReason;
  detail: string;
  authentic: boolean;
  fields: StreamFields;
}

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
  signers: SignerDirectory;
  publisher: Publisher;
  batchSize?: number;
  blockMs?: number;
  /** Entries idle longer than this are claimed from (presumed dead) consumers. Must exceed the slowest handler. */
  claimIdleMs?: number;
  /** Deliveries of an entry whose handler keeps failing with an unexpected error. */
  maxDeliveries?: number;
  /** How long a transient fault (a holder, Postgres or the STS restarting) is retried before it counts. */
  retryForMs?: number;
  maxInFlight?: number;
  /** First delay before a retry; doubles per attempt up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** How long an entry with an unknown `kid` stays pending while the keyrings catch up. */
  unknownKidGraceMs?: number;
  seenTtlSeconds?: number;
  logger?: BusLogger;
  onOutcome?: (stream: string, outcome: Outcome, reason?: string) => void;
  /** Events to publish when an entry is dead-lettered (e.g. the `failed` that ends its rotation). */
  onDeadLetter?: (notice: DeadLetterNotice) => readonly OutgoingEvent[] | Promise<readonly OutgoingEvent[]>;
  /**
   * Handles every admitted entry of one read together (the recorder projects a
   * batch in one transaction). The handler must be idempotent per event: there
   * is no de-duplication mark in this mode. When a batch fails, its entries go
   * one by one through the subscriptions' own handlers, so one bad event is
   * retried and dead-lettered alone.
   */
  handleBatch?: (events: readonly SignedEvent<unknown>[]) => Promise<readonly OutgoingEvent[] | void>;
}

type RawEntry = [id: string, fields: string[] | null];

const toFields = (flat: string[]): StreamFields => {
  const out: StreamFields = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
};
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// Renews our claim on an entry only while we still own it, so a slow handler
// keeps its entry without stealing one a reaper already handed to someone else.
const RENEW_IF_OWNER = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if p[1] and p[1][2] == ARGV[2] then
  return redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
end
return {}`;

// Sets the delivery count of an entry we still own: a delivery spent waiting
// for a keyring or a restarting dependency is given back, so it does not
// count towards the delivery limit.
const SET_COUNT_IF_OWNER = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if p[1] and p[1][2] == ARGV[2] then
  return redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'RETRYCOUNT', ARGV[4], 'JUSTID')
end
return {}`;

// Appends every output, then marks the input handled and acknowledges it. A
// failing XADD raises an error that ends the script before the ack.
const EMIT_AND_ACK = `
local n = #KEYS - 2
local group, id, ttl = ARGV[1], ARGV[2], ARGV[3]
local i = 4
for k = 1, n do
  local count = tonumber(ARGV[i])
  redis.call('XADD', KEYS[k], '*', unpack(ARGV, i + 1, i + count * 2))
  i = i + 1 + count * 2
end
redis.call('SET', KEYS[n + 1], '1', 'EX', ttl)
return redis.call('XACK', KEYS[n + 2], group, id)`;

/**
 * One consumer of a group over one or more streams: its own pending entries
 * first, then new ones; admission (size, age, signer, signature, payload)
 * before any handler runs; emit-then-ack; retries (minutes for transient
 * faults, a few deliveries otherwise), a reaper, dead letters; a bound on
 * in-flight work; graceful stop.
 */
export class StreamConsumer {
  private readonly o: Required<Omit<ConsumerOptions, 'logger' | 'onOutcome' | 'onDeadLetter' | 'handleBatch'>> & Pick<ConsumerOptions, 'logger' | 'onOutcome' | 'onDeadLetter' | 'handleBatch'>;
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
  /** Per entry, attempts that were given back (keyring or transient waits) and when the first one began. */
  private readonly waits = new Map<string, { attempts: number; since: number }>();

  constructor(options: ConsumerOptions) {
    this.o = {
      batchSize: 64,
      blockMs: 1000,
      claimIdleMs: 30_000,
      maxDeliveries: 5,
      retryForMs: 5 * 60_000,
      maxInFlight: 256,
      retryDelayMs: 250,
      maxRetryDelayMs: 10_000,
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
    this.waits.clear();
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
      if (this.o.handleBatch && reply && reply.length > 0) await this.dispatchBatch(reply);
      else for (const [stream, entries] of reply ?? []) await this.dispatchAll(stream, entries, true);
    }
  }

  /**
   * Batch mode: entries that pass admission are handled together and
   * acknowledged in one round trip; the others (and the whole batch when its
   * handler fails) take the one-by-one path, which retries and dead-letters.
   */
  private async dispatchBatch(reply: [string, RawEntry[]][]): Promise<void> {
    const admitted: { stream: string; id: string; flat: string[]; event: SignedEvent<unknown> }[] = [];
    for (const [stream, entries] of reply) {
      const sub = this.byStream.get(stream)!;
      for (const [id, flat] of entries) {
        const verdict = flat ? admit(sub, this.o.signers, { id, fields: toFields(flat), deliveries: 1 }, Date.now()) : undefined;
        if (verdict?.ok && flat) admitted.push({ stream, id, flat, event: verdict.event });
        else await this.dispatchAll(stream, [[id, flat]], true);
      }
    }
    if (admitted.length === 0) return;
    if (this.inFlight.size >= this.o.maxInFlight) await this.waitForSlot();
    const key = `batch/${admitted[0]!.stream}/${admitted[0]!.id}`;
    for (const a of admitted) this.active.add(`${a.stream}/${a.id}`);
    const work = (async () => {
      try {
        const outgoing = (await this.o.handleBatch!(admitted.map((a) => a.event))) ?? [];
        await this.o.publisher.publishAll(outgoing);
        const pipeline = this.o.redis.pipeline();
        for (const stream of new Set(admitted.map((a) => a.stream))) {
          pipeline.xack(stream, this.o.group, ...admitted.filter((a) => a.stream === stream).map((a) => a.id));
        }
        await pipeline.exec();
        for (const a of admitted) this.o.onOutcome?.(a.stream, 'ok');
      } catch (err) {
        this.o.logger?.warn({ entries: admitted.length, err: errorText(err) }, 'batch failed; handling its entries one by one');
        for (const a of admitted) this.active.delete(`${a.stream}/${a.id}`);
        // Once this batch has left the in-flight set, so the one-by-one path has room.
        setImmediate(() => {
          for (const a of admitted) void this.dispatchAll(a.stream, [[a.id, a.flat]], false).catch((e) => this.o.logger?.warn({ err: errorText(e) }, 'retry failed'));
        });
        return;
      }
      for (const a of admitted) this.active.delete(`${a.stream}/${a.id}`);
    })();
    this.track('batch', key, work);
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
    const sorted = [...ids].sort((a, b) => entryTimeMs(a) - entryTimeMs(b) || a.localeCompare(b));
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
      // The entry was deleted (or trimmed) while pending; nothing is left to process.
      await this.o.redis.xack(stream, this.o.group, id);
      return;
    }
    const fields = toFields(flat);
    const entry = { id, fields, deliveries };
    let verdict = admit(sub, this.o.signers, entry, Date.now());
    if (!verdict.ok && verdict.unknownKid) {
      await this.o.signers.refresh();
      verdict = admit(sub, this.o.signers, entry, Date.now());
    }
    if (!verdict.ok && verdict.unknownKid) {
      // Waiting for a keyring is not a failed attempt (a mounted secret takes a while to change).
      if (Date.now() - entryTimeMs(id) < this.o.unknownKidGraceMs) return this.waitAndRetry(stream, id, deliveries, 'unknown_kid');
      this.waits.delete(`${stream}/${id}`);
      return this.deadLetter(stream, id, fields, 'unknown_kid', `kid ${verdict.kid}`, false);
    }
    if (!verdict.ok) return this.deadLetter(stream, id, fields, verdict.reason, verdict.detail, verdict.authentic);
    if (deliveries > this.o.maxDeliveries && !this.waits.has(`${stream}/${id}`)) {
      return this.deadLetter(stream, id, fields, 'max_deliveries', `delivered ${deliveries} times`, true);
    }

    const event = verdict.event;
    const seenKey = `seen:${stream}:${this.o.group}:${event.eventId}`;
    // Two copies of one event can be in flight here at once (one read batch, or a
    // retry beside a re-emission): the later one waits for the earlier, then finds it seen.
    const earlier = this.eventTurns.get(seenKey);
    let turnDone!: () => void;
    const turn = new Promise<void>((resolve) => (turnDone = resolve));
    this.eventTurns.set(seenKey, turn);
    try {
      await earlier;
      await this.handleOnce(sub, event, fields, seenKey);
    } finally {
      turnDone();
      if (this.eventTurns.get(seenKey) === turn) this.eventTurns.delete(seenKey);
    }
  }

  private async handleOnce(sub: Subscription<unknown>, event: SignedEvent<unknown>, fields: StreamFields, seenKey: string): Promise<void> {
    const { stream, entryId: id, deliveries } = event;
    if (await this.o.redis.exists(seenKey)) {
      await this.o.redis.xack(stream, this.o.group, id);
      this.o.onOutcome?.(stream, 'duplicate');
      return;
    }

    const heartbeat = this.keepClaim(stream, id);
    try {
      const outgoing = (await sub.handle(event)) ?? [];
      await this.complete(stream, id, outgoing, seenKey);
      this.waits.delete(`${stream}/${id}`);
      this.o.onOutcome?.(stream, 'ok');
    } catch (err) {
      const log = { stream, entry_id: id, event_id: event.eventId, rotation_id: event.rotationId, deliveries, err: errorText(err) };
      if (err instanceof PermanentHandlerError) return this.deadLetter(stream, id, fields, err.code, err.message, true);
      if (isTransient(err)) {
        const since = this.waits.get(`${stream}/${id}`)?.since ?? Date.now();
        if (Date.now() - since < this.o.retryForMs) {
          this.o.logger?.warn(log, 'handler hit a transient fault; will retry');
          return this.waitAndRetry(stream, id, deliveries, 'transient');
        }
        return this.deadLetter(stream, id, fields, 'transient_exhausted', `still failing after ${Math.round((Date.now() - since) / 1000)} s: ${errorText(err)}`, true);
      }
      this.o.logger?.warn(log, 'handler failed; will retry');
      this.o.onOutcome?.(stream, 'retry');
      if (deliveries >= this.o.maxDeliveries) return this.deadLetter(stream, id, fields, 'max_deliveries', errorText(err), true);
      this.scheduleRetry(stream, id, deliveries);
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * Publishes the outputs, marks the input handled and acknowledges it: one
   * script call on a standalone Redis, which stops at the first failed XADD so
   * the input is never acknowledged without its outputs. A crash in between
   * re-runs an idempotent handler, which re-emits the same event ids.
   */
  private async complete(stream: string, id: string, outgoing: readonly OutgoingEvent[], seenKey: string): Promise<void> {
    if (isCluster(this.o.redis)) {
      await this.o.publisher.publishAll(outgoing);
      await this.o.redis.set(seenKey, '1', 'EX', this.o.seenTtlSeconds);
      await this.o.redis.xack(stream, this.o.group, id);
      return;
    }
    const args: (string | number)[] = [this.o.group, id, this.o.seenTtlSeconds];
    for (const event of outgoing) {
      const fields = Object.entries(this.o.publisher.envelope(event)).flat();
      args.push(fields.length / 2, ...fields);
    }
    try {
      await this.o.redis.eval(EMIT_AND_ACK, outgoing.length + 2, ...outgoing.map((e) => e.stream), seenKey, stream, ...args);
    } catch (err) {
      throw new Error(`publishing the outputs of ${stream} ${id} failed: ${errorText(err)}`);
    }
  }

  private async deadLetter(stream: string, id: string, fields: StreamFields, reason: DeadLetterReason, detail: string, authentic: boolean): Promise<void> {
    const deadLetterId = await writeDeadLetter(this.o.redis, stream, { id, fields }, reason, { group: this.o.group, detail });
    if (authentic && this.o.onDeadLetter) {
      const consequences = await this.o.onDeadLetter({ stream, entryId: id, deadLetterId, reason, detail, authentic, fields });
      await this.o.publisher.publishAll(consequences);
    }
    await this.o.redis.xack(stream, this.o.group, id);
    this.waits.delete(`${stream}/${id}`);
    this.o.logger?.warn({ stream, entry_id: id, reason, detail }, 'dead-lettered');
    this.o.onOutcome?.(stream, 'dead_letter', reason);
  }

  /** Gives the delivery back and retries later: waiting is not a failed attempt. */
  private async waitAndRetry(stream: string, id: string, deliveries: number, why: string): Promise<void> {
    const key = `${stream}/${id}`;
    const wait = this.waits.get(key) ?? { attempts: 0, since: Date.now() };
    wait.attempts += 1;
    this.waits.set(key, wait);
    await this.o.redis.eval(SET_COUNT_IF_OWNER, 1, stream, this.o.group, this.o.consumer, id, Math.max(0, deliveries - 1)).catch(() => undefined);
    this.o.onOutcome?.(stream, 'deferred', why);
    this.scheduleRetry(stream, id, wait.attempts);
  }

  private keepClaim(stream: string, id: string): NodeJS.Timeout {
    const every = Math.max(100, Math.floor(this.o.claimIdleMs / 3));
    const t = setInterval(() => {
      void this.o.redis.eval(RENEW_IF_OWNER, 1, stream, this.o.group, this.o.consumer, id).catch(() => undefined);
    }, every);
    t.unref();
    return t;
  }

  private scheduleRetry(stream: string, id: string, attempt: number): void {
    if (!this.running) return;
    const delay = Math.min(this.o.retryDelayMs * 2 ** Math.max(0, attempt - 1), this.o.maxRetryDelayMs, this.o.claimIdleMs);
    const t = setTimeout(() => {
      this.retries.delete(t);
      if (!this.running) return;
      void this.claimAndProcess(stream, [id], Math.max(0, delay - 20)).catch((err) => this.o.logger?.warn({ stream, entry_id: id, err: errorText(err) }, 'retry failed'));
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
