// Scratch: re-render a results JSON as markdown (after a change to lib/report.ts): node --import tsx bench/scratch/render.ts [in.json] [out.md]
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderMarkdown, type Report } from '../lib/report.js';
const results = join(import.meta.dirname, '..', 'results');
const input = process.argv[2] ?? join(results, 'latest.json');
const output = process.argv[3] ?? input.replace(/\.json$/, '.md');
await writeFile(output, renderMarkdown(JSON.parse(await readFile(input, 'utf8')) as Report));
process.stdout.write(`wrote ${output}\n`);
