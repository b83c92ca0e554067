import { EXIT, UsageError } from './environment.js';
import { isUuid } from './format.js';

/** A rotation id from the command line: a UUID, or a usage error. */
export function rotationIdArg(id: string | undefined): string {
  if (!id || !isUuid(id)) throw new UsageError(`${JSON.stringify(id ?? '')} is not a rotation id (a UUID, as printed by caracal-rotate request or list)`, EXIT.usage);
  return id.toLowerCase();
}
