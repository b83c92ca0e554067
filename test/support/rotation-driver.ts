import { inspectDrain, type Redis } from '@caracal-rotation/bus';
import type { Operator } from '@caracal-rotation/caracal-rotate';
import { newRotationId, type RequestedData, type RotationStreams } from '@caracal-rotation/contracts';

type XReadReply = [stream: string, entries: [id: string, fields: string[]][]][];

export type Terminal = 'completed' | 'failed' | 'rejected';
const TERMINALS: Terminal[] = ['completed', 'failed', 'rejected'];

export interface TerminalEvent {
  name: Terminal;
  entryId: string;
  eventId: string;
  at: number;
  data: Record<string, unknown>;
}

/**
 * Watches the terminal streams (completed, failed, rejected) on a connection
 * of its own and remembers, per rotation, the first terminal event seen and
 * how many terminal entries arrived. Survives a Redis restart (it retries).
 */
export class TerminalWatcher {
  readonly first = new Map<string, TerminalEvent>();
  readonly entries = new Map<string, TerminalEvent[]>();
  private readonly conn: Redis;
  private running = true;
  private readonly loop: Promise<void>;
  private waiters: (() => void)[] = [];

  /** `sinceMs`: only entries added from that time on (stream ids are Redis server milliseconds). */
  constructor(redis: Redis, streams: RotationStreams, sinceMs = 0) {
    const conn = redis.duplicate({ connectionName: 'reliability-terminal-watcher' });
    conn.on('error', () => undefined);
    this.conn = conn;
    const cursors = new Map(TERMINALS.map((n) => [streams[n], sinceMs > 0 ? `${sinceMs - 1}-0` : '0-0']));
    const names = new Map(TERMINALS.map((n) => [streams[n], n]));
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
        for (const [stream, list] of reply ?? []) {
          for (const [id, flat] of list) {
            cursors.set(stream, id);
            const f: Record<string, string> = {};
            for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
            let data: Record<string, unknown> = {};
            try {
              data = JSON.parse(f.data ?? '{}') as Record<string, unknown>;
            } catch {
              // not ours to judge here
            }
            const rid = f.rotation_id ?? '';
            const e: TerminalEvent = { name: names.get(stream)!, entryId: id, eventId: f.event_id ?? '', at: Date.now(), data };
            if (!this.first.has(rid)) this.first.set(rid, e);
            this.entries.set(rid, [...(this.entries.get(rid) ?? []), e]);
          }
        }
        for (const w of this.waiters.splice(0)) w();
      }
    })();
  }

  /** Resolves when `id` has a terminal event, or undefined after `timeoutMs`. */
  async wait(id: string, timeoutMs: number): Promise<TerminalEvent | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (!this.first.has(id) && Date.now() < deadline && this.running) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 500);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.first.get(id);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.conn.disconnect();
    await this.loop;
  }
}

export type RequestSpec = Omit<RequestedData, 'reason' | 'actor'> & Partial<Pick<RequestedData, 'reason' | 'actor'>>;

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
  const data = { reason: 'reliability suite', actor: 'reliability@test', ...spec } as RequestedData;
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
 * consumed the end of its previous rotation (its group acknowledged that
 * `completed`/`failed` entry).
 */
export async function driveRotations(o: DriverOptions): Promise<DrivenRotation[]> {
  const all: DrivenRotation[] = [];
  const outstanding = new Map<string, DrivenRotation>();
  const maxOutstanding = o.maxOutstanding ?? 3;

  const settle = async (r: DrivenRotation): Promise<void> => {
    const t = await o.watcher.wait(r.rotationId, o.rotationTimeoutMs);
    if (!t) throw new Error(`rotation ${r.index} (${r.material}, ${r.rotationId}) did not end within ${o.rotationTimeoutMs} ms`);
    r.terminal = t;
    if (t.name !== 'rejected') {
      // The planner must have released the class lock before the class is requested again.
      const stream = t.name === 'completed' ? o.streams.completed : o.streams.failed;
      const deadline = Date.now() + o.rotationTimeoutMs;
      for (;;) {
        const [report] = await inspectDrain(o.redis, [{ stream, group: 'planner', mark: t.entryId }]).catch(() => [undefined]);
        if (report?.drained) break;
        if (Date.now() > deadline) throw new Error(`the planner did not consume the end of rotation ${r.rotationId} within ${o.rotationTimeoutMs} ms`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
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

/** p50 / p95 / max of a list of durations, as text. */
export function percentiles(values: number[]): { p50: number; p95: number; max: number } {
  if (values.length === 0) return { p50: 0, p95: 0, max: 0 };
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p95: at(0.95), max: s[s.length - 1]! };
}
