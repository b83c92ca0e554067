import { randomBytes } from 'node:crypto';
import { chmod, link, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { SecretsError } from './errors.js';
import { errnoCode, fsyncDir, tempNameFor, unlinkIfPresent } from './fs-util.js';
import {
  RecordConflictError,
  assertOlderThan,
  assertRotationId,
  nextRevision,
  parseRecord,
  type RotationRecord,
  type StoredRotationRecord,
} from './records.js';
import { assertPrivateSubdir, ensurePrivateDir } from './safety.js';

/**
 * Rotation records on disk, with compare-and-swap across processes:
 *
 *   .history/rotation-records/                     0700
 *   .history/rotation-records/<rotationId>/        0700, one folder per rotation
 *   .history/rotation-records/<rotationId>/<rev>.json   0400, one file per revision
 *
 * A revision is written completely to a temp file, fsynced, then hard-linked
 * to `<rev>.json`: link(2) fails with EEXIST instead of replacing, so of two
 * writers that read the same revision exactly one creates the next one, and a
 * crash leaves either no new revision or a whole one (no lock to go stale).
 * The record is its highest revision; revisions are never deleted one by one,
 * so a number once taken stays taken. A single file replaced by rename could
 * not give this: the check of its revision and the rename are two steps.
 *
 * `rotation-records` has a dash, which no secret name can (names.ts), so it
 * never collides with a secret's version folder.
 */
export const RECORDS_DIR = 'rotation-records';
const REVISION_FILE = /^(\d+)\.json$/;

export class FileRotationRecords {
  private readonly dir: string;

  /** `historyRoot` is `<secrets dir>/.history`. */
  constructor(private readonly historyRoot: string) {
    this.dir = path.join(historyRoot, RECORDS_DIR);
  }

  locationOf(rotationId: string, revision: number): string {
    return path.join(this.dir, rotationId, revisionFileName(revision));
  }

  async read(rotationId: string): Promise<StoredRotationRecord | undefined> {
    assertRotationId(rotationId);
    const dir = await this.existingRecordDir(rotationId);
    return dir === undefined ? undefined : this.latest(rotationId, dir);
  }

  async write(record: RotationRecord, expectedRevision = 0, now = new Date()): Promise<StoredRotationRecord> {
    const { stored, text } = nextRevision(record, expectedRevision, now);
    const { rotationId } = stored;
    const current = await this.read(rotationId);
    if ((current?.revision ?? 0) !== expectedRevision) throw new RecordConflictError(rotationId, expectedRevision, current?.revision ?? 0);

    await ensurePrivateDir(this.historyRoot, 'history directory');
    await ensurePrivateDir(this.dir, 'rotation records directory');
    const dir = path.join(this.dir, rotationId);
    await ensurePrivateDir(dir, `record directory of rotation ${rotationId}`);

    const temp = path.join(dir, tempNameFor('revision'));
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await chmod(temp, 0o400);
      try {
        await link(temp, path.join(dir, revisionFileName(stored.revision)));
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
        // Another writer took this revision between our read and our link.
        throw new RecordConflictError(rotationId, expectedRevision, (await this.read(rotationId))?.revision ?? 0);
      }
      await fsyncDir(dir);
      return stored;
    } finally {
      await unlinkIfPresent(temp).catch(() => undefined);
    }
  }

  /**
   * Removes every record whose latest revision is older than `olderThan`.
   * A folder is first renamed to a dot-name (atomic; readers skip it), then
   * deleted, so a reader never sees half a record.
   */
  async prune(olderThan: Date): Promise<number> {
    assertOlderThan(olderThan);
    if (!(await assertPrivateSubdir(this.historyRoot, 'history directory'))) return 0;
    if (!(await assertPrivateSubdir(this.dir, 'rotation records directory'))) return 0;
    let pruned = 0;
    for (const entry of await readdir(this.dir)) {
      if (entry.startsWith('.')) continue;
      const record = await this.read(entry).catch(() => undefined);
      if (!record || Date.parse(record.updatedAt) >= olderThan.getTime()) continue;
      const doomed = path.join(this.dir, `.${entry}.${randomBytes(6).toString('hex')}.pruned`);
      try {
        await rename(path.join(this.dir, entry), doomed);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') continue; // another pruner got there first
        throw err;
      }
      await rm(doomed, { recursive: true, force: true });
      pruned++;
    }
    if (pruned > 0) await fsyncDir(this.dir);
    return pruned;
  }

  private async existingRecordDir(rotationId: string): Promise<string | undefined> {
    if (!(await assertPrivateSubdir(this.historyRoot, 'history directory'))) return undefined;
    if (!(await assertPrivateSubdir(this.dir, 'rotation records directory'))) return undefined;
    const dir = path.join(this.dir, rotationId);
    return (await assertPrivateSubdir(dir, `record directory of rotation ${rotationId}`)) ? dir : undefined;
  }

  private async latest(rotationId: string, dir: string): Promise<StoredRotationRecord | undefined> {
    let top = 0;
    let topName = '';
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined; // pruned meanwhile
      throw err;
    }
    for (const name of entries) {
      const m = REVISION_FILE.exec(name);
      if (m && Number(m[1]) > top) {
        top = Number(m[1]);
        topName = name;
      }
    }
    if (top === 0) return undefined;
    const file = path.join(dir, topName);
    const record = parseRecord(await readFile(file, 'utf8'), rotationId, file);
    if (record.revision !== top) throw new SecretsError('record_corrupt', `rotation record ${file} holds revision ${record.revision}, not ${top}`);
    return record;
  }
}

function revisionFileName(revision: number): string {
  return `${String(revision).padStart(6, '0')}.json`;
}
