import {
  catalogEntry,
  normalizeMaterial,
  requestedDataSchema,
  type Catalog,
  type CatalogEntry,
  type Material,
  type RejectionCode,
  type RequestedData,
} from '@caracal-rotation/contracts';

export interface AcceptedRequest {
  material: Material;
  entry: CatalogEntry;
  data: RequestedData;
  /** Zones named by the request (ZONE_SIGNING_KEY); `all` for `zone_id: "*"`. */
  zones: string[] | 'all';
  /** One rotation per zone, under the request's id as batch id. */
  batch: boolean;
  role?: string;
}

export type RequestVerdict = { ok: true; request: AcceptedRequest } | { ok: false; code: RejectionCode; message: string; material: string; zone_id?: string };

const reject = (code: RejectionCode, message: string, raw: Record<string, unknown>): RequestVerdict => ({
  ok: false,
  code,
  message,
  material: typeof raw.material === 'string' ? raw.material.slice(0, 64) : '',
  zone_id: typeof raw.zone_id === 'string' ? raw.zone_id.slice(0, 128) : undefined,
});

/**
 * Decides whether a signed, well-formed request can be planned, and if not,
 * which reason code the operator sees.
 */
export function validateRequest(raw: Record<string, unknown>, catalog: Catalog): RequestVerdict {
  if (typeof raw.material !== 'string' || raw.material.length === 0) return reject('invalid_request', 'material is required', raw);
  const material = normalizeMaterial(raw.material);
  if (!material) return reject('unknown_material', `unknown material ${JSON.stringify(raw.material.slice(0, 64))}`, raw);

  const parsed = requestedDataSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 10).map((i) => `${i.path.join('.') || 'request'}: ${i.message}`);
    return reject('invalid_request', problems.join('; '), raw);
  }
  const data = parsed.data;
  const entry = catalogEntry(catalog, material);
  if (!entry) return reject('unknown_material', `${material} is not in the catalog`, raw);

  if (data.zone_id && data.zone_ids) return reject('invalid_request', 'give zone_id or zone_ids, not both', raw);
  const all = data.zone_id === '*';
  const zones = all ? ('all' as const) : (data.zone_ids ?? (data.zone_id ? [data.zone_id] : []));
  const named = zones === 'all' ? 1 : zones.length;
  if (entry.needs === 'zone' && named === 0) return reject('invalid_request', `${material} needs zone_id, zone_ids, or zone_id "*"`, raw);
  if (entry.needs !== 'zone' && named > 0) return reject('invalid_request', `${material} is not rotated per zone`, raw);
  if (zones !== 'all' && zones.includes('*')) return reject('invalid_request', '"*" stands alone, as zone_id', raw);
  if (zones !== 'all' && new Set(zones).size !== zones.length) return reject('invalid_request', 'zone_ids has duplicates', raw);

  if (entry.needs === 'role') {
    if (!data.role) return reject('invalid_request', `${material} needs role (one of ${Object.keys(entry.roles ?? {}).join(', ')})`, raw);
    if (!entry.roles?.[data.role]) return reject('invalid_request', `no Postgres role ${data.role} is known; known: ${Object.keys(entry.roles ?? {}).join(', ')}`, raw);
  } else if (data.role) {
    return reject('invalid_request', `${material} is not rotated per role`, raw);
  }

  return { ok: true, request: { material, entry, data, zones, batch: all || Boolean(data.zone_ids), role: data.role } };
}
