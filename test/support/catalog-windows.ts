import { writeFile } from 'node:fs/promises';
import { catalogSchema, sandboxCatalog, type Material } from '@caracal-rotation/contracts';

/**
 * A sandbox catalog file whose safety windows are `windowMs`, except the
 * materials given their own (a rotation that must sit in its rollback window
 * while a test acts on it).
 */
export async function writeCatalog(path: string, windowMs: number, windows: Partial<Record<Material, number>> = {}): Promise<string> {
  const base = sandboxCatalog(windowMs);
  const catalog = catalogSchema.parse({
    ...base,
    materials: base.materials.map((m) => (windows[m.material] === undefined ? m : { ...m, safety_window_ms: windows[m.material] })),
  });
  await writeFile(path, JSON.stringify(catalog, null, 2));
  return path;
}
