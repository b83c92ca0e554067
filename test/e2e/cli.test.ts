import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sandboxCatalog } from '@caracal-rotation/contracts';
import { getRotation, rotationChecks } from '@caracal-rotation/projection';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { caracalRotate, cliEnvFor, parseJsonOutput, UUID, type CliRun } from '../support/cli.js';
import * as schemas from '../support/cli-schemas.js';
import { startE2E, type E2E } from '../support/e2e-stack.js';

/**
 * The operator CLI driven as a user drives it: `caracal-rotate …` as its own
 * process against one real stack (sandbox fleet + five services). The
 * catalog is the sandbox one (0.5 s windows) except CARACAL_COORDINATOR_TOKEN,
 * whose 10-minute window keeps a rotation in its rollback window (and holding
 * the class lock) for as long as a test needs.
 */
let e2e: E2E;
let env: NodeJS.ProcessEnv;
let catalogDir: string;
let catalogPath: string;
let auditId: string;

const run = (...args: string[]) => caracalRotate(args, env);
const out = (r: CliRun) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const waitForState = (id: string, state: string, timeout = 60_000) =>
  vi.waitFor(async () => expect((await getRotation(e2e.pool, id))?.state).toBe(state), { timeout, interval: 200 });

beforeAll(async () => {
  catalogDir = await mkdtemp(join(tmpdir(), 'caracal-cli-catalog-'));
  catalogPath = join(catalogDir, 'catalog.json');
  const catalog = sandboxCatalog(500);
  for (const m of catalog.materials) if (m.material === 'CARACAL_COORDINATOR_TOKEN') m.safety_window_ms = 600_000;
  await writeFile(catalogPath, JSON.stringify(catalog, null, 2));
  e2e = await startE2E('cli', { catalogPath });
  env = cliEnvFor(e2e, catalogPath);
}, 120_000);

afterAll(async () => {
  await e2e?.stop();
  await rm(catalogDir, { recursive: true, force: true });
}, 60_000);

describe('usage', () => {
  it('explains itself and exits 2 on usage errors', async () => {
    const help = await run('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes:/);
    for (const name of ['request', 'plan', 'status', 'watch', 'list', 'rollback', 'abandon', 'catalog', 'drain', 'up', 'demo']) expect(help.stdout).toContain(`  ${name} `);
    const requestHelp = await run('request', '--help');
    expect(requestHelp.code).toBe(0);
    expect(requestHelp.stdout).toMatch(/Examples:\n\s+caracal-rotate request AUDIT_HMAC_KEY/);

    const unknown = await run('rotate-everything');
    expect(unknown.code, out(unknown)).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "rotate-everything".*caracal-rotate --help/);

    const noReason = await run('request', 'AUDIT_HMAC_KEY');
    expect(noReason.code, out(noReason)).toBe(2);
    expect(noReason.stderr).toMatch(/--reason is required/);

    const badFlag = await run('list', '--colour', '--json');
    expect(badFlag.code).toBe(2);
    expect(badFlag.stdout).toBe('');
    expect(schemas.errorSchema.parse(JSON.parse(badFlag.stderr))).toMatchObject({ code: 2 });

    const badMaterial = await run('request', 'MOON_KEY', '--reason', 'x');
    expect(badMaterial.code).toBe(2);
    expect(badMaterial.stderr).toMatch(/unknown material "MOON_KEY"; known: ZONE_KEK/);
  }, 60_000);

  it('says where it looked when the secrets directory is missing', async () => {
    const r = await caracalRotate(['request', 'AUDIT_HMAC_KEY', '--reason', 'x'], { ...env, CARACAL_SECRETS_DIR: join(catalogDir, 'nowhere') });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(join(catalogDir, 'nowhere'));
    expect(r.stderr).toMatch(/caracal-rotate up --sandbox/);
  });
});

