import { readFileSync } from 'node:fs';

/**
 * How Caracal's services read a secret: `KEY` from the environment, else the
 * file named by `KEY_FILE`, read once at process start; the `_FILE` variable
 * is then removed. A missing or empty file is fatal.
 */

/** packages/core/go/config/config.go ResolveFileSecrets (Go services). Throws GoPanic. */
export function resolveGoFileSecrets(keys: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  for (const key of keys) {
    if (env[key]) continue;
    const fileVar = `${key}_FILE`;
    const path = env[fileVar];
    if (!path) continue;
    let raw: string;
    try {
      raw = readFileSync(path, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const reason = e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.message;
      throw new GoPanic(`read secret file ${fileVar}=${path}: open ${path}: ${reason}`);
    }
    const value = raw.replace(/[ \t\r\n]+$/, '');
    if (!value) throw new GoPanic(`secret file empty: ${fileVar}=${path}`);
    env[key] = value;
    delete env[fileVar];
  }
}

/** packages/serverCore/ts/src/config.ts resolveFileSecrets (Node services). */
export function resolveTsFileSecrets(keys: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  for (const key of keys) {
    if (env[key]) continue;
    const fileVar = `${key}_FILE`;
    const path = env[fileVar];
    if (!path) continue;
    const value = readFileSync(path, 'utf8').replace(/\s+$/, '');
    if (!value) throw new Error(`Secret file empty: ${fileVar}=${path}`);
    env[key] = value;
    delete env[fileVar];
  }
}

/** A Go panic: the process prints `panic: <message>` and exits with status 2. */
export class GoPanic extends Error {}

/** Ends the process the way the Go runtime does on an unrecovered panic. */
export function exitLikeGoPanic(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`panic: ${message}\n\ngoroutine 1 [running]:\nmain.main()\n`);
  process.exit(2);
}
