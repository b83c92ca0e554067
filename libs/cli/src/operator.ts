import { hostname, userInfo } from 'node:os';
import { FileKeyringSource, Publisher, createRedis, type Redis } from '@caracal-rotation/bus';
import { newRotationId, rotationStreams, type RequestedData, type RotationStreams } from '@caracal-rotation/contracts';
import type { CliEnvironment } from './environment.js';

export const defaultActor = (): string => `${userInfo().username}@${hostname()}`;

export interface Operator {
  redis: Redis;
  streams: RotationStreams;
  request(data: RequestedData): Promise<string>;
  close(): Promise<void>;
}

/**
 * What an operator needs to emit requests: a Redis connection and the bus key
 * from the secrets directory, read once (the CLI is short-lived).
 */
export async function connectOperator(env: CliEnvironment): Promise<Operator> {
  const redis = createRedis(env.redisUrl, { maxRetriesPerRequest: 2, connectionName: 'caracal-rotate' });
  const keyring = await FileKeyringSource.open({ dir: env.secretsDir, pollMs: 0 });
  const publisher = new Publisher(redis, keyring, `caracal-rotate/${hostname()}`);
  const streams = rotationStreams(env.streamPrefix);
  return {
    redis,
    streams,
    async request(data) {
      // STREAMS_HMAC_KEY may have rotated since this process started: sign with today's key.
      await keyring.refresh();
      const rotationId = newRotationId();
      await publisher.publish({ stream: streams.requested, name: 'requested', eventId: newRotationId(), rotationId, data });
      return rotationId;
    },
    async close() {
      keyring.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
