import { createHash, createHmac } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { v7 as uuidv7 } from 'uuid';

/**
 * apps/api/src/admin-audit.ts with packages/adminAudit insertAdminAuditRecord:
 * every successful /v1/ mutation is recorded before its response is sent
 * (an unrecordable one answers 500 audit_unavailable), every failed /v1/
 * request after it. Records form a per-zone hash chain whose links are
 * HMAC-signed with AUDIT_HMAC_KEY: this is where the API holds that key.
 */

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const SECRET_FIELD_NAMES = new Set(['client_secret', 'secret', 'password', 'token', 'private_key', 'api_key', 'assertion', 'bearer_token', 'access_token', 'refresh_token']);
const COLLECTION =
  /^(zones|applications|workloads|resources|providers|provider-connections|policies|policy-sets|policy-templates|grants|subject-issuers|subjects|approvals|admin-tokens|operator-conversations)$/;
const GLOBAL_CHAIN_KEY = 'admin-audit::global';

const pathOnly = (url: string) => url.split('?')[0]!;

function collectChangedFields(body: Record<string, unknown>, prefix: string, depth: number, fields: string[]): boolean {
  let secret = false;
  for (const [key, value] of Object.entries(body)) {
    if (SECRET_FIELD_NAMES.has(key.toLowerCase())) {
      secret = true;
      continue;
    }
    const path = prefix ? `${prefix}.${key}` : key;
    if (value && typeof value === 'object' && !Array.isArray(value) && depth < 3) {
      const before = fields.length;
      const nested = collectChangedFields(value as Record<string, unknown>, path, depth + 1, fields);
      if (nested) secret = true;
      if (fields.length === before && !nested && fields.length < 64) fields.push(path);
      continue;
    }
    if (fields.length < 64) fields.push(path);
  }
  return secret;
}

function actionSegment(url: string): string | null {
  const segments = pathOnly(url).split('/').filter(Boolean);
  for (let i = segments.length - 2; i >= 0; i--) {
    const candidate = segments[i];
    if (candidate && segments[i + 1] && COLLECTION.test(candidate)) {
      const verb = segments[i + 2];
      return verb && !COLLECTION.test(verb) ? verb : null;
    }
  }
  return null;
}

function changeSummary(method: string, url: string, body: unknown): Record<string, unknown> | null {
  const action = actionSegment(url);
  const fields: string[] = [];
  let secretRotated = false;
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    secretRotated = collectChangedFields(body as Record<string, unknown>, '', 0, fields);
    fields.sort();
  }
  if (action === 'rotate-secret') secretRotated = true;
  const kind = method === 'DELETE' ? 'delete' : action ? (secretRotated ? 'secret_rotation' : 'action') : method === 'POST' ? 'create' : secretRotated ? 'secret_rotation' : 'update';
  if (kind === 'update' && fields.length === 0) return null;
  return { change_kind: kind, changed_fields: fields, ...(secretRotated ? { secret_rotated: true } : {}) };
}

function zoneFromUrl(url: string): string | null {
  const match = /^\/v1\/zones\/([^/?]+)/.exec(url);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return null;
  }
}

function entityFromUrl(url: string): { type: string | null; id: string | null } {
  const segments = pathOnly(url).split('/').filter(Boolean);
  for (let i = segments.length - 2; i >= 0; i--) {
    const candidate = segments[i];
    const next = segments[i + 1];
    if (candidate && next && COLLECTION.test(candidate)) return { type: candidate, id: next };
  }
  return { type: null, id: null };
}

function createdEntity(method: string, path: string, status: number, payload: unknown): { type: string; id: string } | null {
  if (method !== 'POST' || status !== 201) return null;
  const collection = path.split('/').filter(Boolean).at(-1);
  if (!collection || !COLLECTION.test(collection)) return null;
  if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return null;
  try {
    const body = JSON.parse(payload.toString()) as { id?: unknown };
    return typeof body.id === 'string' ? { type: collection, id: body.id } : null;
  } catch {
    return null;
  }
}

interface Record_ {
  requestId: string;
  actorId: string | null;
  actorName: string | null;
  actorScope: string | null;
  action: string;
  method: string;
  path: string;
  zoneId: string | null;
  entityType: string | null;
  entityId: string | null;
  statusCode: number;
  payloadJson: Record<string, unknown>;
}

