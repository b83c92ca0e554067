import { readFile } from 'node:fs/promises';
import { CatalogError, DEFAULT_CATALOG, parseCatalog, type Catalog } from '@caracal-rotation/contracts';
import { EXIT, UsageError } from './environment.js';

export interface EffectiveCatalog {
  catalog: Catalog;
  /** The file it came from, or `built-in`. */
  source: string;
}

/** The catalog the services use: CARACAL_CATALOG when set, else the built-in defaults (as the services' loadCatalog). */
export async function loadEffectiveCatalog(env: { catalogPath: string | undefined }): Promise<EffectiveCatalog> {
  if (!env.catalogPath) return { catalog: DEFAULT_CATALOG, source: 'built-in' };
  let text: string;
  try {
    text = await readFile(env.catalogPath, 'utf8');
  } catch (err) {
    throw new UsageError(`CARACAL_CATALOG=${env.catalogPath} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); fix the path or unset it to use the built-in catalog`, EXIT.usage);
  }
  try {
    return { catalog: parseCatalog(text, env.catalogPath), source: env.catalogPath };
  } catch (err) {
    if (err instanceof CatalogError) throw new UsageError(err.message, EXIT.usage);
    throw err;
  }
}
