/** The fields of a rotation request (docs/architecture.md §3); anything else is not recorded. */
const REQUEST_FIELDS = ['material', 'zone_id', 'zone_ids', 'role', 'reason', 'ticket', 'emergency', 'dry_run'] as const;

/**
 * What is recorded of a `requested` event. Requests are recorded even when
 * invalid (the planner answers them on `rejected`), so their data is any JSON
 * object; unknown fields are dropped, keeping only their names, so a stray
 * value (possibly a secret pasted by mistake) never reaches Postgres. An
 * `actor` in a request is one of those: the actor is who signed it, which
 * the planner records on `planned`.
 */
export function requestRecord(data: unknown): Record<string, unknown> {
  const source = data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
  const known = new Set<string>(REQUEST_FIELDS);
  const record: Record<string, unknown> = {};
  for (const field of REQUEST_FIELDS) if (source[field] !== undefined) record[field] = source[field];
  const ignored = Object.keys(source).filter((k) => !known.has(k));
  if (ignored.length > 0) record.ignored_fields = ignored;
  return record;
}
