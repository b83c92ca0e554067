import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

describe('docs/configuration.md', () => {
  it('says what the configuration schemas parse (regenerate with npm run docs:configuration)', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/configuration-docs.ts', '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
