import { createHmac } from 'node:crypto';
import type pg from 'pg';
import { contentHash, pgTimestamp, type AuditEvent } from './event.js';

/** services/audit/internal/pg.go PGWriter: the per-zone hash chain of audit_events. */

export class ConflictMismatchError extends Error {
  constructor() {
    super('audit: duplicate event with mismatched content hash');
  }
}

/** PGWriter.computeHMAC: HMAC(AUDIT_HMAC_KEY, content | prev). */
export function chainHmac(key: Buffer, content: string, prev: string): string {
  if (key.length === 0) return '';
  return createHmac('sha256', key).update(content).update('|').update(prev).digest('hex');
}

/** IsTransientPGError: connection and contention failures are retried; everything else is permanent. */
export function isTransientPgError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return ['40001', '40P01', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004', '53300', '53400'].includes(code);
}

/** PGWriter.Insert; returns whether a row was inserted (false for a benign duplicate). */
export async function insertEvent(db: pg.Pool, key: Buffer, input: AuditEvent, ingestSig: string): Promise<boolean> {
  const client = await db.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [input.zoneId]);
    const ev = { ...input, occurredAtNs: (input.occurredAtNs / 1000n) * 1000n };
    const nullable = (j: string | null) => (j === null || j === '' || j === 'null' ? null : j);
    const norm = await client.query<{ a: string | null; b: string | null; c: string | null }>('SELECT $1::jsonb::text AS a, $2::jsonb::text AS b, $3::jsonb::text AS c', [
      nullable(ev.determiningPoliciesJson),
      nullable(ev.diagnosticsJson),
      nullable(ev.metadataJson),
    ]);
    ev.determiningPoliciesJson = norm.rows[0]!.a;
    ev.diagnosticsJson = norm.rows[0]!.b;
    ev.metadataJson = norm.rows[0]!.c;
    const head = await client.query<{ content: string; seq: string }>(
      `SELECT COALESCE(content_sha256,'') AS content, COALESCE(chain_seq,0) AS seq
       FROM audit_events WHERE zone_id = $1 ORDER BY chain_seq DESC NULLS LAST LIMIT 1`,
      [ev.zoneId],
    );
    const prev = head.rows[0]?.content ?? '';
    const nextSeq = BigInt(head.rows[0]?.seq ?? '0') + 1n;
    const content = contentHash(ev);
    const occurredAt = pgTimestamp(ev.occurredAtNs);
    const inserted = await client.query(
      `INSERT INTO audit_events
       (id, zone_id, event_type, request_id, decision, policy_set_id,
        policy_set_version_id, manifest_sha, evaluation_status,
        determining_policies_json, diagnostics_json, metadata_json,
        occurred_at, content_sha256, prev_content_sha256, chain_hmac,
        chain_seq, ingest_signature)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10::jsonb,$11::jsonb,$12::jsonb,$13,$14,$15,$16,$17,$18)
       ON CONFLICT (id, occurred_at) DO NOTHING`,
      [
        ev.id,
        ev.zoneId,
        ev.eventType,
        ev.requestId,
        ev.decision,
        ev.policySetId,
        ev.policySetVersionId,
        ev.manifestSha,
        ev.evaluationStatus,
        ev.determiningPoliciesJson,
        ev.diagnosticsJson,
        ev.metadataJson,
        occurredAt,
        content,
        prev === '' ? null : prev,
        chainHmac(key, content, prev),
        nextSeq.toString(),
        ingestSig === '' ? null : ingestSig,
      ],
    );
    if (inserted.rowCount === 0) {
      const existing = await client.query<{ content: string }>(`SELECT COALESCE(content_sha256,'') AS content FROM audit_events WHERE id = $1 AND occurred_at = $2`, [ev.id, occurredAt]);
      const stored = existing.rows[0]?.content ?? '';
      if (stored !== '' && stored !== content) {
        await client.query(`INSERT INTO audit_ingest_alerts (event_id, zone_id, kind, detail) VALUES ($1,$2,'content_mismatch_on_replay',$3)`, [ev.id, ev.zoneId, `stored=${stored} incoming=${content}`]).catch(() => undefined);
        await client.query('COMMIT');
        throw new ConflictMismatchError();
      }
      await client.query('COMMIT');
      return false;
    }
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export interface StoredEvent {
  event: AuditEvent;
  contentSha256: string;
  prevContentSha256: string;
  chainHmac: string;
  chainSeq: bigint;
}

