import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MATERIALS } from '@caracal-rotation/contracts';
import { getRotation, rotationChecks } from '@caracal-rotation/projection';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { caracalRotate, described, parseJsonError, parseJsonOutput, UUID, type CliRun } from '../support/cli.js';
import * as schemas from '../support/cli-schemas.js';
import { startE2E, type E2E } from '../support/e2e-stack.js';
import { snapshotFiles } from '../support/snapshots.js';

/**
 * The operator's CLI as a user runs it: `node_modules/.bin/caracal-rotate`
 * as its own process, with the environment an operator sets, against one
 * stack (the sandbox replica and the five services). The coordinator token
 * has a ten-minute window here, so a rotation of it waits in its rollback
 * window, holding the class lock, until a test rolls it back or abandons it.
 */
let e2e: E2E;
let env: NodeJS.ProcessEnv;
let scratch: string;

const run = (...args: string[]) => caracalRotate(args, env);
const waitForState = (id: string, state: string) => vi.waitFor(async () => expect((await getRotation(e2e.pool, id))?.state).toBe(state), { timeout: 60_000, interval: 100 });
const exitOf = (r: CliRun, code: number) => expect(r.code, described(r)).toBe(code);

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'caracal-e2e-cli-'));
  e2e = await startE2E('cli', { windows: { CARACAL_COORDINATOR_TOKEN: 600_000 } });
  env = e2e.cliEnv;
}, 120_000);
afterAll(async () => {
  await e2e?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
}, 60_000);

