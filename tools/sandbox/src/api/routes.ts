import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { generateAdminToken, hashAdminToken, sha256 } from './tokens.js';

/** apps/api/src/routes/list-pagination.ts */
const ListQuery = z.object({
  cursor: z.string().min(1).max(512).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(200),
});
const Cursor = z.object({ ts: z.string().min(1), id: z.string().min(1) });

interface Page {
  limit: number;
  cursor: { ts: string; id: string } | null;
}

function parseListPagination(req: FastifyRequest, reply: FastifyReply): Page | null {
  const parsed = ListQuery.safeParse(req.query ?? {});
  if (!parsed.success) {
    void reply.code(400).send({ error: 'invalid_query' });
    return null;
  }
  let cursor: Page['cursor'] = null;
  if (parsed.data.cursor) {
    try {
      const decoded = Cursor.safeParse(JSON.parse(Buffer.from(parsed.data.cursor, 'base64url').toString('utf8')));
      cursor = decoded.success ? decoded.data : null;
    } catch {
      cursor = null;
    }
    if (!cursor) {
      void reply.code(400).send({ error: 'invalid_cursor' });
      return null;
    }
  }
  return { limit: parsed.data.limit, cursor };
}

function keyset(conds: string[], values: unknown[], page: Page): { conds: string[]; values: unknown[]; limit: string } {
  const c = [...conds];
  const v = [...values];
  if (page.cursor) {
    v.push(page.cursor.ts, page.cursor.id);
    c.push(`(created_at, id) < ($${v.length - 1}, $${v.length})`);
  }
  v.push(page.limit);
  return { conds: c, values: v, limit: `$${v.length}` };
}

function listPage<T extends { id: string; created_at: Date | string }>(rows: T[], limit: number): { items: T[]; next_cursor: string | null } {
  const last = rows[rows.length - 1];
  if (rows.length < limit || !last) return { items: rows, next_cursor: null };
  const ts = last.created_at instanceof Date ? last.created_at.toISOString() : new Date(last.created_at).toISOString();
  return { items: rows, next_cursor: Buffer.from(JSON.stringify({ ts, id: last.id }), 'utf8').toString('base64url') };
}

/** apps/api/src/routes/zones.ts */
const ZONE_SELECT = `id, name, slug, dcr_enabled, operator_coauthor_badge, operator_governed,
         created_by, created_via_operator, updated_by, updated_via_operator, created_at, updated_at`;
const RESERVED_ZONE_SQL = `(lower(name) LIKE 'caracal.sys/%' OR lower(slug) LIKE 'caracal-sys-%')`;
const ZoneCreateBody = z
  .object({
    name: z.string().trim().min(1).max(120),
    slug: z
      .string()
      .regex(/^[a-z0-9-]+$/)
      .optional(),
    dcr_enabled: z.boolean().optional(),
  })
  .strict();
const IdParams = z.object({ id: z.string().min(1).max(128) }).strict();

function slugify(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'zone'
  );
}

async function nextZoneSlug(db: pg.Pool, name: string): Promise<string> {
  const base = slugify(name);
  for (let suffix = 1; suffix < 1000; suffix++) {
    const slug = suffix === 1 ? base : `${base}-${suffix}`;
    if ((await db.query('SELECT 1 FROM zones WHERE slug = $1', [slug])).rows.length === 0) return slug;
  }
  return `${base}-${uuidv7().replace(/-/g, '')}`;
}

const isSlugConflict = (err: unknown) => (err as { code?: unknown }).code === '23505' && (err as { constraint?: unknown }).constraint === 'zones_slug_key';

function reservedNamespace(kind: 'zoneName' | 'zoneSlug', value: string | undefined, createdBy: string | undefined): Record<string, string> | null {
  if (value === undefined) return null;
  const prefix = kind === 'zoneName' ? 'caracal.sys/' : 'caracal-sys-';
  if (value.trim().toLowerCase().startsWith(prefix) && createdBy !== 'env-bootstrap') {
    return { error: 'reserved_namespace', error_description: `the 'caracal.sys' namespace is reserved for Caracal internal systems` };
  }
  return null;
}

