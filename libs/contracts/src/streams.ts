/**
 * Stream names are literal Redis keys (docs/architecture.md §3). The prefix is
 * configurable only so that test files can run side by side on one Redis;
 * production uses the default.
 */
export const DEFAULT_STREAM_PREFIX = 'caracal.rotation';

export const EVENT_NAMES = [
  'requested',
  'intent',
  'queued',
  'planned',
  'rejected',
  'rollback',
  'abandoned',
  'written',
  'rolled',
  'verified',
  'retiring',
  'failed',
  'completed',
] as const;
export type EventName = (typeof EVENT_NAMES)[number];

/** `type` field of the envelope: the stream's last two segments. */
export type EventType = `rotation.${EventName}`;
export const eventType = (name: EventName): EventType => `rotation.${name}`;

export type RotationStreams = Readonly<Record<EventName, string>> & { readonly prefix: string };

export function rotationStreams(prefix: string = DEFAULT_STREAM_PREFIX): RotationStreams {
  const names = Object.fromEntries(EVENT_NAMES.map((n) => [n, `${prefix}.${n}`])) as Record<EventName, string>;
  return { ...names, prefix };
}

export const deadLetterStream = (stream: string): string => `${stream}.dead`;

/** Redis keys of the orchestrator's own state, all under one hash tag so Lua scripts stay single-slot on a cluster. */
export const stateKeys = (prefix: string) => {
  const tag = `{${prefix}}`;
  return {
    plan: (planId: string) => `${tag}:plan:${planId}`,
    lock: `${tag}:lock`,
    queue: `${tag}:queue`,
    queued: (rotationId: string) => `${tag}:queued:${rotationId}`,
    /** A request waiting in the queue (or being planned in chunks), kept apart from the queue's small items. */
    request: (rotationId: string) => `${tag}:request:${rotationId}`,
    handoff: (eventId: string) => `${tag}:handoff:${eventId}`,
    batch: (batchId: string) => `${tag}:batch:${batchId}`,
    keyringReport: (instance: string) => `${tag}:keyring:${instance}`,
    keyringReports: `${tag}:keyring:*`,
  };
};

/**
 * Caracal's own streams (infra/redis/provision-streams.sh in Caracal). The
 * namespace is empty in production; a test may give a fleet its own.
 */
export function caracalStreams(namespace = '') {
  const n = (name: string) => `${namespace}${name}`;
  return {
    auditEvents: n('caracal.audit.events'),
    auditDlq: n('caracal.audit.events.dlq'),
    sessionsRevoke: n('caracal.sessions.revoke'),
    keysInvalidate: n('caracal.keys.invalidate'),
    policyInvalidate: n('caracal.policy.invalidate'),
    agentsLifecycle: n('caracal.agents.lifecycle'),
    invocationsLifecycle: n('caracal.invocations.lifecycle'),
    delegationsInvalidate: n('caracal.delegations.invalidate'),
    /** Redis key prefix of the STS gateway-nonce burn list. */
    gatewayNoncePrefix: n('caracal:sts:gw-nonce:'),
  } as const;
}
export type CaracalStreams = ReturnType<typeof caracalStreams>;
export const CARACAL_STREAMS = caracalStreams();

/** Consumer group of each stage. */
export const STAGE_GROUPS = {
  planner: 'planner',
  secretWriter: 'secret-writer',
  roller: 'roller',
  verifier: 'verifier',
  recorder: 'recorder',
} as const;
export type StageName = keyof typeof STAGE_GROUPS;
/** The five services' names, as they appear in `producer`, holders of ROTATION_BUS_KEY and metrics. */
export const ORCHESTRATOR_SERVICES = ['planner', 'secret-writer', 'roller', 'verifier', 'recorder'] as const;
export type OrchestratorService = (typeof ORCHESTRATOR_SERVICES)[number];