/** insertAdminAuditRecord, in a transaction holding the chain's advisory lock. */
async function insertRecord(db: pg.Pool, rec: Record_, key: Buffer | null): Promise<void> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const id = uuidv7();
    const occurredAt = new Date().toISOString();
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [rec.zoneId ?? GLOBAL_CHAIN_KEY]);
    const head = await client.query<{ content_sha256: string; chain_seq: string }>(
      `SELECT COALESCE(content_sha256, '') AS content_sha256, COALESCE(chain_seq, 0) AS chain_seq
       FROM admin_audit_events WHERE zone_id IS NOT DISTINCT FROM $1 ORDER BY chain_seq DESC NULLS LAST LIMIT 1`,
      [rec.zoneId],
    );
    const prevSha = head.rows[0]?.content_sha256 ?? '';
    const nextSeq = Number(head.rows[0]?.chain_seq ?? 0) + 1;
    const h = createHash('sha256');
    for (const part of [id, rec.requestId, rec.actorId, rec.actorName, rec.actorScope, rec.action, rec.method, rec.path, rec.zoneId, rec.entityType, rec.entityId, String(rec.statusCode), JSON.stringify(rec.payloadJson), occurredAt]) {
      h.update(part ?? '');
      h.update('\u001f');
    }
    const contentSha = h.digest('hex');
    const hmac = key && key.length > 0 ? createHmac('sha256', key).update(contentSha).update('|').update(prevSha).digest('hex') : '';
    await client.query(
      `INSERT INTO admin_audit_events
       (id, request_id, actor_id, actor_name, actor_scope, action, method, path,
        zone_id, entity_type, entity_id, status_code, payload_json, occurred_at,
        content_sha256, prev_content_sha256, chain_hmac, chain_seq)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13::jsonb,$14,$15,$16,$17,$18)`,
      [id, rec.requestId, rec.actorId, rec.actorName, rec.actorScope, rec.action, rec.method, rec.path, rec.zoneId, rec.entityType, rec.entityId, rec.statusCode, rec.payloadJson, occurredAt, contentSha, prevSha === '' ? null : prevSha, hmac === '' ? null : hmac, nextSeq],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export function registerAdminAuditHook(app: FastifyInstance, db: pg.Pool, key: Buffer | null): void {
  const record = (req: FastifyRequest, reply: FastifyReply, payload?: unknown) => {
    const actor = req.actor;
    const path = pathOnly(req.url);
    const created = createdEntity(req.method, path, reply.statusCode, payload);
    const entity = entityFromUrl(req.url);
    const zoneScoped = actor?.scope === 'zone' && actor.zoneId ? actor.zoneId : null;
    const rls = zoneScoped ? { rls_mode: 'zone_scoped', rls_zone_guc: zoneScoped } : { rls_mode: 'control_plane_wildcard', rls_zone_guc: '*' };
    const change = reply.statusCode < 400 ? changeSummary(req.method, req.url, req.body) : null;
    return insertRecord(
      db,
      {
        requestId: req.id,
        actorId: actor?.id ?? null,
        actorName: actor?.name ?? null,
        actorScope: actor?.scope ?? null,
        action: `${req.method} ${path}`,
        method: req.method,
        path,
        zoneId: zoneFromUrl(req.url) ?? (created?.type === 'zones' ? created.id : null),
        entityType: created?.type ?? entity.type,
        entityId: created?.id ?? entity.id,
        statusCode: reply.statusCode,
        payloadJson: { ...rls, ...(req.account ? { operator: req.account.id } : {}), ...change },
      },
      key,
    );
  };
  const gated = new WeakSet<FastifyRequest>();
  app.addHook('onSend', (req, reply, payload, done) => {
    if (!req.url.startsWith('/v1/') || reply.statusCode >= 400 || !MUTATING.has(req.method)) return done(null, payload);
    record(req, reply, payload).then(
      () => {
        gated.add(req);
        done(null, payload);
      },
      (err: unknown) => {
        gated.add(req);
        req.log.error({ err, requestId: req.id }, 'admin audit record could not be persisted; refusing to report success');
        reply.code(500);
        done(null, JSON.stringify({ error: 'audit_unavailable', error_description: 'operation applied but its audit record could not be persisted' }));
      },
    );
  });
  app.addHook('onResponse', async (req, reply) => {
    if (gated.has(req) || !req.url.startsWith('/v1/') || reply.statusCode < 400) return;
    await record(req, reply).catch((err: unknown) => req.log.error({ err, requestId: req.id }, 'failed to record admin audit event'));
  });
}
