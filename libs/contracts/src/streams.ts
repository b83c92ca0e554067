/**
 * Stream names are literal Redis keys (DESIGN §3). The prefix is configurable
 * only so that test files can run side by side on one Redis; production uses
 * the default.
 */
export const DEFAULT_STREAM_PREFIX = 'caracal.rotation';

export const EVENT_NAMES = ['requested', 'queued', 'planned', 'rejected', 'written', 'rolled', 'verified', 'retiring', 'completed', 'failed'] as const;
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

/**
 * Caracal's own streams (infra/redis/provision-streams.sh). The namespace is
 * empty in production; tests give each sandbox fleet its own so that fleets
 * running side by side on one Redis never read each other's messages.
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
    /** Redis key prefix of the STS gateway-nonce burn list. */
    gatewayNoncePrefix: n('caracal:sts:gw-nonce:'),
  } as const;
}
export type CaracalStreams = ReturnType<typeof caracalStreams>;
export const CARACAL_STREAMS = caracalStreams();

/** Consumer group of each stage (DESIGN §2). */
export const STAGE_GROUPS = {
  planner: 'planner',
  secretWriter: 'secret-writer',
  roller: 'roller',
  verifier: 'verifier',
  recorder: 'recorder',
} as const;
export type StageName = keyof typeof STAGE_GROUPS;

/**
 * Where the secret-writer leaves the canary mandate it minted with a zone's
 * old signing key, for the verifier to present during the overlap and after
 * retirement. A mandate is a credential, so it travels in Redis, never in an
 * event.
 */
export const zoneRotationStateKey = (prefix: string, rotationId: string): string => `{${prefix}}:zone-key:${rotationId}`;
