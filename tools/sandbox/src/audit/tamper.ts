import type pg from 'pg';
import { errorMessage, type Log } from '../shared/runtime.js';
import { contentHash } from './event.js';
import { chainHmac, eventsIngestedSince } from './store.js';

/**
 * services/audit/internal/tamper.go TamperSweeper: at start a full sweep over
 * the retention window, then every hour over the rolling window. Each stored
 * row's content hash, chain link and chain HMAC are recomputed with the
 * CURRENT AUDIT_HMAC_KEY only, so after a key rotation every older row counts
 * as an HMAC failure.
 */
export interface TamperCounters {
  checked: number;
  mismatches: number;
  chainBreaks: number;
  hmacFailures: number;
  lastSweepUnix: number;
  lastFullUnix: number;
}

export class TamperSweeper {
  readonly counters: TamperCounters = { checked: 0, mismatches: 0, chainBreaks: 0, hmacFailures: 0, lastSweepUnix: 0, lastFullUnix: 0 };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: pg.Pool,
    private readonly key: Buffer,
    private readonly retentionMs: number,
    private readonly rollingMs: number,
    private readonly log: Log,
  ) {}

  async start(): Promise<void> {
    await this.sweep(this.retentionMs, true);
    this.timer = setInterval(() => void this.sweep(this.rollingMs, false), 60 * 60 * 1000);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async sweep(lookbackMs: number, full: boolean): Promise<void> {
    const until = Date.now();
    let rows;
    try {
      rows = await eventsIngestedSince(this.db, until - lookbackMs, until);
    } catch (err) {
      this.log('error', 'tamper sweep query', { error: errorMessage(err) });
      return;
    }
    const prevByZone = new Map<string, string>();
    let mismatches = 0;
    let breaks = 0;
    let hmacFails = 0;
    for (const r of rows) {
      if (contentHash(r.event) !== r.contentSha256) {
        mismatches++;
        this.log('error', 'tamper: content hash mismatch', { event_id: r.event.id, zone_id: r.event.zoneId, chain_seq: r.chainSeq.toString() });
      }
      const prev = prevByZone.get(r.event.zoneId);
      if (prev !== undefined && r.prevContentSha256 !== prev) {
        breaks++;
        this.log('error', 'tamper: chain break (prev hash mismatch)', { zone_id: r.event.zoneId, chain_seq: r.chainSeq.toString() });
      }
      if (this.key.length > 0 && chainHmac(this.key, r.contentSha256, r.prevContentSha256) !== r.chainHmac) {
        hmacFails++;
        this.log('error', 'tamper: chain HMAC mismatch', { event_id: r.event.id, zone_id: r.event.zoneId });
      }
      prevByZone.set(r.event.zoneId, r.contentSha256);
    }
    this.counters.checked += rows.length;
    this.counters.mismatches += mismatches;
    this.counters.chainBreaks += breaks;
    this.counters.hmacFailures += hmacFails;
    this.counters.lastSweepUnix = Math.floor(Date.now() / 1000);
    if (full) this.counters.lastFullUnix = this.counters.lastSweepUnix;
    this.log(mismatches > 0 || breaks > 0 || hmacFails > 0 ? 'error' : 'info', 'tamper sweep complete', {
      full,
      checked: rows.length,
      mismatches,
      chain_breaks: breaks,
      hmac_failures: hmacFails,
    });
  }
}
