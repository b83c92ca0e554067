import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Material } from '@caracal-rotation/contracts';
import { getRotation, type RotationRecord } from '@caracal-rotation/projection';
import pg from 'pg';
import { cliEnvironment, requireServers } from '../environment.js';
import { connectOperator, defaultActor } from '../operator.js';
import { followRotation } from '../follow.js';
import { startStack } from '@caracal-rotation/stack';
import { describeEvent } from './progress.js';
import type { Output } from '../output.js';
import type { Command } from './command.js';

const DEMO_ZONES = ['zone-demo-eu', 'zone-demo-us', 'zone-demo-ap'];

/** Every material of the catalog, in the order the demo rotates them. */
export const DEMO_REQUESTS: { material: Material; zone_ids?: string[]; role?: string }[] = [
  { material: 'AUDIT_HMAC_KEY' },
  { material: 'STREAMS_HMAC_KEY' },
  { material: 'GATEWAY_STS_HMAC_KEY' },
  { material: 'CARACAL_ADMIN_TOKEN' },
  { material: 'CARACAL_COORDINATOR_TOKEN' },
  { material: 'ZONE_KEK' },
  { material: 'ZONE_SIGNING_KEY', zone_ids: DEMO_ZONES },
  { material: 'POSTGRES_PASSWORD', role: 'api' },
  { material: 'REDIS_PASSWORD' },
];
export const DEMO_MATERIALS: Material[] = DEMO_REQUESTS.map((r) => r.material);

const TERMINAL = new Set(['completed', 'failed', 'rejected', 'abandoned']);

async function waitForRecords(pool: pg.Pool, ids: string[], timeoutMs: number): Promise<RotationRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = (await Promise.all(ids.map((id) => getRotation(pool, id)))).filter((r): r is RotationRecord => r !== undefined);
    if ((rows.length === ids.length && rows.every((r) => TERMINAL.has(r.state))) || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The rows a request produced: itself, or the zone rotations of its batch. */
async function recordedRotationIds(pool: pg.Pool, requestIds: string[], expected: number): Promise<string[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { rows } = await pool.query<{ rotation_id: string; batch_id: string | null }>(
      'SELECT rotation_id, batch_id FROM rotations WHERE rotation_id = ANY($1) OR batch_id = ANY($1)',
      [requestIds],
    );
    const children = new Set(rows.filter((r) => r.batch_id).map((r) => r.batch_id));
    const ids = rows.filter((r) => !children.has(r.rotation_id)).map((r) => r.rotation_id);
    if (ids.length >= expected || Date.now() > deadline) return ids;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * `npm run demo`: the sandbox fleet and the five services as real processes,
 * then one rotation per material, one after another, with live progress, and
 * the history as the recorder wrote it to Postgres.
 */
export async function runDemo(out: Output, requests = DEMO_REQUESTS): Promise<number> {
  const env = cliEnvironment();
  await requireServers(env);
  const runDir = await mkdtemp(join(tmpdir(), 'caracal-rotate-demo-'));
  out.line(`secrets directory  ${env.secretsDir}`);
  out.line(`database           ${new URL(env.databaseUrl).pathname.slice(1)} on ${new URL(env.databaseUrl).host}`);
  out.line(`logs               ${join(runDir, 'logs')}`);
  out.line('starting the sandbox fleet and the five services …');
  // A private Postgres that checks passwords, and an ACL user of this secrets directory's own.
  const aclUser = `caracal-demo-${createHash('sha256').update(env.secretsDir).digest('hex').slice(0, 8)}`;
  const stack = await startStack({
    ...env,
    runDir,
    sandbox: { basePort: 'ephemeral' },
    sandboxWindowMs: 1500,
    logLevel: 'info',
    seed: { zones: DEMO_ZONES, sealedSecrets: 20 },
    stores: { postgres: true, redisAclUser: aclUser },
  });
  const operator = await connectOperator(env);
  const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
  const ids: string[] = [];
  try {
    out.line(`fleet: ${Object.entries(stack.fleet!.members).map(([n, m]) => `${n} ${m!.url}`).join(', ')}`);
    for (const { material, ...selector } of requests) {
      out.line('');
      out.line(`── ${material}${selector.role ? ` (role ${selector.role})` : ''}${selector.zone_ids ? ` (${selector.zone_ids.length} zones)` : ''} ──`);
      const started = Date.now();
      const id = await operator.request({ material, ...selector, reason: 'sandbox demo rotation', actor: defaultActor(), ticket: 'DEMO-1' });
      ids.push(id);
      const result = await followRotation(
        operator.redis,
        operator.streams,
        id,
        (e) => out.line(`  +${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s  ${describeEvent(e)}`),
        { timeoutMs: 120_000 },
      );
      if (result.deadLettered) out.line(`  the request was dead-lettered (${result.deadLettered})`);
      else if (!result.finished) out.line('  (no terminal event within 120 s)');
    }
    out.line('');
    out.line('Recorded in Postgres (rotations):');
    // A zone batch is recorded as one row per zone; the request's own id is their batch id.
    const rotationIds = await recordedRotationIds(pool, ids, requests.reduce((n, r) => n + (r.zone_ids?.length ?? 1), 0));
    const rows = (await waitForRecords(pool, rotationIds, 15_000)).sort(
      (a, b) => (a.requestedAt ?? '').localeCompare(b.requestedAt ?? '') || (a.zoneId ?? '').localeCompare(b.zoneId ?? ''),
    );
    out.table(
      ['material', 'zone/role', 'state', 'actor', 'new kid', 'previous kid', 'location', 'rollback window ended', 'completed'],
      rows.map((r) => [r.material ?? '', r.zoneId ?? r.role ?? '', r.state, r.actor ?? '', r.newKid ?? '', r.previousKid ?? '', r.secretLocation ?? '', r.retireAfter ?? '', r.completedAt ?? '']),
    );
    const events = await pool.query<{ n: string }>('SELECT count(*) AS n FROM rotation_events WHERE rotation_id = ANY($1)', [rotationIds]);
    out.line(`${events.rows[0]!.n} events recorded in rotation_events for these ${rotationIds.length} rotations.`);
    const ok = rows.length === rotationIds.length && rows.every((r) => r.state === 'completed');
    out.line(ok ? 'All rotations completed.' : 'Some rotations did not complete; see the lines above and the logs.');
    out.result({ ok, rotations: rows.map(({ plan: _plan, ...r }) => r) });
    return ok ? 0 : 1;
  } finally {
    await operator.close();
    await pool.end();
    out.line('stopping …');
    await stack.stop();
  }
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'start the sandbox fleet and the five services, rotate every demo material end to end',
  usage: 'demo',
  details: `What \`npm run demo\` runs: creates the database and any missing secret, starts the
stand-in Caracal fleet and the five services as processes, rotates ${DEMO_MATERIALS.join(', ')}
one after another with live progress, prints the history the recorder wrote to Postgres,
stops everything. Exit 0 when every rotation completed.

Examples:
  npm run demo
  CARACAL_SECRETS_DIR=$(mktemp -d) caracal-rotate demo`,
  options: {},
  positionals: [],
  required: 0,
  run: ({ out }) => runDemo(out),
};
