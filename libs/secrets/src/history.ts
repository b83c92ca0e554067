import { chmod, link, open, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { SecretsError } from './errors.js';
import { errnoCode, fsyncDir, tempNameFor, unlinkIfPresent } from './fs-util.js';
import { secretIdOf } from './ids.js';
import { assertSecretName } from './names.js';
import { assertPrivateSubdir, ensurePrivateDir } from './safety.js';
import { assertStorableValue } from './value.js';
import {
  assertVersionMeta,
  findStep,
  newestWithKid,
  parseVersion,
  sameStep,
  serializeVersion,
  withoutValue,
  type RecordResult,
  type StoredVersion,
  type VersionInfo,
  type VersionMeta,
} from './versions.js';

/**
 * Version history of each secret, kept for rollback and for the verifier's
 * proof that retired material is refused.
 *
 * Layout (inside the secrets directory):
 *
 *   .history/                       0700, created on demand
 *   .history/<name>/                0700, one folder per secret
 *   .history/<name>/<seq>.json      0400, one file per version
 *
 * - `.history` starts with a dot, which no secret name can (names.ts), so it is
 *   never read, written or listed as a secret, and it is never mounted into
 *   services (docs/architecture.md §8).
 * - `seq`: 1, 2, 3, … zero-padded to 6 digits so `ls` sorts them. Allocated
 *   without locks: each version is written completely to a temp file, then
 *   hard-linked to `<seq>.json`; link(2) fails with EEXIST instead of
 *   overwriting, so two recorders never share a number and no reader sees a
 *   partial file. This only works because the file name is a function of the
 *   number alone, which is why the key id is inside the file and not in its
 *   name. Numbers are dense (a number is only tried once its predecessor
 *   exists, and versions are never deleted), which is what makes the
 *   idempotency below safe without a lock.
 * - contents: JSON `{value, kid, rotationId, phase, recordedAt}` (versions.ts);
 *   `kid` is the store's id of the value (ids.ts secretIdOf) and is re-checked
 *   on read.
 * - idempotency: a (rotationId, phase) step is recorded once per secret. A
 *   recorder looks for its step before each link attempt; a concurrent
 *   recorder of the same step either finds it or loses the race for the same
 *   number and then finds it.
 *
 * Temp files start with a dot and are ignored by every reader here.
 */

export const HISTORY_DIR = '.history';
const VERSION_FILE = /^(\d+)\.json$/;
// Every failed link means another recorder just added a version, so the loop
// always progresses; the cap only guards against a misbehaving filesystem.
const MAX_LINK_ATTEMPTS = 1000;

export class VersionHistory {
  /** `root` is `<secrets dir>/.history`. */
  constructor(readonly root: string) {}

  async record(name: string, value: string, meta: VersionMeta): Promise<RecordResult> {
    assertSecretName(name);
    assertStorableValue(value, `history of ${name}`);
    assertVersionMeta(meta);
    const kid = secretIdOf(value);
    const dir = await this.ensureNameDir(name);
    // Version files never change once linked, so one call may reuse what it read.
    const cache = new Map<number, StoredVersion>();

    const already = findStep(await this.loadAll(name, dir, cache), meta);
    if (already) return sameStep(already, kid);

    const recordedAt = new Date().toISOString();
    const body = serializeVersion(value, kid, meta, recordedAt);
    const temp = path.join(dir, tempNameFor('version'));
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(body, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await chmod(temp, 0o400);

      for (let attempt = 0; attempt < MAX_LINK_ATTEMPTS; attempt++) {
        const versions = await this.loadAll(name, dir, cache);
        const same = findStep(versions, meta);
        if (same) return sameStep(same, kid);

        const seq = (versions.at(-1)?.seq ?? 0) + 1;
        const file = path.join(dir, versionFileName(seq));
        try {
          await link(temp, file);
        } catch (err) {
          if (errnoCode(err) === 'EEXIST') continue;
          throw err;
        }
        await fsyncDir(dir);
        return { name, seq, kid, rotationId: meta.rotationId, phase: meta.phase, recordedAt, location: file, recorded: true };
      }
      throw new SecretsError('history_busy', `could not allocate a version number for ${name} after ${MAX_LINK_ATTEMPTS} attempts`);
    } finally {
      await unlinkIfPresent(temp).catch(() => undefined);
    }
  }

  /** Every version of `name`, oldest first, without values. */
  async list(name: string): Promise<VersionInfo[]> {
    assertSecretName(name);
    const dir = await this.existingNameDir(name);
    if (!dir) return [];
    return (await this.loadAll(name, dir)).map(withoutValue);
  }

  /** The version a (rotationId, phase) step recorded, if any: how a retried writer reuses its material. */
  async find(name: string, meta: VersionMeta): Promise<VersionInfo | undefined> {
    assertSecretName(name);
    assertVersionMeta(meta);
    const dir = await this.existingNameDir(name);
    if (!dir) return undefined;
    const version = findStep(await this.loadAll(name, dir), meta);
    return version && withoutValue(version);
  }

  /** The value of the newest version of `name` with id `kid`, or undefined. */
  async read(name: string, kid: string): Promise<string | undefined> {
    assertSecretName(name);
    const dir = await this.existingNameDir(name);
    if (!dir) return undefined;
    return newestWithKid(await this.loadAll(name, dir), kid);
  }

  /** All versions of one secret by ascending seq; temp and foreign files are skipped. */
  private async loadAll(name: string, dir: string, cache = new Map<number, StoredVersion>()): Promise<StoredVersion[]> {
    const versions: StoredVersion[] = [];
    for (const fileName of await readdir(dir)) {
      const m = VERSION_FILE.exec(fileName);
      if (!m) continue;
      const seq = Number(m[1]);
      let version = cache.get(seq);
      if (!version) {
        version = await loadVersion(name, seq, path.join(dir, fileName));
        cache.set(seq, version);
      }
      versions.push(version);
    }
    return versions.sort((a, b) => a.seq - b.seq);
  }

  private async ensureNameDir(name: string): Promise<string> {
    await ensurePrivateDir(this.root, 'history directory');
    const dir = path.join(this.root, name);
    await ensurePrivateDir(dir, `history directory of ${name}`);
    return dir;
  }

  private async existingNameDir(name: string): Promise<string | undefined> {
    if (!(await assertPrivateSubdir(this.root, 'history directory'))) return undefined;
    const dir = path.join(this.root, name);
    return (await assertPrivateSubdir(dir, `history directory of ${name}`)) ? dir : undefined;
  }
}

async function loadVersion(name: string, seq: number, file: string): Promise<StoredVersion> {
  return parseVersion(await readFile(file, 'utf8'), name, seq, file);
}

function versionFileName(seq: number): string {
  return `${String(seq).padStart(6, '0')}.json`;
}
