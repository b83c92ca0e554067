// Compiles one workspace project's programs to JavaScript: each entry of the
// `bundle` field of its package.json ({"dist/main.js": "src/main.ts"}) becomes
// one self-contained ES module for Node, so the programs run with plain `node`
// and ship without a TypeScript loader or a node_modules tree.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const entries = pkg.bundle ?? {};
if (Object.keys(entries).length === 0) {
  console.error(`${pkg.name}: no "bundle" entries in package.json`);
  process.exit(2);
}

for (const [outfile, entry] of Object.entries(entries)) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
    // Optional native bindings some libraries probe for at run time.
    external: ['pg-native', 'cpu-features', 'ssh2'],
    // Bundled CommonJS dependencies call require(); give the ES module one.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
}
