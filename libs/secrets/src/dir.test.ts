import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveSecretsDir } from './index.js';

describe('resolveSecretsDir', () => {
  const all = {
    CARACAL_SECRETS_DIR: '/explicit/secrets',
    CARACAL_HOME: '/caracal-home',
    XDG_DATA_HOME: '/xdg-data',
    HOME: '/home/op',
  };

  it('prefers CARACAL_SECRETS_DIR', () => {
    expect(resolveSecretsDir(all)).toBe('/explicit/secrets');
  });

  it('then $CARACAL_HOME/secrets', () => {
    expect(resolveSecretsDir({ ...all, CARACAL_SECRETS_DIR: undefined })).toBe('/caracal-home/secrets');
  });

  it('then $XDG_DATA_HOME/caracal/secrets', () => {
    expect(resolveSecretsDir({ XDG_DATA_HOME: '/xdg-data', HOME: '/home/op' })).toBe('/xdg-data/caracal/secrets');
  });

  it('then ~/.local/share/caracal/secrets', () => {
    expect(resolveSecretsDir({ HOME: '/home/op' })).toBe('/home/op/.local/share/caracal/secrets');
    expect(resolveSecretsDir({})).toBe(path.join(os.homedir(), '.local/share/caracal/secrets'));
  });

  it('treats empty variables as unset', () => {
    expect(resolveSecretsDir({ CARACAL_SECRETS_DIR: '', CARACAL_HOME: '', XDG_DATA_HOME: '/xdg-data' })).toBe('/xdg-data/caracal/secrets');
  });

  it('returns an absolute path', () => {
    expect(resolveSecretsDir({ CARACAL_SECRETS_DIR: 'rel/secrets' })).toBe(path.resolve('rel/secrets'));
  });
});
