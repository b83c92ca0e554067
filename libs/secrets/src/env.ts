import { readFileSync } from 'node:fs';
import { SecretsError } from './errors.js';
import { errnoCode } from './fs-util.js';

/**
 * Resolves a secret the way Caracal's services do: the value of `NAME`, or the
 * contents of the file named by `NAME_FILE` (the form used with mounted
 * secrets). Returns undefined when neither is set.
 *
 * - An empty variable counts as unset.
 * - Setting both is an error: silently preferring one would hide a
 *   half-finished migration between the two styles.
 * - Trailing newlines of the file are stripped (editors and `echo` add them);
 *   a file that is empty after that is an error, as it is fatal in Caracal.
 * - Errors name the variable and the path, never the value.
 *
 * Synchronous on purpose: it runs once at start, before anything else needs
 * the event loop, like Caracal's config loaders.
 */
export function readSecretFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fileVar = `${name}_FILE`;
  const direct = nonEmpty(env[name]);
  const file = nonEmpty(env[fileVar]);

  if (direct !== undefined && file !== undefined) {
    throw new SecretsError('env_conflict', `both ${name} and ${fileVar} are set; set only one of them`);
  }
  if (direct !== undefined) return direct;
  if (file === undefined) return undefined;

  let contents: string;
  try {
    contents = readFileSync(file, 'utf8');
  } catch (err) {
    // Rebuilt rather than rethrown so the message says which variable to fix.
    const errno = errnoCode(err);
    if (errno === 'ENOENT') {
      throw new SecretsError('secret_file_missing', `${fileVar} names ${file}, which does not exist`);
    }
    throw new SecretsError('secret_file_unreadable', `${fileVar} names ${file}, which cannot be read (${errno ?? 'unknown error'})`);
  }

  const value = contents.replace(/(?:\r?\n)+$/, '');
  if (value.length === 0) {
    throw new SecretsError('secret_file_empty', `${fileVar} names ${file}, which is empty`);
  }
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
