import { chmod, open, rename } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir, tempNameFor, unlinkIfPresent } from './fs-util.js';

/**
 * Replaces `dir/fileName` with `content` so that every reader, at every moment
 * and after a crash, sees either the whole old file or the whole new one:
 *
 * 1. create a temp file in the same directory (same filesystem, so the rename
 *    below is atomic) with `wx` (never reuse or follow an existing entry) and
 *    mode 0600 (private while it is still being written);
 * 2. write, fsync (the data is on disk before the name points at it);
 * 3. chmod to `finalMode` (0444 for deployed secrets: read-only for holders);
 * 4. rename over the target (atomic replace; concurrent writers of one name
 *    end with exactly one writer's content);
 * 5. fsync the directory (the rename itself survives a crash).
 *
 * On any failure the temp file is removed.
 */
export async function writeFileAtomic(dir: string, fileName: string, content: string, finalMode: number): Promise<string> {
  const target = path.join(dir, fileName);
  const temp = path.join(dir, tempNameFor(fileName));
  let renamed = false;
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(temp, finalMode);
    await rename(temp, target);
    renamed = true;
    await fsyncDir(dir);
    return target;
  } finally {
    if (!renamed) await unlinkIfPresent(temp).catch(() => undefined);
  }
}
