import { randomBytes } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';

/** The errno code of a Node fs error (`ENOENT`, `EEXIST`, …), if it has one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/**
 * Makes a rename, link or unlink inside `dir` durable. Without it a crash right
 * after the rename can bring back the old directory entry, i.e. the old secret,
 * after the rotation was already reported as written.
 */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Removes a file if it exists; used for temp files on the way out. */
export async function unlinkIfPresent(file: string): Promise<boolean> {
  try {
    await unlink(file);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/**
 * A temp-file name next to `finalName`. The leading dot keeps it from ever
 * matching a secret name, so a crash leftover is never read as a secret; the
 * random part keeps concurrent writers from colliding.
 */
export function tempNameFor(finalName: string): string {
  return `.${finalName}.${randomBytes(8).toString('hex')}.tmp`;
}
