import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'caracal-rotate.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

/** What bash offers after the words typed so far (the last word is the one being completed). */
function bashCompletes(script: string, typed: string[]): string[] {
  const words = ['caracal-rotate', ...typed].map((w) => `'${w}'`).join(' ');
  const run = spawnSync('bash', ['--norc', '--noprofile', '-c', `${script}\nCOMP_WORDS=(${words}); COMP_CWORD=${typed.length}; _caracal_rotate; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  return run.stdout.split('\n').filter(Boolean);
}

describe('completion', () => {
  const bash = cli('completion', 'bash');

  it('prints a bash script that completes commands, materials, flags and states', () => {
    expect(bash.status).toBe(0);
    expect(bashCompletes(bash.stdout, ['re'])).toEqual(['request']);
    expect(bashCompletes(bash.stdout, ['request', 'ZONE_'])).toEqual(['ZONE_KEK', 'ZONE_SIGNING_KEY']);
    expect(bashCompletes(bash.stdout, ['request', 'AUDIT_HMAC_KEY', '--re'])).toEqual(['--reason']);
    expect(bashCompletes(bash.stdout, ['list', '--state', 'wa'])).toEqual(['waiting_retirement']);
    expect(bashCompletes(bash.stdout, ['status', '--'])).toEqual(['--json', '--help']);
  });

  it('prints a zsh script that registers itself', () => {
    const zsh = cli('completion', 'zsh');
    expect(zsh.status).toBe(0);
    expect(zsh.stdout).toMatch(/^#compdef caracal-rotate\n/);
    expect(zsh.stdout).toContain("'request:ask the pipeline to rotate a material");
    expect(zsh.stdout).toContain('compdef _caracal_rotate caracal-rotate');
  });

  it('refuses a shell it does not know as a usage error', () => {
    const fish = cli('completion', 'fish');
    expect(fish.status).toBe(2);
    expect(fish.stderr).toBe('caracal-rotate: completion knows bash and zsh, not "fish"\n');
  });
});
