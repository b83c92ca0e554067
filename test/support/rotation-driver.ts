import { inspectDrain, type Redis } from '@caracal-rotation/bus';
import type { Operator } from '@caracal-rotation/caracal-rotate';
import { EVENT_NAMES, newRotationId, type EventName, type RequestedData, type RotationStreams } from '@caracal-rotation/contracts';
import { isFinal, lifecycleEvent, next, type Position, type RotationState } from '@caracal-rotation/lifecycle';

type XReadReply = [stream: string, entries: [id: string, fields: string[]][]][];

/** An entry of a rotation stream that ends its rotation, as the lifecycle says. */
export interface TerminalEvent {
  /** The state the rotation ended in: completed, failed, rejected, abandoned (or planned: a dry run, a batch's own request). */
  name: RotationState;
  /** The stream (event name) of the entry that ended it. */
  event: EventName;
  entryId: string;
  eventId: string;
  /** When this watcher saw it (ms). */
  at: number;
  data: Record<string, unknown>;
}

/** One event of a rotation as the watcher saw it. */
export interface TimelineEntry {
  event: EventName;
  entryId: string;
  /** The envelope's occurred_at (ms). */
  occurredAt: number;
  /** When this watcher saw it (ms). */
  at: number;
  data: Record<string, unknown>;
}

/** The events the stream names carry (stream name → event name) for one prefix. */
const namesOf = (streams: RotationStreams) => new Map(EVENT_NAMES.map((n) => [streams[n], n]));

/**
 * Watches every rotation stream on a connection of its own and follows each
 * rotation through the lifecycle (libs/lifecycle `next`), as the recorder
 * and the CLI do: it remembers, per rotation, the event that ended it and
 * every entry that would end it on its own (an event id seen twice is a
 * re-emission, two different ones are two ends). Survives a Redis restart
 * (it retries).
 */
export class TerminalWatcher {
  /** The end of each rotation, in the order the lifecycle reached it. */
  readonly first = new Map<string, TerminalEvent>();
  /** Every entry that ends its rotation by itself (final from any position), per rotation. */
  readonly entries = new Map<string, TerminalEvent[]>();
  /** Every `failed` entry per rotation (a failed retirement ends at its `verified`, the lock is freed at `failed`). */
  readonly failed = new Map<string, TerminalEvent[]>();
  /** Every event of each rotation, in the order seen. */
  readonly timeline = new Map<string, TimelineEntry[]>();
  private readonly positions = new Map<string, Position>();
  private readonly conn: Redis;
  private running = true;
  private readonly loop: Promise<void>;
  private waiters: (() => void)[] = [];

  /** `sinceMs`: only entries added from that time on (stream ids are Redis server milliseconds). */
  constructor(redis: Redis, streams: RotationStreams, sinceMs = 0) {
    const conn = redis.duplicate({ connectionName: 'reliability-terminal-watcher' });
    conn.on('error', () => undefined);
    this.conn = conn;
    const names = namesOf(streams);
    const cursors = new Map([...names.keys()].map((s) => [s, sinceMs > 0 ? `${sinceMs - 1}-0` : '0-0']));
    this.loop = (async () => {
      while (this.running) {
        let reply: XReadReply | null = null;
        try {
          const keys = [...cursors.keys()];
          reply = (await conn.xread('COUNT', 500, 'BLOCK', 300, 'STREAMS', ...keys, ...keys.map((k) => cursors.get(k)!))) as XReadReply | null;
        } catch {
          if (!this.running) return;
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        const seen: { event: EventName; id: string; f: Record<string, string>; data: Record<string, unknown> }[] = [];
        for (const [stream, list] of reply ?? []) {
          for (const [id, flat] of list) {
            cursors.set(stream, id);
            const f: Record<string, string> = {};
            for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
            let data: Record<string, unknown> = {};
            try {
              data = JSON.parse(f.data ?? '{}') as Record<string, unknown>;
            } catch {
              continue;
            }
            seen.push({ event: names.get(stream)!, id, f, data });
          }
        }
        // Streams are read side by side: follow each rotation in the order its events happened.
        seen.sort((a, b) => (a.f.occurred_at ?? '').localeCompare(b.f.occurred_at ?? ''));
        for (const { event, id, f, data } of seen) this.observe(event, id, f, data);
        for (const w of this.waiters.splice(0)) w();
      }
    })();
  }

  private observe(event: EventName, entryId: string, f: Record<string, string>, data: Record<string, unknown>): void {
    const rid = f.rotation_id ?? '';
    const step: TimelineEntry = { event, entryId, occurredAt: Date.parse(f.occurred_at ?? '') || 0, at: Date.now(), data };
    this.timeline.set(rid, [...(this.timeline.get(rid) ?? []), step]);
    let lifecycle;
    try {
      lifecycle = lifecycleEvent(event, data as Parameters<typeof lifecycleEvent>[1]);
    } catch {
      return;
    }
    const on = (state: RotationState): TerminalEvent => ({ name: state, event, entryId, eventId: f.event_id ?? '', at: Date.now(), data });
    const alone = next(undefined, lifecycle);
    if (alone.advanced && isFinal(alone.position)) this.entries.set(rid, [...(this.entries.get(rid) ?? []), on(alone.position.state)]);
    if (event === 'failed') this.failed.set(rid, [...(this.failed.get(rid) ?? []), on('failed')]);
    const to = next(this.positions.get(rid), lifecycle);
    if (!to.advanced) return;
    this.positions.set(rid, to.position);
    if (isFinal(to.position) && !this.first.has(rid)) this.first.set(rid, on(to.position.state));
  }

  /** The state the lifecycle has each rotation in. */
  stateOf(id: string): RotationState | undefined {
    return this.positions.get(id)?.state;
  }

  /** Resolves when `id` has ended, or undefined after `timeoutMs`. */
  async wait(id: string, timeoutMs: number): Promise<TerminalEvent | undefined> {
    return this.until(() => this.first.get(id), timeoutMs);
  }

  /** Resolves with `probe`'s first defined answer, checked after every read, or undefined after `timeoutMs`. */
  async until<T>(probe: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs;
    let value = probe();
    while (value === undefined && Date.now() < deadline && this.running) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 500);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
      value = probe();
    }
    return value;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.conn.disconnect();
    await this.loop;
  }
}

