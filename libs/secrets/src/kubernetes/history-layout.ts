import { parseRecord, type StoredRotationRecord } from '../records.js';
import { parseVersion, type StoredVersion } from '../versions.js';

/**
 * How the version history and the rotation records sit in the keys of the
 * history Secret (Secret keys allow `[-._a-zA-Z0-9]`; secret names and
 * rotation ids contain no dot, so the keys cannot be confused):
 *
 *   version.<name>.<seq>     JSON {value, kid, rotationId, phase, recordedAt} (versions.ts), seq zero-padded to 6
 *   rotation.<rotationId>    JSON {rotationId, revision, updatedAt, state} (records.ts)
 *
 * Pure functions over the Secret's decoded data: the store reads the Secret,
 * plans its changes with these, and writes them in one compare-and-swap.
 */

const VERSION_KEY = /^version\.([A-Za-z][A-Za-z0-9]*)\.(\d+)$/;
const RECORD_PREFIX = 'rotation.';

export function versionKey(name: string, seq: number): string {
  return `version.${name}.${String(seq).padStart(6, '0')}`;
}

export function recordKey(rotationId: string): string {
  return `${RECORD_PREFIX}${rotationId}`;
}

/** Every version of `name`, oldest first. */
export function versionsIn(data: ReadonlyMap<string, string>, name: string, locate: (key: string) => string): StoredVersion[] {
  const versions: StoredVersion[] = [];
  for (const [key, text] of data) {
    const m = VERSION_KEY.exec(key);
    if (!m || m[1] !== name) continue;
    versions.push(parseVersion(text, name, Number(m[2]), locate(key)));
  }
  return versions.sort((a, b) => a.seq - b.seq);
}

/** The oldest versions beyond `keep`, which the next write deletes. */
export function excessVersionKeys(versions: readonly StoredVersion[], keep: number): string[] {
  return versions.slice(0, Math.max(0, versions.length - keep)).map((v) => versionKey(v.name, v.seq));
}

export function recordIn(data: ReadonlyMap<string, string>, rotationId: string, locate: (key: string) => string): StoredRotationRecord | undefined {
  const key = recordKey(rotationId);
  const text = data.get(key);
  return text === undefined ? undefined : parseRecord(text, rotationId, locate(key));
}

/**
 * Keys of the records last written before `olderThan` (ms since the epoch).
 * A record that does not parse is left alone: deleting what one cannot read
 * would hide the problem.
 */
export function staleRecordKeys(data: ReadonlyMap<string, string>, olderThan: number, locate: (key: string) => string): string[] {
  const stale: string[] = [];
  for (const key of data.keys()) {
    if (!key.startsWith(RECORD_PREFIX)) continue;
    try {
      const record = parseRecord(data.get(key)!, key.slice(RECORD_PREFIX.length), locate(key));
      if (Date.parse(record.updatedAt) < olderThan) stale.push(key);
    } catch {
      // corrupt: reported when it is read, never silently dropped
    }
  }
  return stale;
}

/** Bytes of data the Secret would hold after `changes` (what the API server's 1 MiB limit counts). */
export function sizeAfter(data: ReadonlyMap<string, string>, changes: ReadonlyMap<string, string | null>): number {
  let total = 0;
  for (const [key, value] of data) if (!changes.has(key)) total += Buffer.byteLength(value, 'utf8');
  for (const value of changes.values()) if (value !== null) total += Buffer.byteLength(value, 'utf8');
  return total;
}