describe('usage and bad input', () => {
  it('explains itself, and answers a usage error with exit 2 and what to do', async () => {
    const help = await run('--help');
    exitOf(help, 0);
    for (const name of ['init', 'request', 'plan', 'status', 'watch', 'list', 'rollback', 'abandon', 'catalog', 'drain', 'up']) expect(help.stdout).toMatch(new RegExp(`\\n  ${name} +\\S`));
    expect(help.stdout).toMatch(/Exit codes:\n\s+0\s+success[\s\S]*\n\s+69\s+Redis or PostgreSQL unavailable/);
    const requestHelp = await run('request', '--help');
    exitOf(requestHelp, 0);
    expect(requestHelp.stdout).toMatch(/^Usage: caracal-rotate request <MATERIAL> --reason TEXT/);
    expect(requestHelp.stdout).toMatch(/Examples:\n\s+caracal-rotate request AUDIT_HMAC_KEY/);
    expect(parseJsonOutput(schemas.versionSchema, await run('--version', '--json')).version).toMatch(/^\d/);

    const cases: [string[], RegExp][] = [
      [['rotate-everything'], /unknown command "rotate-everything"; commands: init, request, .*\(see caracal-rotate --help\)/],
      [['request', 'AUDIT_HMAC_KEY'], /--reason is required: say why you rotate/],
      [['request', 'MOON_KEY', '--reason', 'x'], /unknown material "MOON_KEY"; known: ZONE_KEK, ZONE_SIGNING_KEY/],
      [['request', 'POSTGRES_PASSWORD', '--role', 'Not A Role', '--reason', 'x'], /the request is not valid: role: a lowercase role name/],
      [['request', 'ZONE_SIGNING_KEY', '--zone', '*', '--zone', 'z1', '--reason', 'x'], /--zone '\*' already means every zone; give it alone/],
      [['request', 'AUDIT_HMAC_KEY', '--reason', 'x', '--wait', '--timeout', 'soon'], /--timeout takes a positive number of seconds, not "soon"/],
      [['status', 'not-a-rotation'], /"not-a-rotation" is not a rotation id/],
      [['watch', '01900000-0000-7000-8000-000000000000', '--timeout', '0'], /--timeout takes a positive number of seconds/],
      [['rollback', '01900000-0000-7000-8000-000000000000'], /--reason is required: say why/],
      [['rollback', '01900000-0000-7000-8000-000000000000', '--reason', 'x', '--timeout', '0'], /--timeout takes a positive number of seconds/],
      [['abandon', '01900000-0000-7000-8000-000000000000', '--reason', 'x', '--timeout', 'never'], /--timeout takes a positive number of seconds/],
      [['list', '--state', 'exploded'], /--state "exploded" is not a rotation state; one of requested, /],
      [['list', '--limit', '0'], /--limit takes a whole number from 1 to 10000/],
      [['list', '--colour'], /Unknown option '--colour'.*see caracal-rotate list --help/],
      [['drain', '--material', 'MOON_KEY'], /--material "MOON_KEY" is not in the catalog/],
    ];
    for (const [args, message] of cases) {
      const r = await run(...args);
      expect(r.code, `caracal-rotate ${args.join(' ')}\n${described(r)}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr).toMatch(/^caracal-rotate: /);
      // With --json, stdout stays empty and the error is one JSON line.
      const json = await run(...args, '--json');
      expect(json.stdout, args.join(' ')).toBe('');
      expect(parseJsonError(schemas.errorSchema, json)).toMatchObject({ code: 2, error: expect.stringMatching(message) });
    }
  }, 90_000);

  it('says where it looked and what to do when its key, Redis or Postgres is missing', async () => {
    const noKey = await caracalRotate(['request', 'AUDIT_HMAC_KEY', '--reason', 'x'], { ...env, CARACAL_OPERATOR_KEY_FILE: join(scratch, 'nokey') });
    exitOf(noKey, 2);
    expect(noKey.stderr).toContain(`the operator key ${join(scratch, 'nokey')} is missing`);
    expect(noKey.stderr).toMatch(/Run caracal-rotate init to create it/);

    const noRedis = await caracalRotate(['request', 'AUDIT_HMAC_KEY', '--reason', 'x'], { ...env, REDIS_URL: 'redis://127.0.0.1:1' });
    exitOf(noRedis, 69);
    expect(noRedis.stderr).toMatch(/Redis does not answer at 127\.0\.0\.1:1 \(REDIS_URL\)/);

    const noPostgres = await caracalRotate(['list'], { ...env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/caracal_rotation' });
    exitOf(noPostgres, 69);
    expect(noPostgres.stderr).toMatch(/PostgreSQL does not answer at 127\.0\.0\.1:1 \(DATABASE_URL\)/);

    const badCatalog = await caracalRotate(['catalog'], { ...env, CARACAL_CATALOG: join(scratch, 'missing.json') });
    exitOf(badCatalog, 2);
    expect(badCatalog.stderr).toContain(`CARACAL_CATALOG=${join(scratch, 'missing.json')} cannot be read (ENOENT)`);
  }, 30_000);
});

describe('init, catalog and plan', () => {
  it('init creates what is missing in a fresh directory and never overwrites', async () => {
    const rotationDir = join(scratch, 'rotation');
    const fresh = parseJsonOutput(schemas.initSchema, await caracalRotate(['init', '--operator', 'carol@ops', '--json'], { ...env, CARACAL_ROTATION_DIR: rotationDir }));
    expect(fresh).toMatchObject({ rotation_dir: rotationDir, created: ['busKey', 'operatorKey', 'operators.json'], kept: [] });
    // Only its owner can enter the directory; no key file can be written in place.
    expect((await stat(rotationDir)).mode & 0o777).toBe(0o700);
    for (const file of ['busKey', 'operatorKey']) expect((await stat(join(rotationDir, file))).mode & 0o222, file).toBe(0);
    const registry = JSON.parse(await readFile(join(rotationDir, 'operators.json'), 'utf8')) as { operators: { name: string; materials: string[] }[] };
    expect(registry.operators).toMatchObject([{ name: 'carol@ops', materials: ['*'] }]);

    const before = await snapshotFiles(rotationDir, e2e.stack.rotationDir);
    const again = await caracalRotate(['init', '--operator', 'mallory'], { ...env, CARACAL_ROTATION_DIR: rotationDir });
    exitOf(again, 0);
    expect(again.stdout).toMatch(/kept\s+busKey[\s\S]*kept\s+operatorKey[\s\S]*kept\s+operators\.json/);
    const stack = parseJsonOutput(schemas.initSchema, await run('init', '--json'));
    expect(stack).toMatchObject({ rotation_dir: e2e.stack.rotationDir, created: [] });
    expect(await snapshotFiles(rotationDir, e2e.stack.rotationDir)).toEqual(before);
  });

  it('prints the effective catalog', async () => {
    const human = await run('catalog');
    exitOf(human, 0);
    expect(human.stdout).toContain(`Catalog: ${env.CARACAL_CATALOG} (version 2, ${MATERIALS.length} materials)`);
    expect(human.stdout).toMatch(/\nCARACAL_COORDINATOR_TOKEN\n[\s\S]*?\n {2}window +10m\n/);
    expect(human.stdout).toMatch(/\nZONE_KEK\n[\s\S]*?\n {2}holders +api → sts\n/);
    const doc = parseJsonOutput(schemas.catalogSchema, await run('catalog', '--json'));
    expect(doc.source).toBe(env.CARACAL_CATALOG);
    expect(doc.catalog.materials.find((m) => m.material === 'AUDIT_HMAC_KEY')?.safety_window_ms).toBe(500);
  });

  /** Everything a plan could touch: this stack's Redis keys, the projection, the secrets and the orchestrator's directory. */
  async function everything() {
    const keys: Record<string, string> = {};
    for (const pattern of [`${e2e.prefix}*`, `{${e2e.prefix}}*`]) {
      let cursor = '0';
      do {
        const [next, found] = await e2e.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        for (const key of found) {
          // Keys that expire (a service's keyring report) come and go on their own; nothing a plan could write expires.
          if ((await e2e.redis.pttl(key)) > 0) continue;
          keys[key] = (await e2e.redis.type(key)) === 'stream' ? `stream:${await e2e.redis.xlen(key)}` : await e2e.redis.type(key);
        }
        cursor = next;
      } while (cursor !== '0');
    }
    const tables: Record<string, number> = {};
    for (const table of ['rotations', 'rotation_events', 'rotation_checks', 'rotation_drains', 'rotation_plans']) {
      tables[table] = (await e2e.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
    }
    return { keys, tables, files: await snapshotFiles(e2e.stack.secretsDir, e2e.stack.rotationDir) };
  }

  it('plans with the planner\'s own code and writes nothing to Redis, Postgres or any secrets directory', async () => {
    const before = await everything();
    const kek = await run('plan', 'ZONE_KEK');
    exitOf(kek, 0);
    expect(kek.stdout).toMatch(/computed locally; nothing was published or written/);
    expect(kek.stdout).toMatch(/\n {2}stage +write; api → sts; checks /);
    expect(kek.stdout).toMatch(/\n {2}deploy +write; api → sts; checks .*kek_reseal/);
    expect(kek.stdout).toMatch(/\n {2}safety window +0\.5s/);

    const audit = parseJsonOutput(schemas.planOkSchema, await run('plan', 'AUDIT_HMAC_KEY', '--json'));
    expect(audit.plan.phases.map((p) => [p.phase, p.roll])).toEqual([
      ['deploy', [['api', 'sts', 'gateway', 'audit', 'coordinator']]],
      ['retire', []],
    ]);
    expect(audit.drain.inspected).toBe(true);
    expect(audit.drain.targets.map((t) => `${t.stream}/${t.group}`)).toContain('caracal.audit.events/audit-ingestor');

    const admin = parseJsonOutput(schemas.planOkSchema, await run('plan', 'CARACAL_ADMIN_TOKEN', '--json'));
    expect(admin.plan.rollback.mode).toBe('forward');
    expect(admin.plan.skipped).toContainEqual({ what: 'restart web', why: 'the holders file does not list it' });

    const rejected = await run('plan', 'MOON_KEY');
    exitOf(rejected, 1);
    expect(rejected.stdout).toMatch(/^REJECTED unknown_material: unknown material "MOON_KEY"/);
    const noRole = await run('plan', 'POSTGRES_PASSWORD', '--json');
    exitOf(noRole, 1);
    expect(parseJsonOutput(schemas.planRejectedSchema, noRole)).toMatchObject({ reason_code: 'invalid_request', message: expect.stringMatching(/needs role/) });

    expect(await everything()).toEqual(before);
  }, 60_000);
});

describe('a rotation from request to history', () => {
  let auditId: string;

  it('request --wait follows every stage with its time, and exits 0', async () => {
    const r = await caracalRotate(['request', 'AUDIT_HMAC_KEY', '--reason', 'cli end-to-end', '--ticket', 'CLI-1', '--wait', '--timeout', '120'], env, 150_000);
    exitOf(r, 0);
    auditId = r.stdout.match(UUID)![0];
    const lines = [
      /rotation \S+ requested: AUDIT_HMAC_KEY, signed by key [0-9a-f]{16}/,
      /\+ +\d+\.\ds +operator +\d+\.\ds +requested AUDIT_HMAC_KEY: cli end-to-end/,
      /planner +\d+\.\ds +planned for e2e@test/,
      /secret-writer +\d+\.\ds +written\(deploy\): kid [0-9a-f]{12} at .*auditHmacKey/,
      /roller +\d+\.\ds +restarted\(deploy\): api ok, sts ok, gateway ok, audit ok, coordinator ok/,
      /verifier +\d+\.\ds +verified\(deploy\): ok \(\d+\/\d+ checks\)/,
      /recorder +\d+\.\ds +retiring: window ended/,
      /verifier +\d+\.\ds +verified\(retire\): ok/,
    ];
    let at = 0;
    for (const line of lines) {
      const found = r.stdout.slice(at).search(line);
      expect(found, `${line} after offset ${at} in\n${r.stdout}`).toBeGreaterThanOrEqual(0);
      at += found;
    }
    expect(r.stdout).toMatch(new RegExp(`Rotation ${auditId}: completed\\. \\(\\d+\\.\\ds after the request\\)`));

    const json = parseJsonOutput(schemas.requestWaitSchema, await caracalRotate(['request', 'GATEWAY_STS_HMAC_KEY', '--reason', 'cli json', '--wait', '--json'], env, 150_000));
    expect(json).toMatchObject({ outcome: 'completed', exit_code: 0, request: { material: 'GATEWAY_STS_HMAC_KEY', reason: 'cli json' } });
    expect(json.events.map((e) => e.type)).toEqual(expect.arrayContaining(['requested', 'planned', 'written', 'rolled', 'verified', 'retiring']));
  }, 180_000);

  it('request --dry-run --wait ends at the plan and exits 0', async () => {
    const before = await snapshotFiles(e2e.stack.secretsDir);
    const r = await run('request', 'CARACAL_ADMIN_TOKEN', '--reason', 'what would happen', '--dry-run', '--wait');
    exitOf(r, 0);
    expect(r.stdout).toMatch(/planned for e2e@test \(dry run\)/);
    expect(r.stdout).toMatch(/: planned \(dry run\): nothing was written or restarted\./);
    expect(await snapshotFiles(e2e.stack.secretsDir)).toEqual(before);
  });

  it('status, list, watch and drain show it from the projection and the streams', async () => {
    await waitForState(auditId, 'completed');
    const overview = await run('status');
    exitOf(overview, 0);
    expect(overview.stdout).toMatch(new RegExp(`\\nAUDIT_HMAC_KEY +- +[0-9a-f]{16} +\\S+ +completed +${auditId}\\n`));
    expect(overview.stdout).toMatch(/never rotated by this system: ZONE_KEK, ZONE_SIGNING_KEY, STREAMS_HMAC_KEY/);
    const overviewDoc = parseJsonOutput(schemas.statusOverviewSchema, await run('status', '--json'));
    expect(overviewDoc.materials.find((m) => m.material === 'AUDIT_HMAC_KEY')).toMatchObject({ latest_rotation_id: auditId, latest_state: 'completed' });
    expect(overviewDoc.never_rotated).toContain('ZONE_KEK');

    const detail = await run('status', auditId);
    exitOf(detail, 0);
    expect(detail.stdout).toMatch(/\n {2}state +completed \(phase retire\)\n/);
    expect(detail.stdout).toMatch(/\n {2}requested +\S+ by e2e@test: cli end-to-end \[CLI-1\]\n/);
    expect(detail.stdout).toMatch(/\n {2}rollback +window ended \S+\n/);
    expect(detail.stdout).toMatch(/Path\n {2}done +plan[\s\S]*done +retire: verify/);
    expect(detail.stdout).toMatch(/Timeline[\s\S]*completed: new kid [0-9a-f]{12}, previous [0-9a-f]{12}[\s\S]*verified\(retire\)/);
    expect(detail.stdout).toMatch(/Checks \(\d+, 0 failing\)/);
    expect(detail.stdout).toMatch(/Drain evidence \([1-9]\d* stream\/group pairs\)\n[\s\S]*caracal\.audit\.events +audit-ingestor/);
    const detailDoc = parseJsonOutput(schemas.statusDetailSchema, await run('status', auditId, '--json'));
    expect(detailDoc.rotation).toMatchObject({ rotation_id: auditId, state: 'completed', ticket: 'CLI-1', actor: 'e2e@test' });
    expect(detailDoc.timeline.map((t) => t.type)).toEqual(expect.arrayContaining(['requested', 'planned', 'written', 'rolled', 'verified', 'retiring', 'completed']));
    expect(detailDoc.checks.filter((c) => c.name === 'audit_old_key_refused').map((c) => [c.phase, c.ok])).toEqual([
      ['deploy', true],
      ['retire', true],
    ]);
    expect(detailDoc.path.every((s) => s.status === 'done')).toBe(true);

    const list = parseJsonOutput(schemas.listSchema, await run('list', '--material', 'AUDIT_HMAC_KEY', '--state', 'completed', '--json'));
    expect(list.rotations.map((r) => r.rotation_id)).toEqual([auditId]);
    const listHuman = await run('list', '--limit', '5');
    expect(listHuman.stdout).toMatch(new RegExp(`${auditId} +AUDIT_HMAC_KEY +- +completed +retire +e2e@test`));
    expect((await run('list', '--material', 'SECRET_STORE_KEK')).stdout).toMatch(/\(no rotation matches\)/);

    const watch = await run('watch', auditId);
    exitOf(watch, 0);
    expect(watch.stdout).toMatch(new RegExp(`^Rotation ${auditId}: AUDIT_HMAC_KEY, completed\\n`));
    expect(watch.stdout).toMatch(/verified\(deploy\): ok[\s\S]*verified\(retire\): ok/);
    expect(parseJsonOutput(schemas.followSchema, await run('watch', auditId, '--json'))).toMatchObject({ rotation_id: auditId, outcome: 'completed', exit_code: 0 });

    const drain = parseJsonOutput(schemas.drainSchema, await run('drain', '--json'));
    expect(drain.patterns).toEqual([
      { stream: 'caracal.*', group: '*' },
      { stream: `${e2e.prefix}.*`, group: '*' },
    ]);
    expect(drain.targets.some((t) => t.stream === `${e2e.prefix}.verified` && t.group === 'recorder')).toBe(true);
    expect(drain.targets.some((t) => t.stream === 'caracal.sessions.revoke' && t.group === 'sts-revocation')).toBe(true);
    const drainHuman = await run('drain', '--material', 'AUDIT_HMAC_KEY');
    exitOf(drainHuman, 0);
    expect(drainHuman.stdout).toMatch(/^Patterns: caracal\.audit\.events \/ \*\n/);
    expect(drainHuman.stdout).toMatch(/\ncaracal\.audit\.events +audit-ingestor +0 +\d+ +\S+\n/);

    const missing = await run('status', '01900000-0000-7000-8000-000000000000');
    exitOf(missing, 1);
    expect(missing.stderr).toMatch(/no rotation 01900000-0000-7000-8000-000000000000 in the projection/);
  }, 90_000);

  it('refuses a rollback once the rotation has ended, with exit 1 and the planner\'s reason', async () => {
    const r = await run('rollback', auditId, '--reason', 'too late');
    exitOf(r, 1);
    expect(r.stderr).toMatch(/rollback of \S+ refused by the planner \(not_rollbackable\): the rotation is not in flight/);
    const json = await run('rollback', auditId, '--reason', 'too late', '--json');
    exitOf(json, 1);
    expect(parseJsonOutput(schemas.intentSchema, json)).toMatchObject({ outcome: 'refused', by: 'planner', code: 'not_rollbackable' });
    expect(parseJsonError(schemas.errorSchema, json).code).toBe(1);
  });
});

describe('rollback and abandon', () => {
  it('rolls back inside the window and restores the previous token', async () => {
    const file = join(e2e.stack.secretsDir, 'caracalCoordinatorToken');
    const original = await readFile(file, 'utf8');
    const id = parseJsonOutput(schemas.requestSchema, await run('request', 'CARACAL_COORDINATOR_TOKEN', '--reason', 'rollback drill', '--json')).rotation_id;
    await waitForState(id, 'waiting_retirement');
    expect(await readFile(file, 'utf8')).not.toBe(original);
    const status = await run('status', id);
    expect(status.stdout).toMatch(new RegExp(`rollback +window open until \\S+ \\(caracal-rotate rollback ${id}\\)`));

    const rollback = await run('rollback', id, '--reason', 'coordinator views broke', '--ticket', 'OPS-9', '--json');
    exitOf(rollback, 0);
    expect(parseJsonOutput(schemas.intentSchema, rollback)).toMatchObject({ rotation_id: id, action: 'rollback', outcome: 'approved', by: 'secret-writer' });

    const watch = await caracalRotate(['watch', id, '--timeout', '90'], env, 120_000);
    exitOf(watch, 1);
    expect(watch.stdout).toMatch(/operator +\d+\.\ds +rollback asked: coordinator views broke/);
    expect(watch.stdout).toMatch(/planner +\d+\.\ds +rollback approved for e2e@test: coordinator views broke/);
    expect(watch.stdout).toMatch(/restarted\(rollback\): coordinator ok[\s\S]*verified\(rollback\): ok[\s\S]*\[rolled back\]/);
    expect(watch.stdout).toMatch(/: ROLLED BACK: the previous material is in place again and verified; the rotation did not complete \(caracal-rotate status /);
    await waitForState(id, 'failed');
    expect(await getRotation(e2e.pool, id)).toMatchObject({ rolledBack: true });
    expect((await rotationChecks(e2e.pool, id)).filter((c) => c.phase === 'rollback').every((c) => c.ok)).toBe(true);
    expect(await readFile(file, 'utf8')).toBe(original);
  }, 120_000);

  it('abandons a rotation holding the lock, which lets the queue go on, and touches no secret', async () => {
    const stuck = parseJsonOutput(schemas.requestSchema, await run('request', 'CARACAL_COORDINATOR_TOKEN', '--reason', 'will get stuck', '--json')).rotation_id;
    await waitForState(stuck, 'waiting_retirement');
    const token = await readFile(join(e2e.stack.secretsDir, 'caracalCoordinatorToken'), 'utf8');

    // Another class waits behind the lock: --wait gives up with exit 3 and the rotation stays queued.
    const queued = await run('request', 'CARACAL_ADMIN_TOKEN', '--reason', 'behind the lock', '--wait', '--timeout', '3', '--json');
    exitOf(queued, 3);
    const queuedDoc = parseJsonOutput(schemas.requestWaitSchema, queued);
    expect(queuedDoc.outcome).toBe('timeout');
    expect(queuedDoc.events.find((e) => e.type === 'queued')?.summary).toBe('queued behind CARACAL_COORDINATOR_TOKEN (position 1)');
    const next = queuedDoc.rotation_id;
    await waitForState(next, 'queued');

    const noReason = await run('abandon', stuck);
    exitOf(noReason, 2);
    expect(noReason.stderr).toMatch(/--reason is required/);

    const abandon = await run('abandon', stuck, '--reason', 'coordinator host lost');
    exitOf(abandon, 0);
    expect(abandon.stdout).toMatch(new RegExp(`^Abandoned rotation ${stuck} \\(it was in flight\\); no secret was touched\\.\\n`));
    expect(abandon.stdout).toMatch(new RegExp(`check +caracal-rotate status ${stuck}`));

    const watch = await caracalRotate(['watch', next, '--timeout', '90'], env, 120_000);
    exitOf(watch, 0);
    expect(watch.stdout).toMatch(/queued behind CARACAL_COORDINATOR_TOKEN \(position 1\)[\s\S]*planned for e2e@test[\s\S]*verified\(retire\): ok/);

    await waitForState(stuck, 'abandoned');
    expect(await readFile(join(e2e.stack.secretsDir, 'caracalCoordinatorToken'), 'utf8')).toBe(token);
    const detail = parseJsonOutput(schemas.statusDetailSchema, await run('status', stuck, '--json'));
    expect(detail.rotation).toMatchObject({ state: 'abandoned', rolled_back: false });
    expect(detail.timeline.find((t) => t.type === 'abandoned')?.summary).toBe('abandoned by e2e@test (it was in flight): coordinator host lost');

    const again = await run('abandon', stuck, '--reason', 'twice', '--json');
    exitOf(again, 1);
    expect(parseJsonOutput(schemas.intentSchema, again)).toMatchObject({ outcome: 'refused', code: 'not_abandonable' });
    expect(parseJsonError(schemas.errorSchema, again).error).toMatch(/refused \(not_abandonable\): the rotation is neither queued nor in flight/);
  }, 150_000);

  it('refuses what an operator of operators.json may not do', async () => {
    // A second operator, registered as an operator would register one: a key file and an entry with narrow rights.
    const keyFile = join(e2e.stack.rotationDir, 'operators', 'ci.key');
    await mkdir(join(e2e.stack.rotationDir, 'operators'), { mode: 0o700 });
    await writeFile(keyFile, randomBytes(32).toString('hex'), { mode: 0o400 });
    const registryFile = join(e2e.stack.rotationDir, 'operators.json');
    const registry = JSON.parse(await readFile(registryFile, 'utf8')) as { operators: unknown[] };
    registry.operators.push({ name: 'ci-schedule', key_file: 'operators/ci.key', materials: ['AUDIT_HMAC_KEY'], emergency: false, rollback: false, abandon: false });
    await chmod(registryFile, 0o600);
    await writeFile(registryFile, JSON.stringify(registry, null, 2));
    await chmod(registryFile, 0o400);
    const ci = { ...env, CARACAL_OPERATOR_KEY_FILE: keyFile };

    const admin = await caracalRotate(['request', 'CARACAL_ADMIN_TOKEN', '--reason', 'not mine to ask', '--wait', '--timeout', '60'], ci);
    exitOf(admin, 1);
    expect(admin.stdout).toMatch(/planner +\d+\.\ds +rejected: unauthorized: .*ci-schedule/);
    expect(admin.stdout).toMatch(/REJECTED by the planner/);

    const emergency = await caracalRotate(['request', 'AUDIT_HMAC_KEY', '--reason', 'not mine either', '--emergency', '--wait', '--timeout', '60'], ci);
    exitOf(emergency, 1);
    expect(emergency.stdout).toMatch(/rejected: unauthorized: .*emergency/);

    const stuck = parseJsonOutput(schemas.requestSchema, await run('request', 'CARACAL_COORDINATOR_TOKEN', '--reason', 'for the intents', '--json')).rotation_id;
    await waitForState(stuck, 'waiting_retirement');
    for (const action of ['rollback', 'abandon']) {
      const r = await caracalRotate([action, stuck, '--reason', 'not allowed', '--json'], ci);
      exitOf(r, 1);
      expect(parseJsonOutput(schemas.intentSchema, r)).toMatchObject({ outcome: 'refused', by: 'planner', code: 'unauthorized' });
    }
    expect((await getRotation(e2e.pool, stuck))?.state).toBe('waiting_retirement');
    // The operator with the rights ends it.
    exitOf(await run('abandon', stuck, '--reason', 'end of the drill'), 0);
  }, 120_000);
});
