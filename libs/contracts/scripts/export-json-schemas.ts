// Regenerates libs/contracts/json-schema/*.json from the zod schemas.
// Run with `npm run schemas`; a test fails when the committed files drift.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonSchemaDocuments } from '../src/json-schemas.js';

const outDir = join(import.meta.dirname, '..', 'json-schema');
mkdirSync(outDir, { recursive: true });
for (const [file, doc] of Object.entries(jsonSchemaDocuments())) {
  writeFileSync(join(outDir, file), `${JSON.stringify(doc, null, 2)}\n`);
}
process.stdout.write(`wrote ${Object.keys(jsonSchemaDocuments()).length} schemas to ${outDir}\n`);
