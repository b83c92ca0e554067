import { closeRedis, connectRedis, type MemberRedis } from './redis.js';
import { errorMessage, type Log } from './log.js';

/** Handles one entry; it acknowledges the entry itself, after its effects. */
export type EntryHandler = (id: string, fields: Record<string, string>) => Promise<void>;

export interface ConsumerSpec {
  stream: string;
  group: string;
  handle: EntryHandler;
}

const BLOCK_MS = 2000;
const BATCH = 50;
const RETRY_MS = 250;

/**
 * A consumer-group reader in Caracal's style: the group is created at `0`
 * with MKSTREAM, the consumer first re-reads its own pending entries (left
 * over from a previous run under the same name), then blocks for new ones on
 * a dedicated connection so a blocked read never delays other commands.
 */
export class GroupConsumer {
  private conn: MemberRedis | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private groupReady = false;
  private healthy = false;
  private lastError: string | undefined;

  constructor(
    private readonly spec: ConsumerSpec,
    private readonly redisUrl: string,
    private readonly consumer: string,
    private readonly log: Log,
    /** REDIS_CLUSTER_NODES, when the streams live on a Redis Cluster. */
    private readonly clusterNodes?: string,
  ) {}

  start(): void {
    this.conn = connectRedis(this.redisUrl, `consumer:${this.spec.group}`, this.log, { blocking: true, clusterNodes: this.clusterNodes });
    this.loop = this.run(this.conn);
  }

  /** Null when running; otherwise why not, for /ready. */
  problem(): string | null {
    if (this.healthy) return null;
    return `consumer group ${this.spec.group} on ${this.spec.stream} is not running${this.lastError ? `: ${this.lastError}` : ''}`;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    // Disconnecting aborts a blocked XREADGROUP at once; waiting out BLOCK would
    // make shutdown as slow as the block time.
    if (this.conn) await closeRedis(this.conn);
    await this.loop;
  }

  private async run(conn: MemberRedis): Promise<void> {
    let cursor = '0';
    while (!this.stopping) {
      try {
        if (!this.groupReady) await this.ensureGroup(conn);
        const entries = await this.read(conn, cursor);
        this.healthy = true;
        this.lastError = undefined;
        if (cursor !== '>' && entries.length === 0) {
          cursor = '>';
          continue;
        }
        for (const [id, fields] of entries) {
          if (this.stopping) return;
          // A pending entry deleted from the stream has nothing left to judge.
          if (fields === null) await conn.call('XACK', this.spec.stream, this.spec.group, id);
          else await this.spec.handle(id, fields);
          if (cursor !== '>') cursor = id;
        }
      } catch (err) {
        if (this.stopping) return;
        this.onError(err);
        // Unfinished entries stay pending; go back to the pending list first.
        cursor = '0';
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  private onError(err: unknown): void {
    const message = errorMessage(err);
    if (message.includes('NOGROUP')) this.groupReady = false;
    if (this.healthy || this.lastError !== message) {
      this.log('warn', 'consumer error', { stream: this.spec.stream, group: this.spec.group, error: message });
    }
    this.healthy = false;
    this.lastError = message;
  }

  private async ensureGroup(conn: MemberRedis): Promise<void> {
    try {
      await conn.call('XGROUP', 'CREATE', this.spec.stream, this.spec.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!errorMessage(err).includes('BUSYGROUP')) throw err;
    }
    this.groupReady = true;
  }

  private async read(conn: MemberRedis, cursor: string): Promise<Entry[]> {
    const block = cursor === '>' ? ['BLOCK', String(BLOCK_MS)] : [];
    const reply = await conn.call('XREADGROUP', 'GROUP', this.spec.group, this.consumer, 'COUNT', String(BATCH), ...block, 'STREAMS', this.spec.stream, cursor);
    return parseEntries(reply);
  }
}

type Entry = [id: string, fields: Record<string, string> | null];

/** XREADGROUP's RESP2 reply, `[[stream, [[id, [k, v, …]], …]]]` or null, as entries. */
function parseEntries(reply: unknown): Entry[] {
  if (!Array.isArray(reply)) return [];
  const out: Entry[] = [];
  for (const streamReply of reply as unknown[]) {
    const items = Array.isArray(streamReply) ? (streamReply[1] as unknown) : undefined;
    if (!Array.isArray(items)) continue;
    for (const item of items as unknown[]) {
      if (!Array.isArray(item)) continue;
      const [id, flat] = item as [unknown, unknown];
      out.push([String(id), Array.isArray(flat) ? pairs(flat as unknown[]) : null]);
    }
  }
  return out;
}

function pairs(flat: unknown[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[String(flat[i])] = String(flat[i + 1]);
  return fields;
}