describe('catalog and plan', () => {
  it('prints the effective catalog', async () => {
    const human = await run('catalog');
    expect(human.code, out(human)).toBe(0);
    expect(human.stdout).toContain(`Catalog: ${catalogPath}`);
    expect(human.stdout).toMatch(/CARACAL_COORDINATOR_TOKEN\n[\s\S]*?window\s+10m/);
    const doc = parseJsonOutput(schemas.catalogSchema, await run('catalog', '--json'));
    expect(doc.source).toBe(catalogPath);
    expect(doc.catalog.materials.find((m) => m.material === 'AUDIT_HMAC_KEY')?.safety_window_ms).toBe(500);
  });

  /** Everything a plan could have touched: this stack's Redis keys and streams, the projection, the secrets directory. */
  async function snapshot() {
    const keys: Record<string, string> = {};
    for (const pattern of [`${e2e.prefix}*`, `{${e2e.prefix}}*`, `${e2e.namespace}*`]) {
      let cursor = '0';
      do {
        const [next, found] = await e2e.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        for (const key of found) {
          // Expiring keys (gateway nonces) come and go on their own; nothing a plan could write expires.
          if ((await e2e.redis.pttl(key)) > 0) continue;
          const type = await e2e.redis.type(key);
          keys[key] = type === 'stream' ? `stream:${await e2e.redis.xlen(key)}:${JSON.stringify(await e2e.redis.xinfo('GROUPS', key))}` : type;
        }
        cursor = next;
      } while (cursor !== '0');
    }
    const tables: Record<string, unknown> = {};
    for (const table of ['rotations', 'rotation_events', 'rotation_checks', 'rotation_drains']) {
      tables[table] = (await e2e.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0];
    }
    const files: Record<string, string> = {};
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else files[path] = `${(await stat(path)).mtimeMs}:${await readFile(path, 'utf8')}`;
      }
    };
    await walk(e2e.secretsDir);
    return { keys, tables, files, dir: (await stat(e2e.secretsDir)).mtimeMs };
  }

  it('plans locally and writes nothing to Redis, Postgres or the secrets directory', async () => {
    const before = await snapshot();
    const human = await run('plan', 'AUDIT_HMAC_KEY');
    expect(human.code, out(human)).toBe(0);
    expect(human.stdout).toMatch(/phases\s+stage → deploy → retire/);
    expect(human.stdout).toMatch(/roll order\s+api → sts → gateway → audit → console/);
    expect(human.stdout).toMatch(/safety window\s+0.5s/);
    expect(human.stdout).toContain(`${e2e.namespace}caracal.audit.events`);

    const streamsKey = parseJsonOutput(schemas.planOkSchema, await run('plan', 'STREAMS_HMAC_KEY', '--json'));
    expect(streamsKey.plans[0]!.drain).toContainEqual({ stream: `${e2e.prefix}.*`, group: '*' });
    expect(streamsKey.drain.inspected).toBe(true);
    expect(streamsKey.drain.targets.some((t) => t.stream === `${e2e.prefix}.requested` && t.group === 'planner')).toBe(true);

    const admin = parseJsonOutput(schemas.planOkSchema, await run('plan', 'CARACAL_ADMIN_TOKEN', '--json'));
    expect(admin.plans[0]!.overlap).toBe('none');
    expect(admin.plans[0]!.warnings.join()).toMatch(/restarts together/);

    const batch = parseJsonOutput(schemas.planOkSchema, await run('plan', 'ZONE_SIGNING_KEY', '--zone', 'z1', '--zone', 'z2', '--json'));
    expect(batch.plans.map((p) => p.zone_id)).toEqual(['z1', 'z2']);

    const rejected = await run('plan', 'MOON_KEY');
    expect(rejected.code).toBe(1);
    expect(rejected.stdout).toMatch(/REJECTED unknown_material/);
    const noRole = await run('plan', 'POSTGRES_PASSWORD', '--json');
    expect(noRole.code).toBe(1);
    expect(parseJsonOutput(schemas.planRejectedSchema, noRole).reason_code).toBe('invalid_request');

    expect(await snapshot()).toEqual(before);
  }, 60_000);
});

