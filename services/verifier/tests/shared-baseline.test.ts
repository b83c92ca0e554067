import type { CheckName, CheckResult } from '@caracal-rotation/contracts';
import { describe, expect, it } from 'vitest';
import { SharedBaseline } from '../src/shared-baseline.js';

/** A check runner that records which checks it ran, each answering ok. */
function runner() {
  const ran: CheckName[][] = [];
  const run = async (names: readonly CheckName[]): Promise<CheckResult[]> => {
    ran.push([...names]);
    return names.map((name) => ({ name, ok: true, detail: `${name} probed`, duration_ms: 1 }));
  };
  return { ran, run };
}

const PHASE_CHECKS: CheckName[] = ['holders_ready', 'audit_ingest', 'jwks_new_kid', 'gateway_exchange', 'jwks_keys_valid'];

describe('the baseline shared by the zones of a batch', () => {
  it('runs the fleet checks once per batch and phase, the zone checks for every zone, in the order asked', async () => {
    const shared = new SharedBaseline(60_000);
    const { ran, run } = runner();
    const zones = await Promise.all(Array.from({ length: 5 }, () => shared.check(PHASE_CHECKS, { batchId: 'b1', phase: 'deploy' }, run)));
    expect(ran.filter((names) => names.includes('audit_ingest'))).toEqual([['holders_ready', 'audit_ingest', 'gateway_exchange']]);
    expect(ran.filter((names) => names.includes('jwks_new_kid'))).toHaveLength(5);
    for (const results of zones) expect(results.map((r) => r.name)).toEqual(PHASE_CHECKS);
    expect(zones.filter((results) => results[1]!.detail.includes("the batch's baseline run at"))).toHaveLength(4);

    await shared.check(PHASE_CHECKS, { batchId: 'b1', phase: 'retire' }, run);
    await shared.check(PHASE_CHECKS, { batchId: 'b2', phase: 'deploy' }, run);
    expect(ran.filter((names) => names.includes('audit_ingest'))).toHaveLength(3);
  });

  it('does not hand a failing run to the zones that come later', async () => {
    const shared = new SharedBaseline(60_000);
    const { ran, run } = runner();
    let failing = true;
    const sick = async (names: readonly CheckName[]) => (await run(names)).map((r) => (failing && r.name === 'audit_ingest' ? { ...r, ok: false } : r));
    expect((await shared.check(PHASE_CHECKS, { batchId: 'b4', phase: 'deploy' }, sick)).every((r) => r.ok)).toBe(false);
    failing = false;
    expect((await shared.check(PHASE_CHECKS, { batchId: 'b4', phase: 'deploy' }, sick)).every((r) => r.ok)).toBe(true);
    expect(ran.filter((names) => names.includes('audit_ingest'))).toHaveLength(2);
  });

  it('gives the zones that joined a failing run one more run of their own: a glitch fails only the zone that met it', async () => {
    const shared = new SharedBaseline(60_000);
    const { ran, run } = runner();
    let glitches = 1;
    const glitchy = async (names: readonly CheckName[]) => {
      const failing = names.includes('holders_ready') && glitches-- > 0;
      await new Promise((r) => setTimeout(r, 20));
      return (await run(names)).map((r) => (failing && r.name === 'holders_ready' ? { ...r, ok: false, detail: 'not ready: gateway: no answer in time' } : r));
    };
    const zones = await Promise.all(Array.from({ length: 6 }, () => shared.check(PHASE_CHECKS, { batchId: 'b5', phase: 'deploy' }, glitchy)));
    expect(zones.map((results) => results.every((r) => r.ok))).toEqual([false, true, true, true, true, true]);
    // The failing run, then one run for the five that had joined it.
    expect(ran.filter((names) => names.includes('holders_ready'))).toHaveLength(2);
  });

  it('fails the zones that joined a run when the problem is still there on their own run', async () => {
    const shared = new SharedBaseline(60_000);
    const { ran, run } = runner();
    const down = async (names: readonly CheckName[]) => {
      await new Promise((r) => setTimeout(r, 20));
      return (await run(names)).map((r) => (r.name === 'audit_ingest' ? { ...r, ok: false } : r));
    };
    const zones = await Promise.all(Array.from({ length: 4 }, () => shared.check(PHASE_CHECKS, { batchId: 'b6', phase: 'deploy' }, down)));
    expect(zones.every((results) => results.find((r) => r.name === 'audit_ingest')!.ok === false)).toBe(true);
    expect(ran.filter((names) => names.includes('audit_ingest'))).toHaveLength(2);
  });

  it('runs everything per rotation outside a batch, when sharing is off, and again after a failed run', async () => {
    const { ran, run } = runner();
    await new SharedBaseline(60_000).check(PHASE_CHECKS, { phase: 'deploy' }, run);
    await new SharedBaseline(0).check(PHASE_CHECKS, { batchId: 'b1', phase: 'deploy' }, run);
    expect(ran).toEqual([PHASE_CHECKS, PHASE_CHECKS]);

    const shared = new SharedBaseline(60_000);
    let first = true;
    const flaky = async (names: readonly CheckName[]) => {
      if (first && names.includes('audit_ingest')) {
        first = false;
        throw new Error('redis went away');
      }
      return run(names);
    };
    await expect(shared.check(PHASE_CHECKS, { batchId: 'b3', phase: 'deploy' }, flaky)).rejects.toThrow('redis went away');
    const again = await shared.check(PHASE_CHECKS, { batchId: 'b3', phase: 'deploy' }, flaky);
    expect(again.every((r) => r.ok)).toBe(true);
  });
});
