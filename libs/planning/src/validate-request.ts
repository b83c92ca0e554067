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
  /** Zones named by the request (ZONE_SIGNING_KEY); a batch when `zone_ids` was used. */
  zones: string[];
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
 * which reason code the operator sees (DESIGN §3).
 */
export function validateRequest(raw: Record<string, unknown>, catalog: Catalog): RequestVerdict {
  if (typeof raw.material !== 'string' || raw.material.length === 0) {
    return reject('invalid_request', 'material is required', raw);
  }
  const material = normalizeMaterial(raw.material);
  if (!material) return reject('unknown_material', `unknown material ${JSON.stringify(raw.material.slice(0, 64))}`, raw);

  const parsed = requestedDataSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`);
    return reject('invalid_request', problems.join('; '), raw);
  }
  const data = parsed.data;
  const entry = catalogEntry(catalog, material);
  if (!entry) return reject('unknown_material', `${material} is not in the catalog`, raw);

  const zones = data.zone_ids ?? (data.zone_id ? [data.zone_id] : []);
  if (entry.needs === 'zone' && zones.length === 0) {
    return reject('invalid_request', `${material} needs zone_id, zone_ids, or zone_id "*"`, raw);
  }
  if (entry.needs !== 'zone' && zones.length > 0) return reject('invalid_request', `${material} is not rotated per zone`, raw);
  if (data.zone_id && data.zone_ids) return reject('invalid_request', 'give zone_id or zone_ids, not both', raw);
  if (new Set(zones).size !== zones.length) return reject('invalid_request', 'zone_ids has duplicates', raw);

  if (entry.needs === 'role') {
    if (!data.role) return reject('invalid_request', `${material} needs role (e.g. api)`, raw);
    if (entry.holders_by_role && !entry.holders_by_role[data.role]) {
      return reject('invalid_request', `no holders are known for role ${data.role}; known: ${Object.keys(entry.holders_by_role).join(', ')}`, raw);
    }
  } else if (data.role) {
    return reject('invalid_request', `${material} is not rotated per role`, raw);
  }

  return { ok: true, request: { material, entry, data, zones, batch: Boolean(data.zone_ids) || data.zone_id === '*', role: data.role } };
}