describe('a rotation from request to history', () => {
  it('request --wait prints every stage with its time and exits 0', async () => {
    const r = await caracalRotate(['request', 'AUDIT_HMAC_KEY', '--reason', 'cli end-to-end', '--ticket', 'CLI-1', '--wait', '--timeout', '120'], env, 150_000);
    expect(r.code, out(r)).toBe(0);
    auditId = r.stdout.match(UUID)![0];
    for (const line of [
      /requested AUDIT_HMAC_KEY by .*: cli end-to-end/,
      /planner\s+\d+\.\ds\s+planned: stage, deploy, retire/,
      /secret-writer\s+\d+\.\ds\s+written\(stage\)/,
      /roller\s+\d+\.\ds\s+rolled\(deploy\)/,
      /verifier\s+\d+\.\ds\s+verified\(deploy\): ok/,
      /recorder\s+\d+\.\ds\s+retiring/,
      /verified\(retire\): ok/,
      /completed: new kid/,
    ]) {
      expect(r.stdout).toMatch(line);
    }
    expect(r.stdout).toMatch(new RegExp(`Rotation ${auditId}: completed`));
  }, 180_000);

  it('status, list, watch and drain show it', async () => {
    await waitForState(auditId, 'completed', 15_000);
    const overview = await run('status');
    expect(overview.code, out(overview)).toBe(0);
    expect(overview.stdout).toMatch(/AUDIT_HMAC_KEY\s+-\s+[0-9a-f]{16}\s+\S+\s+completed/);
    const overviewDoc = parseJsonOutput(schemas.statusOverviewSchema, await run('status', '--json'));
    expect(overviewDoc.materials.find((m) => m.material === 'AUDIT_HMAC_KEY')?.latestRotationId).toBe(auditId);
    expect(overviewDoc.never_rotated).toContain('ZONE_KEK');

    const detail = await run('status', auditId);
    expect(detail.code, out(detail)).toBe(0);
    expect(detail.stdout).toMatch(/state\s+completed/);
    expect(detail.stdout).toMatch(/Timeline[\s\S]*verified\(retire\)/);
    expect(detail.stdout).toMatch(/Checks \(\d+, 0 failing\)/);
    expect(detail.stdout).toMatch(/Drain evidence \([1-9]\d* stream\/group pairs\)/);
    const detailDoc = parseJsonOutput(schemas.statusDetailSchema, await run('status', auditId, '--json'));
    expect(detailDoc.rotation).toMatchObject({ rotationId: auditId, state: 'completed', ticket: 'CLI-1' });
    expect(detailDoc.timeline.map((t) => t.type)).toEqual(expect.arrayContaining(['requested', 'planned', 'written', 'rolled', 'verified', 'retiring', 'completed']));
    expect(detailDoc.checks.some((c) => c.name === 'audit_old_key_refused' && c.ok)).toBe(true);

    const list = parseJsonOutput(schemas.listSchema, await run('list', '--material', 'AUDIT_HMAC_KEY', '--state', 'completed', '--json'));
    expect(list.rotations.map((r) => r.rotationId)).toContain(auditId);
    const listHuman = await run('list', '--limit', '5');
    expect(listHuman.stdout).toContain(auditId);
    expect((await run('list', '--state', 'exploded')).code).toBe(2);

    const watch = await run('watch', auditId);
    expect(watch.code, out(watch)).toBe(0);
    expect(watch.stdout).toMatch(/verified\(deploy\): ok[\s\S]*completed: new kid/);
    expect(parseJsonOutput(schemas.followSchema, await run('watch', auditId, '--json')).outcome).toBe('completed');

    const drain = parseJsonOutput(schemas.drainSchema, await run('drain', '--json'));
    expect(drain.targets.some((t) => t.stream === `${e2e.prefix}.verified` && t.group === 'recorder')).toBe(true);
    expect(drain.targets.some((t) => t.stream === `${e2e.namespace}caracal.audit.events`)).toBe(true);
    const drainHuman = await run('drain', '--material', 'AUDIT_HMAC_KEY');
    expect(drainHuman.code, out(drainHuman)).toBe(0);
    expect(drainHuman.stdout).toMatch(/caracal\.audit\.events\s+\S+\s+\d+\s+\d+/);

    const missing = await run('status', '01900000-0000-7000-8000-000000000000');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no rotation 01900000-0000-7000-8000-000000000000/);
  }, 90_000);

  it('refuses a rollback once the rollback window has ended', async () => {
    const r = await run('rollback', auditId, '--reason', 'too late');
    expect(r.code, out(r)).toBe(1);
    expect(r.stderr).toMatch(/the rollback window ended at \S+; the old material was retired/);
    const doc = schemas.errorSchema.parse(JSON.parse((await run('rollback', auditId, '--json')).stderr));
    expect(doc.code).toBe(1);
  });
});

