import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname, userInfo } from 'node:os';
import { FileKeyringSource, Publisher, type OutgoingEvent, type RedisClient } from '@caracal-rotation/bus';
import { newRotationId, rotationStreams, type RequestedData, type RotationStreams } from '@caracal-rotation/contracts';
import { EXIT, UsageError, connectRedis, type CliEnvironment } from './environment.js';

export const defaultActor = (): string => `${userInfo().username}@${hostname()}`;

export interface Operator {
  redis: RedisClient;
  streams: RotationStreams;
  request(data: RequestedData): Promise<string>;
  /** Signs and appends one event; returns its stream entry id. */
  publish(event: OutgoingEvent): Promise<string>;
  close(): Promise<void>;
}

/**
 * Says where the CLI looked and what to do, instead of the keyring's bare
 * "file missing": an operator who never started the system needs the way in.
 */
export async function assertBusKey(env: CliEnvironment): Promise<void> {
  const where = `${env.secretsDir}${env.secretsDirSource ? ` (from ${env.secretsDirSource})` : ''}`;
  const hint = 'Run `caracal-rotate up --sandbox` to create a sandbox secrets directory, or set CARACAL_SECRETS_DIR to the directory of your deployment.';
  const dir = await stat(env.secretsDir).catch(() => undefined);
  if (!dir?.isDirectory()) throw new UsageError(`the secrets directory ${where} does not exist. ${hint}`, EXIT.usage);
  const key = await stat(join(env.secretsDir, 'streamsHmacKey')).catch(() => undefined);
  if (!key || key.size === 0) {
    throw new UsageError(`the bus key streamsHmacKey (STREAMS_HMAC_KEY) is missing from the secrets directory ${where}; requests are signed with it. ${hint}`, EXIT.usage);
  }
}

/**
 * What an operator needs to emit events: a Redis connection and the bus key
 * from the secrets directory, re-read before every publish (the key may rotate
 * while a long `--wait` runs).
 */
export async function connectOperator(env: CliEnvironment): Promise<Operator> {
  await assertBusKey(env);
  const keyring = await FileKeyringSource.open({ dir: env.secretsDir, pollMs: 0 });
  const redis = connectRedis(env, 'caracal-rotate');
  const publisher = new Publisher(redis, keyring, `caracal-rotate/${hostname()}`);
  const streams = rotationStreams(env.streamPrefix);
  const publish = async (event: OutgoingEvent) => {
    // STREAMS_HMAC_KEY may have rotated since this process started: sign with today's key.
    await keyring.refresh();
    return publisher.publish(event);
  };
  return {
    redis,
    streams,
    publish,
    async request(data) {
      const rotationId = newRotationId();
      await publish({ stream: streams.requested, name: 'requested', eventId: newRotationId(), rotationId, data });
      return rotationId;
    },
    async close() {
      keyring.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
