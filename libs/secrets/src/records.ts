import { SecretsError } from './errors.js';

/**
 * Rotation records: the secret-writer's durable note of how far each rotation
 * got, which lets it refuse a step that does not follow the recorded state
 * (a replayed `planned` after `retire`, a `rollback` of a rotation that never
 * wrote). They live beside the version history, not in Redis, so that losing
 * or flushing Redis cannot make an old step act again.
 *
 * A record is a small JSON document of the writer's choosing. It must never
 * hold a secret value (key ids, fingerprints and locations only): records are
 * read back into logs and error messages.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface RotationRecord {
  rotationId: string;
  /** The writer's state of the rotation; no secret values. */
  state: { [key: string]: JsonValue };
}

export interface StoredRotationRecord extends RotationRecord {
  /** 1 for the first write, one more for each later write: what writeRecord's expectedRevision is compared with. */
  revision: number;
  /** When this revision was written (RFC 3339); pruneRecords compares it. */
  updatedAt: string;
}

/** Rotation ids are UUIDs on the wire; the rule also keeps them safe as file names and Secret keys. */
export const ROTATION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** Largest serialized record. Records share a 1 MiB Kubernetes Secret with the version history. */
export const MAX_RECORD_BYTES = 16 * 1024;

/**
 * writeRecord found the record at another revision than the caller expected:
 * another writer moved it on (or created it) since the caller read it. The
 * caller re-reads and decides again; it never overwrites.
 */
export class RecordConflictError extends SecretsError {
  override readonly name: string = 'RecordConflictError';
  declare readonly code: 'record_conflict';

  constructor(
    readonly rotationId: string,
    readonly expectedRevision: number,
    readonly actualRevision: number,
  ) {
    super(
      'record_conflict',
      actualRevision === 0
        ? `the record of rotation ${rotationId} does not exist; expected revision ${expectedRevision}`
        : `the record of rotation ${rotationId} is at revision ${actualRevision}, not the expected ${expectedRevision}; re-read it and decide again`,
    );
  }
}

export function assertRotationId(rotationId: string): void {
  // The id is not echoed: a swapped argument could be anything.
  if (typeof rotationId !== 'string' || !ROTATION_ID_PATTERN.test(rotationId)) {
    throw new SecretsError('invalid_argument', `rotation id must match ${ROTATION_ID_PATTERN.source}`);
  }
}

export function assertExpectedRevision(expected: number): void {
  if (!Number.isSafeInteger(expected) || expected < 0) {
    throw new SecretsError('invalid_argument', `expected revision must be a non-negative integer (0: the record must not exist yet)`);
  }
}

export function assertOlderThan(olderThan: Date): void {
  if (!(olderThan instanceof Date) || Number.isNaN(olderThan.getTime())) {
    throw new SecretsError('invalid_argument', 'pruneRecords needs a valid Date');
  }
}

/** The next revision of a record, serialized; checks the record's shape and size. */
export function nextRevision(record: RotationRecord, expectedRevision: number, now: Date): { stored: StoredRotationRecord; text: string } {
  assertRotationId(record?.rotationId);
  assertExpectedRevision(expectedRevision);
  const state: unknown = record.state;
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw new SecretsError('invalid_argument', `the record of rotation ${record.rotationId}: state must be a JSON object`);
  }
  const stored: StoredRotationRecord = {
    rotationId: record.rotationId,
    revision: expectedRevision + 1,
    updatedAt: now.toISOString(),
    state: record.state,
  };
  let text: string;
  try {
    text = JSON.stringify(stored);
  } catch {
    throw new SecretsError('invalid_argument', `the record of rotation ${record.rotationId}: state is not JSON (a cycle or a BigInt)`);
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_RECORD_BYTES) {
    throw new SecretsError('invalid_argument', `the record of rotation ${record.rotationId} is ${bytes} bytes; at most ${MAX_RECORD_BYTES} are allowed`);
  }
  // Round-trip so the caller gets exactly what a later read returns (undefined fields dropped).
  return { stored: JSON.parse(text) as StoredRotationRecord, text };
}

/** Parses one stored revision; `location` names it in errors. */
export function parseRecord(text: string, rotationId: string, location: string): StoredRotationRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SecretsError('record_corrupt', `rotation record ${location} is not valid JSON`);
  }
  const r = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (
    r.rotationId !== rotationId ||
    !Number.isSafeInteger(r.revision) ||
    (r.revision as number) < 1 ||
    typeof r.updatedAt !== 'string' ||
    Number.isNaN(Date.parse(r.updatedAt)) ||
    typeof r.state !== 'object' ||
    r.state === null ||
    Array.isArray(r.state)
  ) {
    throw new SecretsError('record_corrupt', `rotation record ${location} lacks a valid rotationId, revision, updatedAt or state`);
  }
  return r as unknown as StoredRotationRecord;
}
