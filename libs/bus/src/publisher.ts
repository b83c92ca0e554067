import { hostname } from 'node:os';
import type { ChainableCommander } from 'ioredis';
import { eventType, nowRfc3339, type EventName } from '@caracal-rotation/contracts';
import type { KeyringSource } from './keyring-source.js';
import { isCluster, keySlot, type RedisClient } from './redis.js';
import type { StreamFields } from './signature.js';

export interface OutgoingEvent {
  stream: string;
  name: EventName;
  eventId: string;
  rotationId: string;
  data: unknown;
}

export const defaultProducer = (service: string): string => `${service}/${hostname()}`;

/** Builds the signed envelope (docs/architecture.md §3) and appends it to its stream. */
export class Publisher {
  /** `keyring`: the bus keyring for internal events; Caracal's STREAMS keyring for the `completed` announcement. */
  constructor(
    private readonly redis: RedisClient,
    private readonly keyring: KeyringSource,
    readonly producer: string,
  ) {}

  envelope(event: OutgoingEvent, occurredAt: string = nowRfc3339()): StreamFields {
    return this.keyring.current().sign(event.stream, {
      event_id: event.eventId,
      type: eventType(event.name),
      rotation_id: event.rotationId,
      occurred_at: occurredAt,
      producer: this.producer,
      data: JSON.stringify(event.data),
    });
  }

  async publish(event: OutgoingEvent): Promise<string> {
    const fields = this.envelope(event);
    const id = await this.redis.xadd(event.stream, '*', ...Object.entries(fields).flat());
    if (!id) throw new Error(`XADD to ${event.stream} returned no id`);
    return id;
  }

  /**
   * Appends several events in one round trip; returns their entry ids in order.
   * On a cluster one pipeline may only touch one slot: each run of consecutive
   * events on one slot is a pipeline, and the runs go one after the other, so
   * the events are still appended in order.
   */
  async publishAll(events: readonly OutgoingEvent[]): Promise<string[]> {
    if (events.length === 0) return [];
    if (events.length === 1) return [await this.publish(events[0]!)];
    if (!isCluster(this.redis)) return this.pipelined(events);
    const ids: string[] = [];
    for (let start = 0; start < events.length; ) {
      const slot = keySlot(events[start]!.stream);
      let end = start + 1;
      while (end < events.length && keySlot(events[end]!.stream) === slot) end++;
      const run = events.slice(start, end);
      ids.push(...(run.length === 1 ? [await this.publish(run[0]!)] : await this.pipelined(run)));
      start = end;
    }
    return ids;
  }

  /** Adds the XADDs of `events` to a pipeline the caller executes (with its own commands after them). */
  appendTo(pipeline: ChainableCommander, events: readonly OutgoingEvent[]): void {
    for (const event of events) pipeline.xadd(event.stream, '*', ...Object.entries(this.envelope(event)).flat());
  }

  private async pipelined(events: readonly OutgoingEvent[]): Promise<string[]> {
    const pipeline = this.redis.pipeline();
    this.appendTo(pipeline, events);
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, id], i) => {
      if (err) throw new Error(`XADD to ${events[i]!.stream} failed: ${err.message}`);
      return String(id);
    });
  }
}
