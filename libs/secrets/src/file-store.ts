import { chmod, mkdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { errnoCode, fsyncDir } from './fs-util.js';
import { FileRotationRecords } from './file-records.js';
import { HISTORY_DIR, VersionHistory } from './history.js';
import { secretIdOf } from './ids.js';
import { assertSecretName, previousName } from './names.js';
import type { RotationRecord, StoredRotationRecord } from './records.js';
import { assertSafeSecretsDir } from './safety.js';
import type { SecretStore, WriteResult } from './secret-store.js';
import { assertStorableValue } from './value.js';
import type { RecordResult, VersionInfo, VersionMeta } from './versions.js';

export interface FileSecretStoreOptions {
  /** The secrets directory (see resolveSecretsDir). */
  dir: string;
  /** Agent workspace roots the directory must not lie in. */
  workspaceRoots?: string[];
}

/** Mode of a deployed secret: holders read it, nobody edits it in place. */
export const SECRET_FILE_MODE = 0o444;

/** A write to the file store also says which file it replaced. */
export interface FileWriteResult extends WriteResult {
  /** The secret's file; the same as `location`. */
  path: string;
}

/**
 * The file-backed secret store (docs/architecture.md §8): one file per
 * secret, named as Caracal names it, in a private directory, replaced
 * atomically; plus the version history for rollback and the secret-writer's
 * rotation records, both in the private `.history` subdirectory.
 *
 * Every mutating call re-checks the directory (assertSafe): a stat and a
 * realpath are cheap next to a rotation, and a directory loosened after start
 * must stop the writer before it puts a new secret there. Reads do not check,
 * because the verifier reads with a read-only view of the same directory.
 */
export class FileSecretStore implements SecretStore {
  readonly kind = 'files' as const;
  readonly dir: string;
  readonly workspaceRoots: readonly string[];
  private readonly history: VersionHistory;
  private readonly records: FileRotationRecords;

  constructor(opts: FileSecretStoreOptions) {
    this.dir = path.resolve(opts.dir);
    this.workspaceRoots = [...(opts.workspaceRoots ?? [])];
    this.history = new VersionHistory(path.join(this.dir, HISTORY_DIR));
    this.records = new FileRotationRecords(path.join(this.dir, HISTORY_DIR));
  }

  async ensureReady(): Promise<void> {
    await this.ensureDir();
  }

  /** Creates the directory (0700, with parents) when missing, then checks it. */
  async ensureDir(): Promise<void> {
    const created = await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // Only a directory we just made is chmod'ed: an existing loose one is the
    // operator's to fix, and assertSafe says how.
    if (created !== undefined) await chmod(this.dir, 0o700);
    await this.assertSafe();
  }

  /** Throws UnsafeSecretsDirError unless the directory is private, ours and outside every workspace. */
  async assertSafe(): Promise<void> {
    await assertSafeSecretsDir(this.dir, this.workspaceRoots);
  }

  pathOf(name: string): string {
    assertSecretName(name);
    return path.join(this.dir, name);
  }

  /** The secret's file path. */
  location(name: string): string {
    return this.pathOf(name);
  }

  /** `streamsHmacKey` → `streamsHmacKeyPrevious`, the overlap-window file. */
  previousName(name: string): string {
    return previousName(name);
  }

  /**
   * The secret's value, or undefined when the file is absent. A trailing
   * newline (a hand-edited file) is dropped, as Caracal's readers do.
   */
  async read(name: string): Promise<string | undefined> {
    const file = this.pathOf(name);
    try {
      return (await readFile(file, 'utf8')).replace(/(?:\r?\n)+$/, '');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * Atomically replaces the secret (see writeFileAtomic) and returns where it
   * lives and its id, which is what events and the projection record.
   */
  async write(name: string, value: string): Promise<FileWriteResult> {
    assertSecretName(name);
    assertStorableValue(value, name);
    await this.assertSafe();
    const file = await writeFileAtomic(this.dir, name, value, SECRET_FILE_MODE);
    return { location: file, path: file, kid: secretIdOf(value) };
  }

  /** Removes the secret if present; removing an absent secret succeeds (retries are normal). */
  async remove(name: string): Promise<void> {
    const file = this.pathOf(name);
    await this.assertSafe();
    try {
      await unlink(file);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    // Also on ENOENT: a retry after a crash between unlink and fsync must
    // still make the removal durable.
    await fsyncDir(this.dir);
  }

  /** Appends a version to the history; once per (rotationId, phase, name). */
  async recordVersion(name: string, value: string, meta: VersionMeta): Promise<RecordResult> {
    assertSecretName(name);
    assertStorableValue(value, `history of ${name}`);
    await this.assertSafe();
    return this.history.record(name, value, meta);
  }

  /** The recorded versions of a secret, oldest first, without values. */
  async listVersions(name: string): Promise<VersionInfo[]> {
    return this.history.list(name);
  }

  /** The version a (rotationId, phase) step recorded, if any, without its value. */
  async findVersion(name: string, meta: VersionMeta): Promise<VersionInfo | undefined> {
    return this.history.find(name, meta);
  }

  /** The value of a recorded version, by id; undefined when there is none. */
  async readVersion(name: string, kid: string): Promise<string | undefined> {
    return this.history.read(name, kid);
  }

  async readRecord(rotationId: string): Promise<StoredRotationRecord | undefined> {
    return this.records.read(rotationId);
  }

  async writeRecord(record: RotationRecord, expectedRevision = 0): Promise<StoredRotationRecord> {
    await this.assertSafe();
    return this.records.write(record, expectedRevision);
  }

  async pruneRecords(olderThan: Date): Promise<number> {
    await this.assertSafe();
    return this.records.prune(olderThan);
  }
}
