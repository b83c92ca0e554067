import { createHash } from 'node:crypto';

/**
 * The audit event (packages/core/go/audit/event.go Event) as the Audit
 * service decodes it with encoding/json: field names match
 * case-insensitively, a wrong JSON type is reported with Go's text,
 * occurred_at is an RFC 3339 time kept to the nanosecond.
 */
export interface AuditEvent {
  id: string;
  zoneId: string;
  eventType: string;
  requestId: string;
  decision: string;
  policySetId: string;
  policySetVersionId: string;
  manifestSha: string;
  evaluationStatus: string;
  determiningPoliciesJson: string | null;
  diagnosticsJson: string | null;
  metadataJson: string | null;
  /** Nanoseconds since the Unix epoch; 0n is Go's zero time. */
  occurredAtNs: bigint;
  /** Whether occurred_at was the zero time (IsZero). */
  occurredAtZero: boolean;
}

const STRING_FIELDS = {
  id: 'id',
  zone_id: 'zoneId',
  event_type: 'eventType',
  request_id: 'requestId',
  decision: 'decision',
  policy_set_id: 'policySetId',
  policy_set_version_id: 'policySetVersionId',
  manifest_sha: 'manifestSha',
  evaluation_status: 'evaluationStatus',
} as const;
const RAW_FIELDS = { determining_policies_json: 'determiningPoliciesJson', diagnostics_json: 'diagnosticsJson', metadata_json: 'metadataJson' } as const;
const ALL_FIELDS = [...Object.keys(STRING_FIELDS), ...Object.keys(RAW_FIELDS), 'occurred_at'];

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'boolean') return 'bool';
  return typeof v;
}

