import type { Stats } from 'node:fs';
import { chmod, lstat, mkdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UnsafeSecretsDirError } from './errors.js';
import { errnoCode } from './fs-util.js';

/** Bits that give the group or others any access at all. */
const GROUP_OR_OTHER = 0o077;

/**
 * Refuses a secrets directory the writer must not use (docs/architecture.md §8):
 *
 * - any group or world permission bit: other local users could read the keys,
 *   or swap files under the services;
 * - a directory inside a configured agent workspace root: agents can read
 *   their workspace, so secrets there are exposed to them. Compared on real
 *   paths, so a symlink cannot smuggle the store into a workspace (or a
 *   symlinked workspace root hide it);
 * - a directory owned by another user: that user can change its mode or
 *   contents at any time, so the two checks above would mean nothing.
 *
 * Returns the real path of the directory.
 */
export async function assertSafeSecretsDir(dir: string, workspaceRoots: readonly string[] = []): Promise<string> {
  let real: string;
  try {
    real = await realpath(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new UnsafeSecretsDirError('missing', dir, `secrets directory ${dir} does not exist; create it with mode 0700 (mkdir -m 700 -p ${dir})`);
    }
    throw err;
  }

  assertPrivateDir(await stat(real), real, 'secrets directory');

  for (const root of workspaceRoots) {
    const realRoot = await realpathOrResolved(root);
    if (isWithin(realRoot, real)) {
      throw new UnsafeSecretsDirError(
        'inside_workspace',
        real,
        `secrets directory ${real} lies inside the agent workspace root ${realRoot}, where agents can read it; set CARACAL_SECRETS_DIR to a directory outside every workspace`,
      );
    }
  }

  return real;
}

/**
 * Checks a directory the store keeps private (the secrets directory itself,
 * `.history` and its per-secret folders): a real directory, no group or world
 * bits, owned by us. `what` names it in the message.
 */
export function assertPrivateDir(info: Stats, dir: string, what: string): void {
  if (!info.isDirectory()) {
    throw new UnsafeSecretsDirError('not_directory', dir, `${what} ${dir} is not a directory`);
  }

  if ((info.mode & GROUP_OR_OTHER) !== 0) {
    throw new UnsafeSecretsDirError(
      'permissions',
      dir,
      `${what} ${dir} has mode ${octal(info.mode & 0o777)}, which gives group or others access; run: chmod 700 ${dir}`,
    );
  }

  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new UnsafeSecretsDirError(
      'owner',
      dir,
      `${what} ${dir} is owned by uid ${info.uid}, not by this process (uid ${uid}); run: chown ${uid} ${dir}, or run the writer as its owner`,
    );
  }
}

/**
 * Like assertPrivateDir for a subdirectory the store created itself, which
 * must not be a symlink either: a planted link would redirect history writes
 * (values included) anywhere. Returns false when it does not exist.
 */
export async function assertPrivateSubdir(dir: string, what: string): Promise<boolean> {
  let info: Stats;
  try {
    info = await lstat(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
  if (info.isSymbolicLink()) {
    throw new UnsafeSecretsDirError('not_directory', dir, `${what} ${dir} is a symlink; remove it so the store can create a private directory`);
  }
  assertPrivateDir(info, dir, what);
  return true;
}

/** Creates `dir` with mode 0700 if missing, then checks it (also when it already existed). */
export async function ensurePrivateDir(dir: string, what: string): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o700 });
    // The umask may have removed bits we need; it can never have added any.
    await chmod(dir, 0o700);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
  }
  await assertPrivateSubdir(dir, what);
}

/**
 * True when `child` is `parent` or below it, by whole path segments:
 * `/ws` contains `/ws/a` but not `/ws2`.
 */
export function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  if (rel === '') return true;
  return rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/** A root that does not exist yet cannot hide behind a symlink; compare it as written. */
async function realpathOrResolved(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return path.resolve(p);
    throw err;
  }
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}
