import type { Plan, PhaseSteps } from '@caracal-rotation/contracts';

const steps = (phase: PhaseSteps['phase'], roll: string[][], write = true): PhaseSteps => ({ phase, write, roll, checks: ['holders_ready'] });

const base = {
  version: 2 as const,
  format: 'key32' as const,
  store: 'caracal' as const,
  derived: [],
  safety_window_ms: 60_000,
  drain: [],
  drain_before_switch: false,
  emergency: false,
  dry_run: false,
  warnings: [],
  skipped: [],
  requested: { actor: 'alice', reason: 'test', requested_at: '2026-12-01T00:00:00.000Z' },
};

/** A dual-overlap file material: stage, deploy and retire each restart api then sts. */
export const kekPlan: Plan = {
  ...base,
  material: 'ZONE_KEK',
  format: 'kek32',
  overlap: 'dual',
  writer: 'file',
  secret: { env: 'SECRET_STORE_KEK', file: 'secretStoreKek', previous_file: 'secretStoreKekPrevious', previous_at_rest: 'copy' },
  phases: [steps('stage', [['api'], ['sts']]), steps('deploy', [['api'], ['sts']]), steps('retire', [['api'], ['sts']])],
  rollback: { mode: 'restore', why: 'restore', steps: steps('rollback', [['api'], ['sts']]) },
};

/** A zone key: nothing restarts, nothing can be rolled back. */
export const zonePlan: Plan = {
  ...base,
  material: 'ZONE_SIGNING_KEY',
  format: 'es256',
  overlap: 'none',
  writer: 'sts-zone-key',
  zone_id: 'z1',
  secret: null,
  phases: [steps('deploy', []), steps('retire', [], false)],
  rollback: { mode: 'none', why: 'no route reactivates a key', steps: steps('rollback', [], false) },
};

/** A single-value token rolled forward on rollback; its retire phase changes nothing. */
export const adminPlan: Plan = {
  ...base,
  material: 'CARACAL_ADMIN_TOKEN',
  format: 'token32',
  overlap: 'none',
  writer: 'file',
  secret: { env: 'CARACAL_ADMIN_TOKEN', file: 'caracalAdminToken', previous_file: null, previous_at_rest: 'absent' },
  phases: [steps('deploy', [['api', 'gateway']]), steps('retire', [], false)],
  rollback: { mode: 'forward', why: 'Caracal never un-revokes a token', steps: steps('rollback', [['api', 'gateway']]) },
};
