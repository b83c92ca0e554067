import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };

interface Project {
  dir: string;
  name: string;
  dependencies: Set<string>;
  devDependencies: Set<string>;
}

/** Every workspace package: the folders its `workspaces` globs (`libs/*`) name that hold a package.json. */
function projects(): Project[] {
  const out: Project[] = [];
  for (const pattern of root.workspaces) {
    const dirs = pattern.endsWith('/*') ? readdirSync(join(ROOT, pattern.slice(0, -2))).map((d) => join(pattern.slice(0, -2), d)) : [pattern];
    for (const dir of dirs) {
      let pkg: { name: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
      try {
        pkg = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8'));
      } catch {
        continue;
      }
      out.push({ dir, name: pkg.name, dependencies: new Set(Object.keys(pkg.dependencies ?? {})), devDependencies: new Set(Object.keys(pkg.devDependencies ?? {})) });
    }
  }
  return out;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'dist', '.nx', 'json-schema'].includes(entry.name)) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(full));
    else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && statSync(full).size < 2_000_000) out.push(full);
  }
  return out;
}

const BUILTINS = new Set(builtinModules);
/** The package a bare import names: `@scope/name` or `name`, without a subpath. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:') || BUILTINS.has(specifier.split('/')[0]!)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

const IMPORT = /(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;
const isTestFile = (file: string) => /\.test\.ts$|\/tests\/|\/testing\/|vitest\.config\.ts$|\/test-helpers\.ts$|\/scripts\//.test(file);

function imports(project: Project): { product: Set<string>; tests: Set<string> } {
  const product = new Set<string>();
  const tests = new Set<string>();
  for (const file of sources(join(ROOT, project.dir))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const pkg = packageOf(m[1] ?? m[2] ?? m[3]!);
      if (!pkg || pkg === project.name) continue;
      (isTestFile(relative(ROOT, file)) ? tests : product).add(pkg);
    }
  }
  return { product, tests };
}

describe('every workspace package declares exactly what it imports', () => {
  const all = projects();
  it('finds the workspace packages', () => {
    expect(all.length).toBeGreaterThan(15);
  });
  it.each(all.map((p) => [p.dir, p] as const))('%s', (_dir, project) => {
    const { product, tests } = imports(project);
    // The test suites' package is all tests: what it imports are its development dependencies.
    const used = project.dir === 'test' ? new Set<string>() : product;
    const usedInTests = project.dir === 'test' ? new Set([...product, ...tests]) : tests;
    const undeclared = [...used].filter((p) => !project.dependencies.has(p)).sort();
    const undeclaredInTests = [...usedInTests].filter((p) => !project.dependencies.has(p) && !project.devDependencies.has(p)).sort();
    const unused = [...project.dependencies].filter((p) => !used.has(p)).sort();
    const unusedDev = [...project.devDependencies].filter((p) => !usedInTests.has(p) && !used.has(p)).sort();
    expect({ undeclared, undeclaredInTests, unused, unusedDev }).toEqual({ undeclared: [], undeclaredInTests: [], unused: [], unusedDev: [] });
  });
});
