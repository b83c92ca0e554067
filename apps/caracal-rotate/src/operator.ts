import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname } from 'node:path';
import { FileKeyringSource, Publisher, type OutgoingEvent, type RedisClient } from '@caracal-rotation/bus';
import { newRotationId, rotationStreams, type IntentData, type RequestedData, type RotationStreams } from '@caracal-rotation/contracts';
import { EXIT, UsageError, connectRedis, type CliEnvironment } from './environment.js';

export interface Operator {
  redis: RedisClient;
  streams: RotationStreams;
  /** The key id requests are signed with: the planner finds the operator by it. */
  kid: string;
  request(data: RequestedData): Promise<string>;
  /** Publishes a rollback or abandon intent about a rotation; returns the intent's event id. */
  intend(rotationId: string, intent: IntentData): Promise<string>;
  /** Signs and appends one event; returns its stream entry id. */
  publish(event: OutgoingEvent): Promise<string>;
  close(): Promise<void>;
}

/** Says where the CLI looked and what to do, instead of a keyring's bare "file missing". */
export async function assertOperatorKey(env: CliEnvironment): Promise<void> {
  const key = await stat(env.operatorKeyFile).catch(() => undefined);
  if (!key || key.size === 0) {
    throw new UsageError(
      `the operator key ${env.operatorKeyFile} is missing; requests are signed with it. Run caracal-rotate init to create it (and register it in operators.json), or set CARACAL_OPERATOR_KEY_FILE to your key.`,
      EXIT.usage,
    );
  }
}

/**
 * What an operator needs to emit requests and intents: a Redis connection and
 * the operator's own key (never the bus key: the planner takes from requests
 * only what an operator's rights allow).
 */
export async function connectOperator(env: CliEnvironment): Promise<Operator> {
  await assertOperatorKey(env);
  const keyring = await FileKeyringSource.open({ dir: dirname(env.operatorKeyFile), file: basename(env.operatorKeyFile), previousFile: null, pollMs: 0 });
  const redis = connectRedis(env, 'caracal-rotate');
  const publisher = new Publisher(redis, keyring, `caracal-rotate/${hostname()}`);
  const streams = rotationStreams(env.streamPrefix);
  const publish = (event: OutgoingEvent) => publisher.publish(event);
  return {
    redis,
    streams,
    kid: keyring.current().current.kid,
    publish,
    async request(data) {
      const rotationId = newRotationId();
      await publish({ stream: streams.requested, name: 'requested', eventId: newRotationId(), rotationId, data });
      return rotationId;
    },
    async intend(rotationId, intent) {
      const eventId = newRotationId();
      await publish({ stream: streams.intent, name: 'intent', eventId, rotationId, data: intent });
      return eventId;
    },
    async close() {
      keyring.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
