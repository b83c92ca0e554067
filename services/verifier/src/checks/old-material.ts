import type { Material } from '@caracal-rotation/contracts';
import type { CheckContext } from './context.js';

/** The value that should now be refused: the one holders used before (or, after a rollback, the abandoned one). */
export async function otherValue(ctx: CheckContext, material: Material): Promise<string> {
  if (!ctx.otherKid) throw new Error(`the event names no previous ${material} to test`);
  return ctx.material.byKid(material, ctx.otherKid);
}