/** The Go text of a JSON syntax error, as near as V8's message allows. */
function syntaxError(raw: string, err: Error): string {
  if (raw.trim() === '' || /end of (JSON )?input|Unterminated/i.test(err.message)) return 'unexpected end of JSON input';
  const pos = /position (\d+)/.exec(err.message);
  const at = pos ? Number(pos[1]) : raw.search(/\S/);
  const ch = raw[at] ?? '';
  return `invalid character '${ch}' looking for beginning of value`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** time.Time.UnmarshalJSON for an RFC 3339 string, to nanoseconds. */
export function parseRfc3339Ns(s: string): bigint {
  const m = RFC3339.exec(s);
  if (!m) throw new Error(`parsing time "${s}" as "2006-01-02T15:04:05Z07:00": cannot parse "${s}" as "2006"`);
  const [, y, mo, d, h, mi, sec, frac = '', zone] = m;
  // setUTCFullYear, because Date.UTC maps the years 0-99 to 1900-1999.
  const ms = new Date(Date.UTC(2000, 0, 1, Number(h), Number(mi), Number(sec))).setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  let ns = BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0') || '0');
  if (zone && zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1n : 1n;
    const offsetMin = BigInt(Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
    ns -= sign * offsetMin * 60_000_000_000n;
  }
  return ns;
}

/** Go's zero time, 0001-01-01T00:00:00Z, in Unix nanoseconds. */
const GO_ZERO_NS = -62135596800000n * 1_000_000n;

/** json.Unmarshal into audit.Event, then unmarshalEvent's required-field check (services/audit/internal/consumer.go). */
export function unmarshalEvent(raw: string): AuditEvent {
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (err) {
    throw new Error(syntaxError(raw, err as Error));
  }
  const ev: AuditEvent = {
    id: '',
    zoneId: '',
    eventType: '',
    requestId: '',
    decision: '',
    policySetId: '',
    policySetVersionId: '',
    manifestSha: '',
    evaluationStatus: '',
    determiningPoliciesJson: null,
    diagnosticsJson: null,
    metadataJson: null,
    occurredAtNs: GO_ZERO_NS,
    occurredAtZero: true,
  };
  if (doc !== null && (typeof doc !== 'object' || Array.isArray(doc))) throw new Error(`json: cannot unmarshal ${jsonKind(doc)} into Go value of type audit.Event`);
  let firstTypeError: string | undefined;
  for (const [key, value] of Object.entries((doc ?? {}) as Record<string, unknown>)) {
    // An exact name wins; otherwise encoding/json matches case-insensitively.
    const field = ALL_FIELDS.includes(key) ? key : ALL_FIELDS.find((f) => f.toLowerCase() === key.toLowerCase());
    if (!field) continue;
    if (field in STRING_FIELDS) {
      if (value === null) continue;
      if (typeof value !== 'string') {
        firstTypeError ??= `json: cannot unmarshal ${jsonKind(value) === 'bool' ? 'bool' : jsonKind(value)} into Go struct field Event.${field} of type string`;
        continue;
      }
      ev[STRING_FIELDS[field as keyof typeof STRING_FIELDS]] = value;
    } else if (field in RAW_FIELDS) {
      ev[RAW_FIELDS[field as keyof typeof RAW_FIELDS]] = JSON.stringify(value);
    } else {
      if (value === null) continue;
      if (typeof value !== 'string') throw new Error('Time.UnmarshalJSON: input is not a JSON string');
      ev.occurredAtNs = parseRfc3339Ns(value);
      ev.occurredAtZero = ev.occurredAtNs === GO_ZERO_NS;
    }
  }
  if (firstTypeError) throw new Error(firstTypeError);
  if (ev.id === '' || ev.zoneId === '' || ev.occurredAtZero) throw new Error('required fields missing (id, zone_id, occurred_at)');
  return ev;
}

/** sanitizeEvent: NUL characters are stripped from every string (Postgres rejects them). */
export function sanitizeEvent(ev: AuditEvent): AuditEvent {
  const strip = (s: string) => s.replaceAll('\u0000', '');
  const stripJson = (s: string | null) => {
    if (s === null || !s.includes('\\u0000')) return s;
    const walk = (v: unknown): unknown =>
      typeof v === 'string' ? strip(v) : Array.isArray(v) ? v.map(walk) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, e]) => [strip(k), walk(e)])) : v;
    return JSON.stringify(walk(JSON.parse(s)));
  };
  return {
    ...ev,
    id: strip(ev.id),
    zoneId: strip(ev.zoneId),
    eventType: strip(ev.eventType),
    requestId: strip(ev.requestId),
    decision: strip(ev.decision),
    policySetId: strip(ev.policySetId),
    policySetVersionId: strip(ev.policySetVersionId),
    manifestSha: strip(ev.manifestSha),
    evaluationStatus: strip(ev.evaluationStatus),
    determiningPoliciesJson: stripJson(ev.determiningPoliciesJson),
    diagnosticsJson: stripJson(ev.diagnosticsJson),
    metadataJson: stripJson(ev.metadataJson),
  };
}

/** pg.go contentHash: the fields separated by 0x1f, then occurred_at as Unix nanoseconds. */
export function contentHash(ev: AuditEvent): string {
  const h = createHash('sha256');
  const write = (s: string) => {
    h.update(s, 'utf8');
    h.update(Buffer.from([0x1f]));
  };
  for (const s of [ev.id, ev.zoneId, ev.eventType, ev.requestId, ev.decision, ev.policySetId, ev.policySetVersionId, ev.manifestSha, ev.evaluationStatus]) write(s);
  for (const j of [ev.determiningPoliciesJson, ev.diagnosticsJson, ev.metadataJson]) write(j === null || j === '' ? 'null' : j);
  h.update(ev.occurredAtNs.toString());
  return h.digest('hex');
}

/** A Postgres timestamptz literal of a nanosecond time, truncated to the microsecond. */
export function pgTimestamp(ns: bigint): string {
  const us = ns / 1000n;
  const ms = Number(us / 1000n);
  const micro = (((us % 1_000_000n) + 1_000_000n) % 1_000_000n).toString().padStart(6, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${micro}Z`;
}
