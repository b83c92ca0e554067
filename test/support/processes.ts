import { readdir, readFile } from 'node:fs/promises';

export interface ProcessInfo {
  pid: number;
  /** argv, split. */
  argv: string[];
  /** `NAME=value` entries of its environment. */
  environ: string[];
}

/**
 * Processes of this machine's user that `match` accepts, from /proc. Tests
 * share the machine, so a match must name something only the test's own
 * processes have (its temporary directories).
 */
export async function processesWhere(match: (p: ProcessInfo) => boolean): Promise<ProcessInfo[]> {
  const out: ProcessInfo[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      const environ = (await readFile(`/proc/${entry}/environ`, 'utf8')).split('\0').filter(Boolean);
      const info = { pid: Number(entry), argv, environ };
      if (match(info)) out.push(info);
    } catch {
      // Ended while we looked, or not ours to read.
    }
  }
  return out;
}
