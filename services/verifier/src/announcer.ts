import { Publisher, type OutgoingEvent } from '@caracal-rotation/bus';
import type { ServiceRuntime } from '@caracal-rotation/runtime';

/**
 * Publishes `completed` for Caracal's services: on Caracal's Redis, signed
 * with Caracal's STREAMS_HMAC_KEY, so Caracal's own verifiers accept it. It
 * is an announcement: nothing in the orchestrator decides from it.
 */
export function completedAnnouncer(runtime: Pick<ServiceRuntime, 'caracalRedis' | 'caracalKeyring' | 'service' | 'instance'>): (event: OutgoingEvent) => Promise<void> {
  if (!runtime.caracalKeyring) throw new Error("the verifier signs `completed` with Caracal's STREAMS_HMAC_KEY: start its runtime with caracalStreamsKey");
  const publisher = new Publisher(runtime.caracalRedis, runtime.caracalKeyring, `${runtime.service}/${runtime.instance}`);
  return async (event) => {
    await publisher.publish(event);
  };
}
