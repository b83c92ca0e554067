import { describe, expect, it } from 'vitest';
import { canRollback, retireAfter, writerMayApply, type WriterRecord } from '../src/index.js';
import { adminPlan, kekPlan, zonePlan } from './plans.js';

const now = new Date('2026-12-01T12:00:00.000Z');
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000).toISOString();

describe('writerMayApply', () => {
  it('applies phases in order, once; a repeat is re-emitted, not re-applied', () => {
    expect(writerMayApply(kekPlan, undefined, 'stage', now)).toEqual({ apply: true });
    expect(writerMayApply(kekPlan, undefined, 'deploy', now)).toMatchObject({ apply: false, why: 'deploy needs stage first' });
    expect(writerMayApply(kekPlan, { applied: ['stage'] }, 'deploy', now)).toEqual({ apply: true });
    expect(writerMayApply(kekPlan, { applied: ['stage'] }, 'stage', now)).toEqual({ apply: false, repeat: true });
  });

  it('retires only after a verified deploy, and never after a rollback', () => {
    expect(writerMayApply(adminPlan, { applied: ['deploy'] }, 'retire', now)).toMatchObject({ apply: false, why: /passing deploy verification/ });
    expect(writerMayApply(adminPlan, { applied: ['deploy'], deployVerifiedAt: minutesAgo(2) }, 'retire', now)).toEqual({ apply: true });
    expect(writerMayApply(adminPlan, { applied: ['deploy', 'rollback'], deployVerifiedAt: minutesAgo(2) }, 'retire', now)).toMatchObject({ apply: false, why: /rolled back/ });
  });

  it('rolls back inside the window only, never after retirement began, never a material without rollback', () => {
    const deployed: WriterRecord = { applied: ['deploy'], deployVerifiedAt: minutesAgo(0.5) };
    expect(writerMayApply(adminPlan, deployed, 'rollback', now)).toEqual({ apply: true });
    expect(writerMayApply(adminPlan, { ...deployed, deployVerifiedAt: minutesAgo(5) }, 'rollback', now)).toMatchObject({ apply: false, why: /window ended/ });
    expect(writerMayApply(adminPlan, { applied: ['deploy', 'retire'], deployVerifiedAt: minutesAgo(0.5) }, 'rollback', now)).toMatchObject({ apply: false, why: /retirement already began/ });
    expect(writerMayApply(zonePlan, { applied: ['deploy'] }, 'rollback', now)).toMatchObject({ apply: false, why: /reactivates/ });
    expect(writerMayApply(adminPlan, undefined, 'rollback', now)).toMatchObject({ apply: false, why: /nothing was written/ });
  });

  it('refuses everything once the rotation ended, so a replayed planned does nothing', () => {
    const retired: WriterRecord = { applied: ['deploy', 'retire'], deployVerifiedAt: minutesAgo(10), closed: 'retired' };
    expect(writerMayApply(adminPlan, retired, 'deploy', now)).toEqual({ apply: false, repeat: true });
    expect(writerMayApply(kekPlan, { applied: ['stage', 'deploy', 'retire'], closed: 'retired' }, 'stage', now)).toEqual({ apply: false, repeat: true });
    expect(writerMayApply(adminPlan, { applied: [], closed: 'abandoned' }, 'deploy', now)).toMatchObject({ apply: false, repeat: false, why: /ended \(abandoned\)/ });
  });
});

describe('canRollback', () => {
  it('is possible in flight and inside the window', () => {
    expect(canRollback(adminPlan, 'waiting_retirement', { retireAfter: retireAfter(new Date(minutesAgo(0.5)), adminPlan), now })).toEqual({ ok: true });
    expect(canRollback(adminPlan, 'waiting_retirement', { retireAfter: retireAfter(new Date(minutesAgo(5)), adminPlan), now })).toMatchObject({ ok: false });
    expect(canRollback(adminPlan, 'retiring', { now })).toMatchObject({ ok: false, why: /retiring cannot be rolled back/ });
    expect(canRollback(zonePlan, 'verifying', { now })).toMatchObject({ ok: false, code: 'not_rollbackable' });
  });
});

describe('writerMayApply with a claimed phase', () => {
  it('lets the claimed phase finish and counts it as begun for the others: retirement and rollback never both happen', () => {
    const retiring: WriterRecord = { applied: ['deploy'], deployVerifiedAt: minutesAgo(0.5), pending: 'retire' };
    expect(writerMayApply(adminPlan, retiring, 'retire', now)).toEqual({ apply: true });
    expect(writerMayApply(adminPlan, retiring, 'rollback', now)).toMatchObject({ apply: false, repeat: false, why: /retirement already began/ });
    const rollingBack: WriterRecord = { applied: ['deploy'], deployVerifiedAt: minutesAgo(0.5), pending: 'rollback' };
    expect(writerMayApply(adminPlan, rollingBack, 'retire', now)).toMatchObject({ apply: false, why: /rolled back/ });
  });
});
