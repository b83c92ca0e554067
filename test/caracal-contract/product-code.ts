import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** The repository root (this file is test/caracal-contract/product-code.ts). */
export const ROOT = path.resolve(import.meta.dirname, '../..');

/** Product code: what ships, without tests, test support, builds or dependencies. */
export function productFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (['node_modules', 'dist', 'tests', '.nx'].includes(name)) continue;
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts') && name !== 'test-helpers.ts' && name !== 'vitest.config.ts') out.push(full);
    }
  };
  for (const top of ['services', 'apps', 'libs']) walk(path.join(ROOT, top));
  // The one place that builds requests to Caracal, and the test infrastructure.
  return out.filter((f) => !f.includes(`${path.sep}libs${path.sep}caracal-client${path.sep}`) && !f.includes(`${path.sep}libs${path.sep}testing${path.sep}`));
}

/** Every string and template literal of a TypeScript file (comments are not tokens). */
export function stringLiterals(file: string): { text: string; line: number }[] {
  const source = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const out: { text: string; line: number }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) {
      const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
      out.push({ text: node.text, line });
      // `new URL('ready', base)` resolves a relative path: it is the path `/ready` of base.
      const parent = node.parent;
      if (parent && ts.isNewExpression(parent) && parent.arguments?.[0] === node && ts.isIdentifier(parent.expression) && parent.expression.text === 'URL' && !/^[a-z]+:|^\//i.test(node.text)) {
        out.push({ text: `/${node.text.replace(/^\.\//, '')}`, line });
      }
    }
    else if (ts.isTemplateExpression(node)) {
      const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
      out.push({ text: node.head.text, line }, ...node.templateSpans.map((s) => ({ text: s.literal.text, line })));
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/**
 * A literal that builds the path of a request to Caracal: it starts with one
 * of Caracal's route prefixes (or is a URL whose path does). Prose that
 * mentions a route and the Kubernetes API's `/api/v1/…` do not.
 */
export function isCaracalRouteLiteral(text: string, routePaths: readonly string[]): boolean {
  const path_ = text.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/\s]*/i, '');
  if (/^\/(?:v1\/|internal\/|\.well-known\/|(?:stats|ready|metrics)(?:[?#/]|$))/.test(path_)) return true;
  return routePaths.some((p) => {
    const fixed = p.split('{')[0]!;
    if (fixed.length <= 1 || !path_.startsWith(fixed)) return false;
    return fixed.endsWith('/') || path_.length === fixed.length || '?#/'.includes(path_[fixed.length]!);
  });
}