export function registerZoneRoutes(app: FastifyInstance, db: pg.Pool): void {
  app.get('/v1/zones', async (req, reply) => {
    const page = parseListPagination(req, reply);
    if (!page) return;
    const conds = ['archived_at IS NULL', `NOT ${RESERVED_ZONE_SQL}`];
    const values: unknown[] = [];
    if (req.account) {
      values.push(req.account.id);
      conds.push(`owner_account_id = $${values.length}`);
    }
    const k = keyset(conds, values, page);
    const { rows } = await db.query<{ id: string; created_at: Date }>(`SELECT ${ZONE_SELECT} FROM zones WHERE ${k.conds.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ${k.limit}`, k.values);
    return listPage(rows, page.limit);
  });

  app.post('/v1/zones', async (req, reply) => {
    const parsed = ZoneCreateBody.safeParse(req.body);
    if (!parsed.success) return reply.code(400).send({ error: 'invalid_zone' });
    const body = parsed.data;
    const reserved = reservedNamespace('zoneName', body.name, req.actor?.createdBy) ?? reservedNamespace('zoneSlug', body.slug, req.actor?.createdBy);
    if (reserved) return reply.code(409).send(reserved);
    const authorizedBy = req.headers['x-caracal-authorized-by'];
    const createdBy =
      typeof authorizedBy === 'string' && /^[\p{L}\p{N} @._+:'-]{1,256}$/u.test(authorizedBy) ? authorizedBy : req.account ? req.account.id : `admin:${req.actor!.id}`;
    const viaOperator = req.headers['x-caracal-created-via'] === 'operator';
    for (let attempt = 0; ; attempt++) {
      try {
        const { rows } = await db.query(
          `INSERT INTO zones (id, name, slug, dcr_enabled, owner_account_id, created_by, created_via_operator)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${ZONE_SELECT}`,
          [uuidv7(), body.name, body.slug ?? (await nextZoneSlug(db, body.name)), body.dcr_enabled ?? false, req.account?.id ?? null, createdBy, viaOperator],
        );
        return reply.code(201).send(rows[0]);
      } catch (err) {
        if (body.slug === undefined && attempt === 0 && isSlugConflict(err)) continue;
        if (isSlugConflict(err)) return reply.code(409).send({ error: 'zone_slug_conflict' });
        throw err;
      }
    }
  });

  app.get('/v1/zones/:id', async (req, reply) => {
    const params = IdParams.safeParse(req.params);
    if (!params.success) return reply.code(400).send({ error: 'invalid_params' });
    const { rows } = await db.query(`SELECT ${ZONE_SELECT} FROM zones WHERE id = $1 AND archived_at IS NULL`, [params.data.id]);
    if (!rows[0]) return reply.code(404).send({ error: 'zone_not_found' });
    return rows[0];
  });
}

/** apps/api/src/routes/admin-tokens.ts */
const MintBody = z
  .object({
    name: z.string().min(1).max(120),
    scope: z.enum(['global', 'zone']),
    zone_id: z.string().min(1).max(128).optional(),
    capability: z.enum(['read', 'write', 'approve']).default('write'),
  })
  .strict();

function requireManagementActor(req: FastifyRequest, reply: FastifyReply): boolean {
  if (req.actor?.scope !== 'global') {
    void reply.code(403).send({ error: 'admin_token_management_requires_global' });
    return false;
  }
  if (req.actor.createdBy.startsWith('env-derived')) {
    void reply.code(403).send({ error: 'admin_token_management_forbidden_for_derived_token' });
    return false;
  }
  return true;
}

export function registerAdminTokenRoutes(app: FastifyInstance, db: pg.Pool): void {
  app.post('/v1/admin-tokens', async (req, reply) => {
    if (!requireManagementActor(req, reply)) return;
    const parsed = MintBody.safeParse(req.body);
    if (!parsed.success) return reply.code(400).send({ error: 'invalid_admin_token_request' });
    const body = parsed.data;
    if (body.scope === 'zone') {
      if (!body.zone_id) return reply.code(400).send({ error: 'zone_id_required' });
      if ((await db.query('SELECT 1 FROM zones WHERE id = $1 AND archived_at IS NULL LIMIT 1', [body.zone_id])).rows.length === 0) return reply.code(404).send({ error: 'zone_not_found' });
    } else if (body.zone_id) {
      return reply.code(400).send({ error: 'zone_id_not_allowed_for_global' });
    }
    const token = generateAdminToken();
    const { rows } = await db.query<{ id: string; name: string; scope: string; capability: string; zone_id: string | null; created_by: string; created_at: Date }>(
      `INSERT INTO admin_tokens (id, name, token_sha256, token_hash, scope, capability, zone_id, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       RETURNING id, name, scope, capability, zone_id, created_by, created_at`,
      [uuidv7(), body.name, sha256(token), await hashAdminToken(token), body.scope, body.capability, body.scope === 'zone' ? body.zone_id : null, `admin:${req.actor!.id}`],
    );
    const row = rows[0];
    if (!row) return reply.code(500).send({ error: 'admin_token_mint_failed' });
    return reply.code(201).send({ id: row.id, name: row.name, scope: row.scope, capability: row.capability, zone_id: row.zone_id, created_by: row.created_by, created_at: row.created_at, token });
  });

  app.get('/v1/admin-tokens', async (req, reply) => {
    if (!requireManagementActor(req, reply)) return;
    const page = parseListPagination(req, reply);
    if (!page) return;
    const k = keyset(['1 = 1'], [], page);
    const { rows } = await db.query<{ id: string; created_at: Date }>(
      `SELECT id, name, scope, capability, zone_id, created_by, created_at, last_used_at, revoked_at
       FROM admin_tokens WHERE ${k.conds.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ${k.limit}`,
      k.values,
    );
    return listPage(rows, page.limit);
  });

  app.delete('/v1/admin-tokens/:id', async (req, reply) => {
    if (!requireManagementActor(req, reply)) return;
    const params = IdParams.safeParse(req.params);
    if (!params.success) return reply.code(400).send({ error: 'invalid_admin_token_id' });
    const { rows } = await db.query('UPDATE admin_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id', [params.data.id]);
    if (!rows[0]) return reply.code(404).send({ error: 'admin_token_not_found' });
    return reply.code(204).send();
  });
}
