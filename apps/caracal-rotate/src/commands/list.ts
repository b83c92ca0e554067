import { normalizeMaterial } from '@caracal-rotation/contracts';
import { ROTATION_STATES, type RotationState } from '@caracal-rotation/lifecycle';
import { listRotations } from '@caracal-rotation/projection';
import { EXIT, UsageError } from '../environment.js';
import { dash, isUuid, scopeOf } from '../format.js';
import { withProjection } from '../projection-access.js';
import { str, type Command } from './command.js';
import { summary } from './status.js';

export const listCommand: Command = {
  name: 'list',
  summary: 'rotations, newest first, filtered by state, material or batch',
  usage: 'list [--state STATE] [--material M] [--batch BATCH_ID] [--limit N]',
  details: `Reads the recorder's projection (DATABASE_URL).

Options:
  --state S      one of ${ROTATION_STATES.join(', ')}
  --material M   e.g. AUDIT_HMAC_KEY (SECRET_STORE_KEK means ZONE_KEK)
  --batch ID     the members of a batch (the request id of a multi-zone request)
  --limit N      at most N rows (default 20)

Examples:
  caracal-rotate list
  caracal-rotate list --state failed --limit 5
  caracal-rotate list --material ZONE_SIGNING_KEY --batch 01936d3e-8f1a-7c2b-9a4d-0e5f6a7b8c9d --json`,
  options: { state: { type: 'string' }, material: { type: 'string' }, batch: { type: 'string' }, limit: { type: 'string' } },
  positionals: [],
  required: 0,
  async run({ out, env, values }) {
    const state = str(values, 'state');
    if (state !== undefined && !(ROTATION_STATES as readonly string[]).includes(state)) {
      throw new UsageError(`--state ${JSON.stringify(state)} is not a rotation state; one of ${ROTATION_STATES.join(', ')}`, EXIT.usage);
    }
    const rawMaterial = str(values, 'material');
    const material = rawMaterial === undefined ? undefined : normalizeMaterial(rawMaterial);
    if (rawMaterial !== undefined && !material) throw new UsageError(`--material ${JSON.stringify(rawMaterial)} is not a material (see caracal-rotate catalog)`, EXIT.usage);
    const batchId = str(values, 'batch');
    if (batchId !== undefined && !isUuid(batchId)) throw new UsageError(`--batch takes the batch's rotation id (a UUID), not ${JSON.stringify(batchId)}`, EXIT.usage);
    const limit = Number(str(values, 'limit') ?? 20);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError('--limit takes a whole number from 1 to 10000', EXIT.usage);

    const rows = await withProjection(env, (db) => listRotations(db, { state: state as RotationState | undefined, material, batchId: batchId?.toLowerCase(), limit }));
    out.table(
      ['rotation', 'material', 'scope', 'state', 'phase', 'actor', 'requested', 'new kid'],
      rows.map((r) => [r.rotationId, dash(r.material), scopeOf(r), `${r.state}${r.dryRun ? ' (dry run)' : ''}`, dash(r.phase), dash(r.actor), dash(r.requestedAt), dash(r.newKid?.slice(0, 16))]),
    );
    if (rows.length === 0) out.line('(no rotation matches)');
    out.result({ rotations: rows.map(summary) });
    return EXIT.ok;
  },
};