export type RequestSpec = Omit<RequestedData, 'reason'> & Partial<Pick<RequestedData, 'reason'>>;

export interface DrivenRotation {
  index: number;
  rotationId: string;
  material: string;
  requestedAt: number;
  /** Attempts the request's XADD needed (it is retried verbatim while Redis is away). */
  attempts: number;
  terminal?: TerminalEvent;
}

/**
 * Publishes one request with a fixed rotation id and event id, retrying the
 * very same event until Redis takes it: a retry that duplicates an entry is
 * de-duplicated by event id downstream, as the contract says.
 */
export async function requestWithRetry(operator: Operator, streams: RotationStreams, spec: RequestSpec, timeoutMs = 120_000): Promise<{ rotationId: string; attempts: number }> {
  const rotationId = newRotationId();
  const eventId = newRotationId();
  const data = { reason: 'reliability suite', ...spec } as RequestedData;
  const deadline = Date.now() + timeoutMs;
  for (let attempts = 1; ; attempts++) {
    try {
      await operator.publish({ stream: streams.requested, name: 'requested', eventId, rotationId, data });
      return { rotationId, attempts };
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * Waits until the planner has consumed the event that frees the class lock of
 * an ended rotation (its group acknowledged that entry): `verified(retire)`
 * of a completed rotation, `failed` of a failed one. Rejections and
 * abandonments come from the planner itself.
 */
export async function lockReleased(redis: Redis, streams: RotationStreams, watcher: TerminalWatcher, rotationId: string, timeoutMs: number): Promise<void> {
  const end = watcher.first.get(rotationId);
  if (!end || end.name === 'rejected' || end.name === 'abandoned' || end.name === 'planned') return;
  const release = end.name === 'completed' ? end : await watcher.until(() => watcher.failed.get(rotationId)?.[0], timeoutMs);
  if (!release) throw new Error(`rotation ${rotationId} ended ${end.name} without a failed event to free its class`);
  const stream = streams[release.event];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [report] = await inspectDrain(redis, [{ stream, group: 'planner', mark: release.entryId }]).catch(() => [undefined]);
    if (report?.drained) return;
    if (Date.now() > deadline) throw new Error(`the planner did not consume the end of rotation ${rotationId} within ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

export interface DriverOptions {
  operator: Operator;
  redis: Redis;
  streams: RotationStreams;
  watcher: TerminalWatcher;
  /** Requests in order; each waits until no rotation of its class is outstanding. */
  sequence: RequestSpec[];
  /** Rotations requested but not yet ended, at most (one in flight, the rest queued by the planner). */
  maxOutstanding?: number;
  /** Awaited before each request (index given), e.g. to hold the last one until enough chaos happened, or to pause during an outage. */
  before?: (index: number) => Promise<void>;
  /** How long one rotation may take from its request to its end. */
  rotationTimeoutMs: number;
}

/**
 * Requests rotations one after another the way the planner wants them: one
 * class of material at a time, others queued behind it, and never a second
 * request for a class that is still outstanding (that would be answered
 * `duplicate_in_flight`). A class counts as free again once the planner has
 * consumed the event that ended its previous rotation.
 */
export async function driveRotations(o: DriverOptions): Promise<DrivenRotation[]> {
  const all: DrivenRotation[] = [];
  const outstanding = new Map<string, DrivenRotation>();
  const maxOutstanding = o.maxOutstanding ?? 3;

  const settle = async (r: DrivenRotation): Promise<void> => {
    const t = await o.watcher.wait(r.rotationId, o.rotationTimeoutMs);
    if (!t) throw new Error(`rotation ${r.index} (${r.material}, ${r.rotationId}) did not end within ${o.rotationTimeoutMs} ms (last state: ${o.watcher.stateOf(r.rotationId) ?? 'none'})`);
    r.terminal = t;
    await lockReleased(o.redis, o.streams, o.watcher, r.rotationId, o.rotationTimeoutMs);
    outstanding.delete(r.material);
  };

  const settling = new Set<Promise<void>>();
  let failure: unknown;
  const track = (r: DrivenRotation) => {
    const p = settle(r)
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => settling.delete(p));
    settling.add(p);
  };

  for (const [index, spec] of o.sequence.entries()) {
    while ((outstanding.has(spec.material) || outstanding.size >= maxOutstanding) && !failure) {
      await Promise.race([...settling]);
    }
    if (failure) break;
    await o.before?.(index);
    const { rotationId, attempts } = await requestWithRetry(o.operator, o.streams, spec);
    const r: DrivenRotation = { index, rotationId, material: spec.material, requestedAt: Date.now(), attempts };
    all.push(r);
    outstanding.set(spec.material, r);
    track(r);
  }
  await Promise.all([...settling]);
  if (failure) throw failure;
  return all;
}

/** p50 / p95 / max of a list of durations. */
export function percentiles(values: number[]): { p50: number; p95: number; max: number } {
  if (values.length === 0) return { p50: 0, p95: 0, max: 0 };
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p95: at(0.95), max: s[s.length - 1]! };
}
