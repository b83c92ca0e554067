import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CATALOG } from '@caracal-rotation/contracts';
import { describe, expect, it } from 'vitest';
import { loadCatalog, loadHoldersConfig } from './index.js';

const file = async (name: string, text: string) => {
  const dir = await mkdtemp(join(tmpdir(), 'runtime-'));
  await writeFile(join(dir, name), text);
  return join(dir, name);
};

describe('loadCatalog', () => {
  it('is the built-in catalog without an override', async () => {
    expect(await loadCatalog(undefined)).toBe(DEFAULT_CATALOG);
  });
  it('names the file and every problem of a bad override', async () => {
    const path = await file('catalog.json', JSON.stringify({ version: 3, materials: [] }));
    await expect(loadCatalog(path)).rejects.toThrow(new RegExp(`catalog ${path} is invalid:[\\s\\S]*version`));
  });
});

describe('loadHoldersConfig', () => {
  it('reads a holders file with defaults filled in', async () => {
    const path = await file('holders.json', JSON.stringify({ version: 2, services: { api: { url: 'http://127.0.0.1:3000', restart: { adapter: 'docker', container: 'caracal-api-1' } } } }));
    const holders = await loadHoldersConfig(path);
    expect(holders.services.api).toMatchObject({ ready_timeout_ms: 120_000, restart: { socket: '/var/run/docker.sock' } });
    expect(holders.caracal.namespace).toBe('');
  });
  it('says which field is wrong', async () => {
    const path = await file('holders.json', JSON.stringify({ version: 2, services: { api: { url: 'not a url', restart: { adapter: 'ftp' } } } }));
    await expect(loadHoldersConfig(path)).rejects.toThrow(/services\.api\.url/);
  });
  it('says when the file is not JSON', async () => {
    const path = await file('holders.json', '{');
    await expect(loadHoldersConfig(path)).rejects.toThrow(/cannot be read as JSON/);
  });
});
