import type { RedisClient } from '@caracal-rotation/bus';
import type { RotationStreams } from '@caracal-rotation/contracts';

/**
 * Where a stream lives: the orchestrator's own streams (`{prefix}.…`) on the
 * bus's Redis, everything else (Caracal's `caracal.*`) on Caracal's Redis.
 * Decided from the name alone, so a drain mark never needs to say where it
 * was taken.
 */
export class StreamHomes {
  constructor(
    readonly bus: RedisClient,
    readonly caracal: RedisClient,
    private readonly streams: RotationStreams,
  ) {}

  isOwn(stream: string): boolean {
    return stream.startsWith(`${this.streams.prefix}.`);
  }

  of(stream: string): RedisClient {
    return this.isOwn(stream) ? this.bus : this.caracal;
  }

  /** Items split by the Redis that holds their stream (one entry when both are the same connection). */
  split<T extends { stream: string }>(items: readonly T[]): [RedisClient, T[]][] {
    const out = new Map<RedisClient, T[]>();
    for (const item of items) {
      const redis = this.of(item.stream);
      out.set(redis, [...(out.get(redis) ?? []), item]);
    }
    return [...out.entries()];
  }
}
