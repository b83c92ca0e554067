import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** This package's folder, wherever the calling code was compiled into (its own dist/ or another program's bundle). */
function packageRoot(): string {
  return dirname(createRequire(import.meta.url).resolve('@caracal-rotation/sandbox/package.json'));
}

/** A compiled sandbox program (`npm run build` makes them). */
export function sandboxProgram(name: 'member' | 'reseal' | 'fleet'): string {
  const path = join(packageRoot(), 'dist', `${name}.js`);
  if (!existsSync(path)) throw new Error(`${path} does not exist: build the sandbox first (npm run build)`);
  return path;
}
