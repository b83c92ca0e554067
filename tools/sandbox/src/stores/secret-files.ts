import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Deployed secret files: holders read them, nobody edits them in place. */
export const SECRET_FILE_MODE = 0o444;
const DIR_MODE = 0o700;
const NAME = /^[A-Za-z][A-Za-z0-9]*$/;

function assertName(name: string): void {
  if (!NAME.test(name)) throw new Error('secret file names are camelCase letters and digits');
}

/** Creates the secrets directory (0700) when missing. */
export async function ensureSecretsDir(dir: string): Promise<void> {
  const created = await fs.mkdir(dir, { recursive: true, mode: DIR_MODE });
  if (created !== undefined) await fs.chmod(dir, DIR_MODE);
}

async function writeTemp(dir: string, name: string, value: string): Promise<string> {
  const temp = path.join(dir, `.${name}.tmp-${randomBytes(6).toString('hex')}`);
  const handle = await fs.open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(value, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.chmod(temp, SECRET_FILE_MODE);
  return temp;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads a secret file (trailing newlines dropped, as Caracal does); undefined when absent. */
export async function readSecret(dir: string, name: string): Promise<string | undefined> {
  assertName(name);
  try {
    return (await fs.readFile(path.join(dir, name), 'utf8')).replace(/(?:\r?\n)+$/, '');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Writes `value` unless the file exists, then returns what the file holds.
 * The temp file is hard-linked to the final name: link(2) fails with EEXIST
 * instead of replacing, so a file written concurrently (by the secret-writer)
 * always wins.
 */
export async function ensureSecret(dir: string, name: string, generate: () => string): Promise<{ value: string; created: boolean }> {
  assertName(name);
  const existing = await readSecret(dir, name);
  if (existing) return { value: existing, created: false };
  const temp = await writeTemp(dir, name, generate());
  let created = false;
  try {
    await fs.link(temp, path.join(dir, name));
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await fs.unlink(temp).catch(() => undefined);
  }
  if (created) await syncDir(dir);
  const value = await readSecret(dir, name);
  if (!value) throw new Error(`${path.join(dir, name)} is empty`);
  return { value, created };
}

/** Atomically replaces a secret file (temp file, fsync, rename, fsync the directory); unchanged content is left alone. */
export async function replaceSecret(dir: string, name: string, value: string): Promise<void> {
  assertName(name);
  if ((await readSecret(dir, name)) === value) return;
  const temp = await writeTemp(dir, name, value);
  try {
    await fs.rename(temp, path.join(dir, name));
  } catch (err) {
    await fs.unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDir(dir);
}

/**
 * Fills a connection-URL template: `{user}` and `{password}`, both
 * percent-encoded (a no-op for Caracal's names and hex passwords). The
 * secret-writer renders the same way.
 */
export function renderUrlTemplate(template: string, user: string, password: string): string {
  return template.replaceAll('{user}', encodeURIComponent(user)).replaceAll('{password}', encodeURIComponent(password));
}
