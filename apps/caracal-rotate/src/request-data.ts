import { MATERIALS, normalizeMaterial, requestedDataSchema, type RequestedData } from '@caracal-rotation/contracts';
import { flag, str, strs, type Values } from './commands/command.js';
import { EXIT, UsageError } from './environment.js';

/**
 * The `requested` payload from the selector flags. One `--zone` is
 * `zone_id` (so `--zone '*'` means every zone), several are a batch
 * (`zone_ids`), as the contract distinguishes them.
 */
export function requestDataFrom(material: string, values: Values, fallbackReason?: string): RequestedData {
  const zones = strs(values, 'zone');
  if (zones.length > 1 && zones.includes('*')) throw new UsageError("--zone '*' already means every zone; give it alone", EXIT.usage);
  const data: RequestedData = {
    material,
    reason: str(values, 'reason') ?? fallbackReason ?? '',
  };
  if (zones.length === 1) data.zone_id = zones[0];
  if (zones.length > 1) data.zone_ids = zones;
  const role = str(values, 'role');
  if (role !== undefined) data.role = role;
  const ticket = str(values, 'ticket');
  if (ticket !== undefined) data.ticket = ticket;
  if (flag(values, 'emergency')) data.emergency = true;
  if (flag(values, 'dry-run')) data.dry_run = true;
  return data;
}

/**
 * Refuses locally what the planner would reject for its shape alone, so the
 * operator gets a usage error (exit 2) at once instead of a rejection later.
 * Whether the catalog accepts it stays the planner's decision.
 */
export function assertWellFormed(data: RequestedData): void {
  if (!normalizeMaterial(data.material)) {
    throw new UsageError(`unknown material ${JSON.stringify(data.material)}; known: ${MATERIALS.join(', ')} (see caracal-rotate catalog)`, EXIT.usage);
  }
  const parsed = requestedDataSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`);
    throw new UsageError(`the request is not valid: ${problems.join('; ')}`, EXIT.usage);
  }
}
