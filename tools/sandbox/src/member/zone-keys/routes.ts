import type { IncomingMessage } from 'node:http';
import type { MemberContext } from '../context.js';
import { HttpError, readJsonObject, sendJson, type Route } from '../http.js';
import { isZoneId, publicJwk, type PublicZoneJwk } from './keys.js';
import { MAX_MANDATE_TTL_SECONDS, signMandate, verifyMandate } from './mandates.js';
import { JWKS_CACHE_CONTROL, JWKS_PATH, MANDATE_VERIFY_PATH, MANDATES_PATH, ZONES_PATH } from './paths.js';
import type { ZoneKeys, ZoneKeyStore } from './store.js';

const DEFAULT_MANDATE_TTL_SECONDS = 300;
const ZONE_SEGMENT = '([^/]+)';

/**
 * The keys the JWKS serves: the active key, and the previous one while the
 * active key is younger than the window (Caracal: 24 h, by age; the sandbox
 * also lets the orchestrator retire it early through retire-previous).
 */
export function servedJwks(keys: ZoneKeys, previousWindowMs: number, now = Date.now()): PublicZoneJwk[] {
  const served = [publicJwk(keys.active)];
  if (keys.previous && now - keys.active.created_at < previousWindowMs) served.push(publicJwk(keys.previous));
  return served;
}

/** The STS's zone signing-key endpoints; `authorize` checks STS_ADMIN_TOKEN. */
export function zoneKeyRoutes(ctx: MemberContext, store: ZoneKeyStore, authorize: (req: IncomingMessage) => void): Route[] {
  const windowMs = ctx.config.jwksPreviousWindowMs;
  const zoneKeys = async (zoneId: string): Promise<ZoneKeys> => {
    const keys = await store.get(zoneId);
    if (!keys) throw new HttpError(404, 'zone has no signing key');
    return keys;
  };

  return [
    {
      method: 'GET',
      path: JWKS_PATH,
      async handler(_req, res, { url }) {
        const zoneId = url.searchParams.get('zone_id');
        if (!zoneId) throw new HttpError(400, 'zone_id is required');
        const keys = await zoneKeys(zoneId);
        sendJson(res, 200, { keys: servedJwks(keys, windowMs) }, { 'cache-control': JWKS_CACHE_CONTROL });
      },
    },
    {
      method: 'GET',
      path: ZONES_PATH,
      async handler(req, res) {
        authorize(req);
        sendJson(res, 200, { zones: await store.listZones() });
      },
    },
    {
      method: 'POST',
      path: ZONES_PATH,
      async handler(req, res) {
        authorize(req);
        const { zone_ids: zoneIds } = await readJsonObject(req);
        if (!Array.isArray(zoneIds) || !zoneIds.every(isZoneId)) throw new HttpError(400, 'zone_ids must be an array of zone ids ([A-Za-z0-9._:-], 1-128 chars)');
        sendJson(res, 200, await store.createZones(zoneIds));
      },
    },
    {
      method: 'POST',
      path: new RegExp(`^${ZONES_PATH}/${ZONE_SEGMENT}/signing-key/rotate$`),
      async handler(req, res, { match }) {
        authorize(req);
        const zoneId = zoneIdFrom(match);
        const { active, previous } = await store.rotate(zoneId);
        ctx.log('info', 'zone signing key rotated', { zone_id: zoneId, kid: active.kid, previous_kid: previous?.kid ?? null });
        sendJson(res, 200, { rotated: true, zone_id: zoneId, kid: active.kid });
      },
    },
    {
      // Sandbox only: real Caracal has no such endpoint and drops the previous
      // key from the JWKS by age (24 h). The orchestrator calls this after its
      // safety window, optionally naming the kid it means to retire.
      method: 'POST',
      path: new RegExp(`^${ZONES_PATH}/${ZONE_SEGMENT}/signing-key/retire-previous$`),
      async handler(req, res, { match }) {
        authorize(req);
        const zoneId = zoneIdFrom(match);
        const { kid: expected } = await readJsonObject(req, { emptyIsObject: true });
        if (expected !== undefined && (typeof expected !== 'string' || expected === '')) throw new HttpError(400, 'kid must be a non-empty string');
        const outcome = await store.retirePrevious(zoneId, expected);
        if (outcome.status === 'no_zone') throw new HttpError(404, 'zone has no signing key');
        if (outcome.status === 'kid_mismatch') throw new HttpError(409, `the previous key is ${outcome.kid}, not ${String(expected)}`);
        if (outcome.status === 'retired') ctx.log('info', 'previous zone signing key retired', { zone_id: zoneId, kid: outcome.kid });
        // Idempotent: retiring when nothing is left answers retired:false, kid:null.
        sendJson(res, 200, { retired: outcome.status === 'retired', zone_id: zoneId, kid: outcome.status === 'retired' ? outcome.kid : null });
      },
    },
    {
      method: 'POST',
      path: MANDATES_PATH,
      async handler(req, res) {
        authorize(req);
        const body = await readJsonObject(req);
        const { zone_id: zoneId, subject } = body;
        const ttl = body.ttl_seconds ?? DEFAULT_MANDATE_TTL_SECONDS;
        if (!isZoneId(zoneId) || typeof subject !== 'string' || subject === '') throw new HttpError(400, 'zone_id and subject are required');
        if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_MANDATE_TTL_SECONDS) {
          throw new HttpError(400, `ttl_seconds must be a whole number from 1 to ${MAX_MANDATE_TTL_SECONDS}`);
        }
        const { active } = await zoneKeys(zoneId);
        const mandate = await signMandate(store.signer(zoneId, active), active.kid, { zoneId, subject, ttlSeconds: ttl });
        sendJson(res, 200, { mandate });
      },
    },
    {
      // No token: verification uses only public keys, as any relying party does.
      method: 'POST',
      path: MANDATE_VERIFY_PATH,
      async handler(req, res) {
        const { mandate, zone_id: zoneId } = await readJsonObject(req);
        if (typeof mandate !== 'string' || mandate === '' || typeof zoneId !== 'string' || zoneId === '') {
          throw new HttpError(400, 'mandate and zone_id are required');
        }
        const keys = await zoneKeys(zoneId);
        sendJson(res, 200, await verifyMandate(mandate, zoneId, servedJwks(keys, windowMs)));
      },
    },
  ];
}

function zoneIdFrom(match: RegExpExecArray | null): string {
  let zoneId: string;
  try {
    zoneId = decodeURIComponent(match?.[1] ?? '');
  } catch {
    throw new HttpError(400, 'zone id is not valid percent-encoding');
  }
  if (!isZoneId(zoneId)) throw new HttpError(400, 'not a zone id ([A-Za-z0-9._:-], 1-128 chars)');
  return zoneId;
}
