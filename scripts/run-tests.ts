// `npm test`: build, typecheck, lint and every project's tests through nx, then one
// closing line that sums the vitest reports: "Tests: N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const results = join(root, '.test-results');
rmSync(results, { recursive: true, force: true });

const nx = spawnSync('npx', ['nx', 'run-many', '-t', 'build', 'typecheck', 'lint', 'test', '--outputStyle=stream', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});

let passed = 0;
let failed = 0;
let skipped = 0;
const reports = existsSync(results) ? readdirSync(results).filter((f) => f.endsWith('.json')) : [];
for (const file of reports) {
  const r = JSON.parse(readFileSync(join(results, file), 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number };
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
}
process.stdout.write(`\n${reports.length} test projects reported.\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exit(nx.status ?? 1);
