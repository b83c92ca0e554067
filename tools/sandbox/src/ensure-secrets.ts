import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { generateKekHex, generateKeyHex } from '@caracal-rotation/secrets';
import { SECRET_FILES, type SecretEnvName } from './members.js';

const DIR_MODE = 0o700;
const FILE_MODE = 0o444;

/**
 * Creates whatever secret the sandbox fleet needs and is missing, as
 * `caracal up` does: the directory 0700, each file 0444 holding fresh
 * lowercase hex (32 bytes). An existing file is never touched, so a rotation
 * in progress is never undone by starting the fleet. Returns the env names of
 * the secrets it created.
 */
export async function ensureSandboxSecrets(secretsDir: string): Promise<SecretEnvName[]> {
  await fs.mkdir(secretsDir, { recursive: true, mode: DIR_MODE });
  const created: SecretEnvName[] = [];
  for (const [envName, fileName] of Object.entries(SECRET_FILES) as [SecretEnvName, string][]) {
    const value = envName === 'SECRET_STORE_KEK' ? generateKekHex() : generateKeyHex();
    if (await createIfMissing(secretsDir, fileName, value)) created.push(envName);
  }
  if (created.length > 0) await syncDir(secretsDir);
  return created;
}

/**
 * Writes a temp file, then hard-links it to the final name. link(2) is atomic
 * like rename(2) but fails with EEXIST instead of replacing, so a file written
 * concurrently by someone else (the secret-writer) always wins.
 */
async function createIfMissing(dir: string, fileName: string, value: string): Promise<boolean> {
  const target = path.join(dir, fileName);
  if (await exists(target)) return false;
  const temp = path.join(dir, `.${fileName}.tmp-${randomBytes(6).toString('hex')}`);
  const handle = await fs.open(temp, 'wx', FILE_MODE);
  try {
    await handle.writeFile(value, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.link(temp, target);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await fs.unlink(temp).catch(() => undefined);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