describe('rollback and abandon inside the pipeline', () => {
  it('rolls back inside the rollback window and restores the previous material', async () => {
    const file = join(e2e.secretsDir, 'caracalCoordinatorToken');
    const original = await readFile(file, 'utf8');
    const requested = parseJsonOutput(schemas.requestSchema, await run('request', 'CARACAL_COORDINATOR_TOKEN', '--reason', 'rollback drill', '--json'));
    const id = requested.rotation_id;
    await waitForState(id, 'waiting_retirement');
    expect(await readFile(file, 'utf8')).not.toBe(original);

    const rollback = await run('rollback', id, '--reason', 'coordinator views broke', '--actor', 'alice@ops', '--json');
    expect(rollback.code, out(rollback)).toBe(0);
    expect(parseJsonOutput(schemas.rollbackSchema, rollback)).toMatchObject({ rotation_id: id, actor: 'alice@ops' });

    const watch = await caracalRotate(['watch', id, '--timeout', '90'], env, 120_000);
    expect(watch.code, out(watch)).toBe(1);
    expect(watch.stdout).toMatch(/operator\s+\d+\.\ds\s+verified\(deploy\): FAILED[\s\S]*operator_rollback/);
    expect(watch.stdout).toMatch(/\[rolled back\]/);
    await waitForState(id, 'failed', 15_000);
    expect(await getRotation(e2e.pool, id)).toMatchObject({ rolledBack: true });
    expect((await rotationChecks(e2e.pool, id)).find((c) => c.name === 'operator_rollback')?.detail).toBe('rollback requested by alice@ops: coordinator views broke');
    expect(await readFile(file, 'utf8')).toBe(original);
  }, 150_000);

  it('abandons a stuck rotation, which releases the class lock for the queue', async () => {
    const stuck = parseJsonOutput(schemas.requestSchema, await run('request', 'CARACAL_COORDINATOR_TOKEN', '--reason', 'will get stuck', '--json')).rotation_id;
    await waitForState(stuck, 'waiting_retirement');

    // Another class waits behind the lock: --wait gives up with exit 3 and the rotation stays queued.
    const queued = await run('request', 'CARACAL_ADMIN_TOKEN', '--reason', 'behind the lock', '--wait', '--timeout', '3', '--json');
    expect(queued.code, out(queued)).toBe(3);
    const queuedDoc = parseJsonOutput(schemas.requestWaitSchema, queued);
    expect(queuedDoc.outcome).toBe('timeout');
    expect(queuedDoc.events.map((e) => e.type)).toContain('queued');
    const next = queuedDoc.rotation_id;
    await waitForState(next, 'queued', 10_000);

    const noReason = await run('abandon', stuck);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/--reason is required/);
    expect((await run('abandon', next, '--reason', 'x')).stderr).toMatch(/rotation is queued: it holds no class lock yet/);

    const abandon = await run('abandon', stuck, '--reason', 'coordinator host lost', '--actor', 'bob@ops');
    expect(abandon.code, out(abandon)).toBe(0);
    expect(abandon.stdout).toMatch(/the planner releases the class lock held for material CARACAL_COORDINATOR_TOKEN/);
    expect(abandon.stdout).toMatch(/the secret files were NOT touched/);

    const watch = await caracalRotate(['watch', next, '--timeout', '90'], env, 120_000);
    expect(watch.code, out(watch)).toBe(0);
    expect(watch.stdout).toMatch(/queued behind CARACAL_COORDINATOR_TOKEN[\s\S]*planned[\s\S]*completed: new kid/);

    await waitForState(stuck, 'abandoned', 15_000);
    expect(await getRotation(e2e.pool, stuck)).toMatchObject({ failure: 'abandoned by bob@ops: coordinator host lost', rolledBack: false });
    const again = await run('abandon', stuck, '--reason', 'twice', '--json');
    expect(again.code).toBe(1);
    expect(schemas.errorSchema.parse(JSON.parse(again.stderr)).error).toMatch(/rotation is abandoned: it has already ended/);
    const statusDoc = parseJsonOutput(schemas.statusDetailSchema, await run('status', stuck, '--json'));
    expect(statusDoc.timeline.at(-1)).toMatchObject({ type: 'failed', stage: 'operator' });
  }, 180_000);
});
