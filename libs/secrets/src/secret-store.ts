import type { RotationRecord, StoredRotationRecord } from './records.js';
import type { RecordResult, VersionInfo, VersionMeta } from './versions.js';

/** What a write reports: where the secret now lives and its id; never the value. */
export interface WriteResult {
  /** A file path, or `secret/<namespace>/<name>#<key>`. */
  location: string;
  /** keyIdOf for hex values, a `sha256:` fingerprint otherwise (ids.ts secretIdOf). */
  kid: string;
}

/**
 * Where Caracal's secrets live, as the writers and checks see it: files in a
 * private directory (FileSecretStore) or the keys of a Kubernetes Secret
 * (KubernetesSecretStore). Chosen by configuration (createSecretStore).
 *
 * Names are Caracal's (`streamsHmacKey`, `apiDbPassword`; names.ts). Nothing
 * returned or thrown carries a secret value, except read and readVersion.
 */
export interface SecretStore {
  readonly kind: 'files' | 'kubernetes';

  /** A printable location of a secret for events, logs and the projection; never a value. */
  location(name: string): string;

  /** Creates what the store itself owns when missing (the directory; the history Secret), then assertSafe. */
  ensureReady(): Promise<void>;
  /** Throws a SecretsError with code `unsafe_store` (or the store's access error) when the store must not be written. */
  assertSafe(): Promise<void>;

  /** The current value, or undefined when the secret does not exist. A trailing newline is dropped. */
  read(name: string): Promise<string | undefined>;
  /** Replaces the secret atomically: every reader sees the whole old or the whole new value. */
  write(name: string, value: string): Promise<WriteResult>;
  /** Removes the secret; removing an absent one succeeds (retries are normal). */
  remove(name: string): Promise<void>;

  /** Appends a version to the history, once per (rotationId, phase, name); a different value for a recorded step is `history_conflict`. */
  recordVersion(name: string, value: string, meta: VersionMeta): Promise<RecordResult>;
  /** The recorded versions of a secret, oldest first, without values. */
  listVersions(name: string): Promise<VersionInfo[]>;
  /** The version a (rotationId, phase) step recorded, if any, without its value. */
  findVersion(name: string, meta: VersionMeta): Promise<VersionInfo | undefined>;
  /** The value of the newest recorded version with id `kid`; undefined when there is none. */
  readVersion(name: string, kid: string): Promise<string | undefined>;

  /** The latest revision of a rotation's record, or undefined. */
  readRecord(rotationId: string): Promise<StoredRotationRecord | undefined>;
  /**
   * Writes the next revision of a rotation's record if, and only if, the
   * record is at `expectedRevision` (0, the default: it must not exist yet).
   * Otherwise throws RecordConflictError and changes nothing. Durable when it
   * returns.
   */
  writeRecord(record: RotationRecord, expectedRevision?: number): Promise<StoredRotationRecord>;
  /** Deletes the records last written before `olderThan`; returns how many. */
  pruneRecords(olderThan: Date): Promise<number>;
}
