import type { IncomingMessage } from 'node:http';
import type pg from 'pg';
import { seal, type KekKeyring } from '../css1.js';
import { checkSealed } from '../sealed/check.js';
import { kekKeyringOf } from '../sealed/kek-keyring.js';
import { resealAll } from '../sealed/reseal.js';
import { SEALED_CHECK_PATH, SEALED_PATH, SEALED_RESEAL_PATH } from '../sealed/paths.js';
import { putSealed } from '../sealed/store.js';
import type { MemberContext } from './context.js';
import { HttpError, readJsonObject, sendJson, type Route } from './http.js';

/** Checks the caller; each member uses its own admin token. */
export type Authorize = (req: IncomingMessage) => void;

const MAX_VALUE_BYTES = 64 * 1024;

/**
 * Endpoints over the sealed zone secrets (CSS1 under the holder's KEK).
 * Values go in, never out: the check reports counts only.
 */
export function sealedRoutes(ctx: MemberContext, authorize: Authorize, which: { write: boolean }): Route[] {
  const check: Route = {
    method: 'GET',
    path: SEALED_CHECK_PATH,
    async handler(req, res) {
      authorize(req);
      const { db, keyring } = sealedDeps(ctx);
      sendJson(res, 200, await checkSealed(db, keyring));
    },
  };
  if (!which.write) return [check];
  return [
    {
      method: 'POST',
      path: SEALED_PATH,
      async handler(req, res) {
        authorize(req);
        const body = await readJsonObject(req);
        const { ref, purpose, value } = body;
        if (typeof ref !== 'string' || ref === '' || typeof purpose !== 'string' || purpose === '' || typeof value !== 'string') {
          throw new HttpError(400, 'ref and purpose must be non-empty strings, value a string');
        }
        if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) throw new HttpError(413, 'value too large');
        const { db, keyring } = sealedDeps(ctx);
        await putSealed(db, { ref, purpose, sealed: seal(keyring.current, purpose, ref, value) });
        sendJson(res, 200, { stored: true, ref, purpose, kek_id: keyring.currentId });
      },
    },
    check,
    {
      method: 'POST',
      path: SEALED_RESEAL_PATH,
      async handler(req, res) {
        authorize(req);
        const { db, keyring } = sealedDeps(ctx);
        const counts = await resealAll(db, keyring, {
          onBatch: (b) => ctx.log('info', 'reseal batch', { batch: b.batch, rows: b.rows, resealed: b.resealed, skipped: b.skipped, failed: b.failed, failures: b.failures }),
        });
        sendJson(res, 200, counts);
      },
    },
  ];
}

function sealedDeps(ctx: MemberContext): { db: pg.Pool; keyring: KekKeyring } {
  if (!ctx.db) throw new HttpError(503, 'DATABASE_URL is not configured');
  const keyring = kekKeyringOf(ctx.material);
  if (!keyring) throw new HttpError(503, 'SECRET_STORE_KEK is not loaded');
  return { db: ctx.db, keyring };
}
