import type { FollowedEntry } from './stream-follower.js';

/**
 * How the rotations of one batch ended, from its entries as they arrive:
 * each child counts once, by the first event that ended it (a retried stage
 * may add an event twice). A child completes with a passing retire
 * verification (libs/lifecycle: `verified(retire, ok)` leads to `completed`;
 * the verifier announces `completed` on Caracal's Redis, not on the bus).
 */
export class BatchOutcomes {
  private readonly ended = new Map<string, 'completed' | 'failed' | 'rejected'>();
  private batchId: string | undefined;
  private pending: FollowedEntry[] = [];
  /** Why the request itself was refused: nothing follows it. */
  refused: string | undefined;
  readonly firstFailures: string[] = [];

  /** Entries may arrive before the batch's id is known (the operator's command is still printing it). */
  add(e: FollowedEntry): void {
    if (this.batchId === undefined) this.pending.push(e);
    else this.count(e);
  }

  forBatch(batchId: string): void {
    this.batchId = batchId;
    for (const e of this.pending) this.count(e);
    this.pending = [];
  }

  count(e: FollowedEntry): void {
    if (e.rotationId === this.batchId && e.name === 'rejected') this.refused = e.why;
    if (e.batchId !== this.batchId || this.ended.has(e.rotationId)) return;
    if (e.name === 'verified' && e.ok === false && this.firstFailures.length < 3) this.firstFailures.push(`verified(${e.phase}) not ok ${e.rotationId}: ${e.why}`);
    if (e.name === 'verified' && e.phase === 'retire' && e.ok) this.ended.set(e.rotationId, 'completed');
    if (e.name === 'failed' || e.name === 'rejected') {
      this.ended.set(e.rotationId, e.name);
      if (this.firstFailures.length < 3) this.firstFailures.push(`${e.name} ${e.rotationId}: ${e.why}`);
    }
  }

  get counts(): { completed: number; failed: number; rejected: number; ended: number } {
    const of = (o: string) => [...this.ended.values()].filter((v) => v === o).length;
    return { completed: of('completed'), failed: of('failed'), rejected: of('rejected'), ended: this.ended.size };
  }
}
