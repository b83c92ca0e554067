import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Every file under `dirs` (hidden ones and the private `.history` included)
 * with its content: equal snapshots mean nothing was written there.
 */
export async function snapshotFiles(...dirs: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) out[path] = await readFile(path, 'utf8');
    }
  };
  for (const dir of dirs) await walk(dir);
  return out;
}