/** The column list QuerySinceFn and rehashZone read; occurred_at as Unix microseconds so no precision is lost. */
const EVENT_COLUMNS = `id, zone_id, event_type,
  COALESCE(request_id,'') AS request_id, COALESCE(decision,'') AS decision,
  COALESCE(policy_set_id,'') AS policy_set_id, COALESCE(policy_set_version_id,'') AS policy_set_version_id,
  COALESCE(manifest_sha,'') AS manifest_sha, COALESCE(evaluation_status,'') AS evaluation_status,
  COALESCE(determining_policies_json::text,'null') AS det, COALESCE(diagnostics_json::text,'null') AS diag,
  COALESCE(metadata_json::text,'null') AS meta,
  (EXTRACT(EPOCH FROM occurred_at) * 1000000)::bigint::text AS occurred_us`;

interface EventRow {
  id: string;
  zone_id: string;
  event_type: string;
  request_id: string;
  decision: string;
  policy_set_id: string;
  policy_set_version_id: string;
  manifest_sha: string;
  evaluation_status: string;
  det: string;
  diag: string;
  meta: string;
  occurred_us: string;
}

function toEvent(r: EventRow): AuditEvent {
  const raw = (j: string) => (j === 'null' ? null : j);
  return {
    id: r.id,
    zoneId: r.zone_id,
    eventType: r.event_type,
    requestId: r.request_id,
    decision: r.decision,
    policySetId: r.policy_set_id,
    policySetVersionId: r.policy_set_version_id,
    manifestSha: r.manifest_sha,
    evaluationStatus: r.evaluation_status,
    determiningPoliciesJson: raw(r.det),
    diagnosticsJson: raw(r.diag),
    metadataJson: raw(r.meta),
    occurredAtNs: BigInt(r.occurred_us) * 1000n,
    occurredAtZero: false,
  };
}

/** QuerySinceFn by ingestion time, ordered by zone and chain position. */
export async function eventsIngestedSince(db: pg.Pool, sinceMs: number, untilMs: number): Promise<StoredEvent[]> {
  const { rows } = await db.query<EventRow & { content: string; prev: string; hmac: string; seq: string }>(
    `SELECT ${EVENT_COLUMNS},
       COALESCE(content_sha256,'') AS content, COALESCE(prev_content_sha256,'') AS prev,
       COALESCE(chain_hmac,'') AS hmac, COALESCE(chain_seq,0)::text AS seq
     FROM audit_events WHERE ingested_at >= $1 AND ingested_at < $2
     ORDER BY zone_id, chain_seq`,
    [new Date(sinceMs), new Date(untilMs)],
  );
  return rows.map((r) => ({ event: toEvent(r), contentSha256: r.content, prevContentSha256: r.prev, chainHmac: r.hmac, chainSeq: BigInt(r.seq) }));
}

/** rehash.go RehashChains: once per database (marker row in audit_chain_rehash), every zone's chain is recomputed. */
export async function rehashChains(db: pg.Pool, key: Buffer): Promise<{ zones: number; events: number } | undefined> {
  const done = await db.query<{ done: boolean }>('SELECT EXISTS (SELECT 1 FROM audit_chain_rehash) AS done');
  if (done.rows[0]?.done) return undefined;
  const zones = (await db.query<{ zone_id: string }>('SELECT DISTINCT zone_id FROM audit_events')).rows.map((r) => r.zone_id);
  let total = 0;
  for (const zone of zones) {
    const client = await db.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [zone]);
      const { rows } = await client.query<EventRow & { occurred_at: string }>(`SELECT ${EVENT_COLUMNS}, occurred_at::text AS occurred_at FROM audit_events WHERE zone_id = $1 ORDER BY chain_seq`, [zone]);
      let prev = '';
      for (const row of rows) {
        const content = contentHash(toEvent(row));
        await client.query('UPDATE audit_events SET content_sha256 = $1, prev_content_sha256 = $2, chain_hmac = $3 WHERE id = $4 AND occurred_at = $5', [
          content,
          prev === '' ? null : prev,
          chainHmac(key, content, prev),
          row.id,
          row.occurred_at,
        ]);
        prev = content;
      }
      await client.query('COMMIT');
      total += rows.length;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
  await db.query('INSERT INTO audit_chain_rehash (id) VALUES (1) ON CONFLICT (id) DO NOTHING');
  return { zones: zones.length, events: total };
}
