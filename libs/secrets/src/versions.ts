import { SecretsError } from './errors.js';
import { secretIdOf } from './ids.js';

/**
 * The version history's model, shared by every store: what a version is, how
 * it is serialized, and the rule that makes recording a step idempotent. The
 * stores differ only in where the serialized versions live.
 */

export interface VersionMeta {
  rotationId: string;
  phase: string;
}

/** A recorded version, without its value: safe to log and to return to callers. */
export interface VersionInfo {
  name: string;
  seq: number;
  kid: string;
  rotationId: string;
  phase: string;
  recordedAt: string;
  /** Where the version lives, for audit ("where the old secret can be found"): a file path or `secret/<ns>/<name>#<key>`. */
  location: string;
}

export interface RecordResult extends VersionInfo {
  /** False when this (rotationId, phase) was already recorded and nothing was written. */
  recorded: boolean;
}

/** A version as stored, value included; never leaves a store except through readVersion. */
export interface StoredVersion extends VersionInfo {
  value: string;
}

const MAX_META_LENGTH = 200;

export function assertVersionMeta(meta: VersionMeta): void {
  for (const field of ['rotationId', 'phase'] as const) {
    const v: unknown = meta?.[field];
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_META_LENGTH) {
      throw new SecretsError('invalid_argument', `version ${field} must be a non-empty string of at most ${MAX_META_LENGTH} characters`);
    }
  }
}

/** The serialized form of a version: what a file or a Secret key holds. */
export function serializeVersion(value: string, kid: string, meta: VersionMeta, recordedAt: string): string {
  return JSON.stringify({ value, kid, rotationId: meta.rotationId, phase: meta.phase, recordedAt });
}

/**
 * Parses and checks one serialized version. JSON.parse errors quote their
 * input, which here is the secret, so they are replaced, never wrapped.
 * `location` names it in errors.
 */
export function parseVersion(text: string, name: string, seq: number, location: string): StoredVersion {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SecretsError('history_corrupt', `history entry ${location} is not valid JSON`);
  }
  const { value, kid, rotationId, phase, recordedAt } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (
    typeof value !== 'string' ||
    typeof kid !== 'string' ||
    typeof rotationId !== 'string' ||
    typeof phase !== 'string' ||
    typeof recordedAt !== 'string'
  ) {
    throw new SecretsError('history_corrupt', `history entry ${location} lacks one of value, kid, rotationId, phase, recordedAt`);
  }
  // A value that does not hash to its recorded id would roll back to the
  // wrong material; refuse it rather than trust the entry.
  if (secretIdOf(value) !== kid) {
    throw new SecretsError('history_corrupt', `history entry ${location} holds a value whose id does not match its recorded id ${kid}`);
  }
  return { name, seq, kid, rotationId, phase, recordedAt, location, value };
}

export function findStep<V extends VersionInfo>(versions: readonly V[], meta: VersionMeta): V | undefined {
  return versions.find((v) => v.rotationId === meta.rotationId && v.phase === meta.phase);
}

/** A step seen twice: fine when it recorded the same value, a writer bug otherwise. */
export function sameStep(existing: StoredVersion, kid: string): RecordResult {
  if (existing.kid !== kid) {
    throw new SecretsError(
      'history_conflict',
      `history of ${existing.name} already holds version ${existing.kid} for rotation ${existing.rotationId} phase ${existing.phase}; ` +
        `refusing to record a different value (${kid}) for the same step. A retried writer must reuse the recorded value (findVersion, readVersion)`,
    );
  }
  return { ...withoutValue(existing), recorded: false };
}

export function withoutValue(version: StoredVersion): VersionInfo {
  const { value: _value, ...info } = version;
  return info;
}

/** The value of the newest version with id `kid`: a value recorded again (a rollback) is found by its latest record. */
export function newestWithKid(versions: readonly StoredVersion[], kid: string): string | undefined {
  return versions.filter((v) => v.kid === kid).at(-1)?.value;
}
