import { planSchema, type CheckName, type PhaseSteps, type Plan } from '@caracal-rotation/contracts';

const steps = (phase: PhaseSteps['phase'], roll: string[][], checks: CheckName[], write = true): PhaseSteps => ({ phase, write, roll, checks });

const base = {
  version: 2 as const,
  store: 'caracal' as const,
  derived: [],
  safety_window_ms: 0,
  drain: [],
  drain_before_switch: false,
  emergency: false,
  dry_run: false,
  warnings: [],
  skipped: [],
};

const requested = (overrides: Partial<Plan['requested']> = {}): Plan['requested'] => ({
  actor: 'alice@ops',
  reason: 'quarterly rotation',
  ticket: 'SEC-1',
  requested_at: new Date().toISOString(),
  ...overrides,
});

/** A dual-overlap key (the KEK's shape): stage, deploy and retire each restart api, then sts; restored on rollback. */
export function dualPlan(overrides: Partial<Plan> = {}): Plan {
  return planSchema.parse({
    ...base,
    material: 'ZONE_KEK',
    format: 'kek32',
    overlap: 'dual',
    writer: 'file',
    secret: { env: 'SECRET_STORE_KEK', file: 'secretStoreKek', previous_file: 'secretStoreKekPrevious', previous_at_rest: 'copy' },
    phases: [
      steps('stage', [['api'], ['sts']], ['holders_ready']),
      steps('deploy', [['api'], ['sts']], ['holders_ready', 'kek_reseal', 'kek_rows_on_new_kek']),
      steps('retire', [['api'], ['sts']], ['holders_ready', 'kek_zone_keys_open']),
    ],
    rollback: { mode: 'restore', why: 'the old KEK becomes current again', steps: steps('rollback', [['api'], ['sts']], ['holders_ready']) },
    requested: requested(),
    ...overrides,
  });
}

/** A zone signing key: nothing restarts, nothing can be rolled back, retirement changes nothing. */
export function zonePlan(overrides: Partial<Plan> = {}): Plan {
  return planSchema.parse({
    ...base,
    material: 'ZONE_SIGNING_KEY',
    format: 'es256',
    overlap: 'none',
    writer: 'sts-zone-key',
    zone_id: 'zone-a',
    secret: null,
    phases: [steps('deploy', [], ['jwks_new_kid', 'jwks_keys_valid']), steps('retire', [], ['jwks_keys_valid'], false)],
    rollback: { mode: 'none', why: 'no route reactivates a zone key', steps: steps('rollback', [], [], false) },
    requested: requested({ reason: 'zone key rotation' }),
    ...overrides,
  });
}

/** A single-value token (the admin token's shape): restarted together, rolled forward on rollback, retirement changes nothing. */
export function singleValuePlan(overrides: Partial<Plan> = {}): Plan {
  return planSchema.parse({
    ...base,
    material: 'CARACAL_ADMIN_TOKEN',
    format: 'token32',
    overlap: 'none',
    writer: 'file',
    secret: { env: 'CARACAL_ADMIN_TOKEN', file: 'caracalAdminToken', previous_file: null, previous_at_rest: 'absent' },
    phases: [steps('deploy', [['api', 'gateway']], ['holders_ready', 'admin_token_accepted']), steps('retire', [], ['admin_token_old_refused'], false)],
    rollback: { mode: 'forward', why: 'Caracal never un-revokes a token', steps: steps('rollback', [['api', 'gateway']], ['admin_token_accepted']) },
    requested: requested(),
    ...overrides,
  });
}
