import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileSecretStore, UnsafeSecretsDirError, isWithin } from './index.js';

const KEY = '4f1c2b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6';

async function refusal(p: Promise<unknown>): Promise<UnsafeSecretsDirError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(UnsafeSecretsDirError);
    expect(err).toBeInstanceOf(Error);
    return err as UnsafeSecretsDirError;
  }
  throw new Error('expected the store to be refused');
}

describe('secrets directory safety', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'secrets-safety-'));
  });
  afterEach(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('refuses a 0755 directory and says how to fix it', async () => {
    const dir = path.join(tmp, 'secrets');
    await mkdir(dir);
    await chmod(dir, 0o755);
    const store = new FileSecretStore({ dir });
    const err = await refusal(store.ensureDir());
    expect(err.code).toBe('unsafe_store');
    expect(err.reason).toBe('permissions');
    expect(err.message).toContain('0755');
    expect(err.message).toContain(`chmod 700 ${dir}`);
    await refusal(store.write('streamsHmacKey', KEY));
  });

  it('refuses any group or world bit', async () => {
    const dir = path.join(tmp, 'secrets');
    await mkdir(dir);
    for (const mode of [0o710, 0o701, 0o740, 0o702]) {
      await chmod(dir, mode);
      expect((await refusal(new FileSecretStore({ dir }).assertSafe())).reason).toBe('permissions');
    }
    await chmod(dir, 0o700);
    await new FileSecretStore({ dir }).assertSafe();
  });

  it('refuses a directory inside a workspace root, but not in a sibling with a common prefix', async () => {
    const ws = path.join(tmp, 'ws');
    const inside = path.join(ws, 'agent-1', 'secrets');
    const sibling = path.join(tmp, 'ws2', 'secrets');
    const inStore = new FileSecretStore({ dir: inside, workspaceRoots: [ws] });
    const err = await refusal(inStore.ensureDir());
    expect(err.reason).toBe('inside_workspace');
    expect(err.message).toContain(ws);
    await new FileSecretStore({ dir: sibling, workspaceRoots: [ws] }).ensureDir();
    // The root itself counts as inside.
    await mkdir(ws, { recursive: true });
    await chmod(ws, 0o700);
    expect((await refusal(new FileSecretStore({ dir: ws, workspaceRoots: [ws] }).assertSafe())).reason).toBe('inside_workspace');
  });

  it('refuses a workspace directory reached through a symlink', async () => {
    const ws = path.join(tmp, 'ws');
    const real = path.join(ws, 'secrets');
    await mkdir(real, { recursive: true, mode: 0o700 });
    await chmod(real, 0o700);
    const link = path.join(tmp, 'looks-safe');
    await symlink(real, link);
    const err = await refusal(new FileSecretStore({ dir: link, workspaceRoots: [ws] }).assertSafe());
    expect(err.reason).toBe('inside_workspace');
    expect(err.path).toBe(real);
  });

  it('refuses a directory inside a workspace root that is itself given through a symlink', async () => {
    const ws = path.join(tmp, 'ws');
    const dir = path.join(ws, 'secrets');
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o700);
    const wsLink = path.join(tmp, 'ws-link');
    await symlink(ws, wsLink);
    expect((await refusal(new FileSecretStore({ dir, workspaceRoots: [wsLink] }).assertSafe())).reason).toBe('inside_workspace');
  });

  it.skipIf(process.getuid?.() !== 0)('refuses a directory owned by another uid', async () => {
    const dir = path.join(tmp, 'secrets');
    await mkdir(dir, { mode: 0o700 });
    await chown(dir, 54321, 54321);
    const err = await refusal(new FileSecretStore({ dir }).assertSafe());
    expect(err.reason).toBe('owner');
    expect(err.message).toContain('uid 54321');
  });

  it('refuses a file where the directory should be', async () => {
    const file = path.join(tmp, 'secrets');
    await writeFile(file, 'x');
    expect((await refusal(new FileSecretStore({ dir: file }).assertSafe())).reason).toBe('not_directory');
  });
});

describe('isWithin', () => {
  it('compares whole path segments', () => {
    expect(isWithin('/ws', '/ws')).toBe(true);
    expect(isWithin('/ws', '/ws/a')).toBe(true);
    expect(isWithin('/ws', '/ws/a/b')).toBe(true);
    expect(isWithin('/ws', '/ws2')).toBe(false);
    expect(isWithin('/ws', '/w')).toBe(false);
    expect(isWithin('/ws/a', '/ws')).toBe(false);
    expect(isWithin('/ws', '/ws/..secret')).toBe(true);
    expect(isWithin('/', '/anything')).toBe(true);
  });
});
