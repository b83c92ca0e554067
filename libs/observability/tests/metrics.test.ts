import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/index.js';

describe('createMetrics', () => {
  it('registers every family with the service label and the default metrics', async () => {
    const metrics = createMetrics('verifier');
    metrics.stageDuration.observe({ stage: 'verifier', phase: 'deploy', outcome: 'ok' }, 0.042);
    metrics.eventsTotal.inc({ stream: 'caracal.rotation.rolled', outcome: 'ok' });
    metrics.deadLettersTotal.inc({ stream: 'caracal.rotation.rolled', reason: 'invalid_signature' });
    metrics.signatureFailuresTotal.inc({ stream: 'caracal.rotation.rolled', reason: 'unknown_kid' });
    metrics.pendingEntries.set({ stream: 's', group: 'g' }, 3);
    metrics.groupLag.set({ stream: 's', group: 'g' }, 7);
    metrics.dlqSize.set({ stream: 's.dead' }, 1);
    metrics.inProgress.set({ material: 'AUDIT_HMAC_KEY' }, 1);
    metrics.materialAge.set({ material: 'ZONE_SIGNING_KEY', zone: 'z1' }, 3600);

    const text = await metrics.registry.metrics();
    for (const name of [
      'caracal_rotation_stage_duration_seconds_bucket',
      'caracal_rotation_events_total',
      'caracal_rotation_dead_letters_total',
      'caracal_rotation_signature_failures_total',
      'caracal_rotation_pending_entries',
      'caracal_rotation_group_lag',
      'caracal_rotation_dlq_entries',
      'caracal_rotation_in_progress',
      'caracal_rotation_material_age_seconds',
      'process_cpu_seconds_total',
      'nodejs_heap_size_total_bytes',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toContain('caracal_rotation_events_total{stream="caracal.rotation.rolled",outcome="ok",service="verifier"} 1');
    expect(text).toContain('le="0.001"');
    expect(text).toContain('le="60"');
  });

  it('keeps each service in its own registry', async () => {
    const a = createMetrics('planner');
    const b = createMetrics('roller');
    a.eventsTotal.inc({ stream: 's', outcome: 'retry' });
    expect(await b.registry.metrics()).not.toContain('outcome="retry"');
  });
});
