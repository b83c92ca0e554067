import { counter, gauge, renderMetrics, type Sample } from '../shared/go-metrics.js';

/** services/gateway/internal/metrics.go GatewayMetrics, and the samples server.go handleMetrics renders in its order. */
const SAMPLES = [
  ['requestsTotal', 'counter', 'caracal_gateway_requests_total', 'Gateway requests received'],
  ['requestsAllowed', 'counter', 'caracal_gateway_requests_allowed_total', 'Gateway requests allowed upstream'],
  ['requestsDenied', 'counter', 'caracal_gateway_requests_denied_total', 'Gateway requests denied before upstream dispatch'],
  ['denialsMissingAuth', 'counter', 'caracal_gateway_denials_missing_auth_total', 'Gateway denials caused by missing bearer credentials'],
  ['denialsBadBearer', 'counter', 'caracal_gateway_denials_bad_bearer_total', 'Gateway denials caused by malformed bearer credentials'],
  ['denialsExpiring', 'counter', 'caracal_gateway_denials_expiring_total', 'Gateway denials caused by nearly expired mandates'],
  ['denialsBadRouting', 'counter', 'caracal_gateway_denials_bad_routing_total', 'Gateway denials caused by invalid route targets'],
  ['denialsPathTraversal', 'counter', 'caracal_gateway_denials_path_traversal_total', 'Gateway denials caused by unsafe upstream paths'],
  ['denialsSignature', 'counter', 'caracal_gateway_denials_signature_total', 'Gateway denials caused by invalid JWT signatures'],
  ['denialsJtiReplay', 'counter', 'caracal_gateway_denials_jti_replay_total', 'Gateway denials caused by replayed token identifiers'],
  ['denialsRevoked', 'counter', 'caracal_gateway_denials_revoked_total', 'Gateway denials caused by revoked authority records, Sessions, or Delegations'],
  ['denialsRevocationStale', 'counter', 'caracal_gateway_denials_revocation_stale_total', 'Gateway denials caused by stale revocation state'],
  ['stsExchangeErrors', 'counter', 'caracal_gateway_sts_exchange_errors_total', 'Gateway STS token exchange failures'],
  ['stsExchangeLatencyMs', 'gauge', 'caracal_gateway_sts_exchange_latency_ms', 'Latency of the most recent Gateway STS token exchange'],
  ['stsCircuitOpen', 'gauge', 'caracal_gateway_sts_circuit_open', 'Whether Gateway is currently fast-failing STS exchange calls'],
  ['stsCircuitOpened', 'counter', 'caracal_gateway_sts_circuit_opened_total', 'Times Gateway opened its STS exchange circuit breaker'],
  ['stsCircuitFastFail', 'counter', 'caracal_gateway_sts_circuit_fast_fail_total', 'Gateway requests rejected while the STS exchange circuit was open'],
  ['upstreamErrors', 'counter', 'caracal_gateway_upstream_errors_total', 'Gateway upstream request failures'],
  ['auditReplayFiles', 'gauge', 'caracal_gateway_audit_replay_files', 'Gateway audit replay files waiting on disk'],
  ['auditReplayBytes', 'gauge', 'caracal_gateway_audit_replay_bytes', 'Gateway audit replay bytes waiting on disk'],
  ['auditReplayOldestAge', 'gauge', 'caracal_gateway_audit_replay_oldest_age_seconds', 'Age of the oldest Gateway audit replay file on disk'],
  ['auditDropped', 'counter', 'caracal_gateway_audit_dropped_total', 'Gateway audit events irrecoverably lost'],
  ['auditSinkErrors', 'counter', 'caracal_gateway_audit_sink_errors_total', 'Gateway audit stream delivery errors'],
  ['auditQueueDepth', 'gauge', 'caracal_gateway_audit_queue_depth', 'Gateway audit events waiting in memory'],
  ['auditQueueCap', 'gauge', 'caracal_gateway_audit_queue_capacity', 'Gateway audit in-memory queue capacity'],
  ['auditPersisted', 'counter', 'caracal_gateway_audit_persisted_total', 'Gateway audit events persisted for replay'],
  ['auditDrained', 'counter', 'caracal_gateway_audit_drained_total', 'Gateway audit events drained from replay files'],
  ['revocationsActive', 'gauge', 'caracal_gateway_revocations_active', 'Gateway revocation anchors loaded in memory'],
  ['revocationSnapshotAgeSeconds', 'gauge', 'caracal_gateway_revocation_snapshot_age_seconds', 'Seconds since the last successful Gateway revocation snapshot reload'],
  ['revocationSnapshotFresh', 'gauge', 'caracal_gateway_revocation_snapshot_fresh', 'Whether the Gateway revocation snapshot is fresh enough for readiness'],
  ['revocationMessages', 'counter', 'caracal_gateway_revocation_messages_total', 'Valid revocation stream messages applied by Gateway'],
  ['revocationPendingReplayed', 'counter', 'caracal_gateway_revocation_pending_replayed_total', 'Pending revocation stream messages reclaimed by Gateway'],
  ['revocationDeadLetters', 'counter', 'caracal_gateway_revocation_dead_letters_total', 'Poison revocation stream messages dead-lettered by Gateway'],
  ['revocationInvalidSignatures', 'counter', 'caracal_gateway_revocation_invalid_signatures_total', 'Revocation stream messages rejected because their origin signature failed'],
  ['revocationReloads', 'counter', 'caracal_gateway_revocation_reloads_total', 'Gateway revocation snapshot reloads completed successfully'],
  ['revocationReloadErrors', 'counter', 'caracal_gateway_revocation_reload_errors_total', 'Gateway revocation snapshot reload attempts that failed'],
  ['revocationPropagationSeconds', 'gauge', 'caracal_gateway_revocation_propagation_seconds', 'Age of the most recent applied revocation stream message'],
] as const;

export type GatewayMetricName = (typeof SAMPLES)[number][0];

export class GatewayMetrics {
  private readonly values = new Map<GatewayMetricName, number>();

  inc(name: GatewayMetricName, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  set(name: GatewayMetricName, value: number): void {
    this.values.set(name, value);
  }

  /** The gateway's audit queue holds 0 of its capacity (audit.ClientConfig default). */
  render(extra: readonly Sample[]): string {
    const samples = SAMPLES.map(([key, type, name, help]) => (type === 'counter' ? counter : gauge)(name, help, this.values.get(key) ?? 0));
    return renderMetrics([...samples, ...extra]);
  }
}
