import { readFile } from 'node:fs/promises';
import { DEFAULT_CATALOG, holdersConfigSchema, parseCatalog, type Catalog, type HoldersConfig } from '@caracal-rotation/contracts';

/** The operator's catalog (CARACAL_CATALOG) or the built-in one. */
export async function loadCatalog(path: string | undefined): Promise<Catalog> {
  if (!path) return DEFAULT_CATALOG;
  return parseCatalog(await readFile(path, 'utf8'), path);
}

/** Where holders run and how to restart them (CARACAL_HOLDERS). */
export async function loadHoldersConfig(path: string): Promise<HoldersConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`holders file ${path} cannot be read as JSON: ${(err as Error).message}`);
  }
  const parsed = holdersConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`holders file ${path} is invalid:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  return parsed.data;
}
