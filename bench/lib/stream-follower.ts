import { duplicateForBlocking, type Redis } from '@caracal-rotation/bus';
import { EVENT_NAMES, type EventName, type RotationStreams } from '@caracal-rotation/contracts';
import { entryMs } from './stats.js';

/** What the harness keeps of one stream entry (not the entry: a 10,000-zone run has about 70,000). */
export interface FollowedEntry {
  name: EventName;
  id: string;
  /** The entry's time: the Redis server's clock when it was added. */
  ms: number;
  rotationId: string;
  phase?: string;
  batchId?: string;
  /** A verification's outcome. */
  ok?: boolean;
  /** Sum of the check durations a `verified` reports. */
  checksMs?: number;
  /** Why a `failed` or `rejected` ended its rotation, or which checks a failing `verified` failed. */
  why?: string;
}

const toFields = (flat: string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
};

function followed(name: EventName, id: string, fields: Record<string, string>): FollowedEntry {
  let data: { phase?: string; batch_id?: string; ok?: boolean; checks?: { name: string; ok: boolean; detail: string; duration_ms: number }[]; error?: string; stage?: string; reason_code?: string; message?: string } = {};
  try {
    data = JSON.parse(fields.data ?? '{}') as typeof data;
  } catch {
    // kept without its data
  }
  return {
    name,
    id,
    ms: entryMs(id),
    rotationId: fields.rotation_id ?? '',
    phase: data.phase,
    batchId: data.batch_id,
    ok: data.ok,
    checksMs: data.checks?.reduce((s, c) => s + c.duration_ms, 0),
    why:
      name === 'failed'
        ? `${data.stage}: ${data.error}`
        : name === 'rejected'
          ? `${data.reason_code}: ${data.message}`
          : data.ok === false
            ? (data.checks ?? [])
                .filter((c) => !c.ok)
                .map((c) => `${c.name}: ${c.detail.slice(0, 300)}`)
                .join('; ')
            : undefined,
  };
}

/**
 * Reads every rotation stream as its entries arrive (XREAD, no group), so
 * nothing is lost when the recorder trims what every group has acknowledged.
 */
export class StreamFollower {
  readonly entries: FollowedEntry[] = [];
  private readonly reader: Redis;
  private running = true;
  private readonly loop: Promise<void>;
  private failure: unknown;
  private readonly listeners: ((e: FollowedEntry) => void)[] = [];

  constructor(redis: Redis, streams: RotationStreams) {
    const reader = duplicateForBlocking(redis);
    this.reader = reader;
    const names = new Map(EVENT_NAMES.map((n) => [streams[n], n] as const));
    const cursors = new Map<string, string>(EVENT_NAMES.map((n) => [streams[n], '0']));
    this.loop = (async () => {
      while (this.running) {
        let reply: [string, [string, string[]][]][] | null;
        try {
          reply = (await reader.xread('COUNT', 2000, 'BLOCK', 500, 'STREAMS', ...cursors.keys(), ...cursors.values())) as typeof reply;
        } catch (err) {
          if (!this.running) return;
          throw err;
        }
        for (const [stream, entries] of reply ?? []) {
          for (const [id, flat] of entries) {
            const e = followed(names.get(stream)!, id, toFields(flat));
            this.entries.push(e);
            for (const l of this.listeners) l(e);
          }
          if (entries.length) cursors.set(stream, entries[entries.length - 1]![0]);
        }
      }
    })().catch((err: unknown) => {
      this.failure = err;
    });
  }

  onEntry(listener: (e: FollowedEntry) => void): void {
    this.listeners.push(listener);
  }

  /** Reads what is left (up to now), then stops. */
  async stop(): Promise<void> {
    await new Promise((r) => setTimeout(r, 600));
    this.running = false;
    await this.loop;
    this.reader.disconnect();
    if (this.failure) throw new Error(`following the rotation streams failed: ${String(this.failure)}`);
  }
}
