#!/usr/bin/env node
// The installed command: runs the compiled CLI (npm ci builds it; so does npm run build).
import { existsSync } from 'node:fs';

const program = new URL('../dist/caracal-rotate.js', import.meta.url);
if (!existsSync(program)) {
  process.stderr.write(`caracal-rotate: ${program.pathname} is missing; build it with \`npm run build\` in the project folder\n`);
  process.exit(2);
}
await import(program.href);
