import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

/**
 * What the secret-writer has written, without keeping any value: a
 * fingerprint and mode per secret file, and the paths of every history
 * version and rotation record under `.history`.
 */
export interface SecretsSnapshot {
  files: Record<string, { sha256: string; mode: number }>;
  history: string[];
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else out.push(path);
  }
  return out;
}

export async function snapshotSecrets(secretsDir: string): Promise<SecretsSnapshot> {
  const files: SecretsSnapshot['files'] = {};
  for (const entry of await readdir(secretsDir, { withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith('.')) continue;
    const path = join(secretsDir, entry.name);
    files[entry.name] = { sha256: createHash('sha256').update(await readFile(path)).digest('hex'), mode: (await stat(path)).mode & 0o777 };
  }
  const history = (await walk(join(secretsDir, '.history'))).map((p) => relative(secretsDir, p)).sort();
  return { files, history };
}

/** Secret files whose content or mode changed, appeared or vanished, and history entries added or removed. */
export function secretsChanges(before: SecretsSnapshot, after: SecretsSnapshot): { files: string[]; history: string[] } {
  const names = new Set([...Object.keys(before.files), ...Object.keys(after.files)]);
  const files = [...names].filter((n) => before.files[n]?.sha256 !== after.files[n]?.sha256 || before.files[n]?.mode !== after.files[n]?.mode).sort();
  const b = new Set(before.history);
  const a = new Set(after.history);
  const history = [...after.history.filter((h) => !b.has(h)).map((h) => `+${h}`), ...before.history.filter((h) => !a.has(h)).map((h) => `-${h}`)];
  return { files, history };
}
