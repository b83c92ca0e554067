import { promises as fs } from 'node:fs';
import path from 'node:path';
import { holdersConfigSchema } from '@caracal-rotation/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestFleet, waitFor, type TestFleet } from './support/fleet.js';

/**
 * caracal-sandbox up as a whole: the ready line, the secrets directory in
 * Caracal's layout, the holders file, the Docker Engine API over the socket,
 * restarts that re-read secrets (the admin token), and a clean stop.
 */

const PRESET_METRICS_BEARER = 'ab'.repeat(32);
let fleet: TestFleet;

beforeAll(async () => {
  fleet = await startTestFleet({
    zones: 2,
    // An existing secret is never overwritten by the sandbox's bootstrap.
    beforeLaunch: (dir) => fs.writeFile(path.join(dir, 'metricsBearer'), PRESET_METRICS_BEARER, { mode: 0o444 }),
  });
}, 240_000);
afterAll(async () => {
  await fleet?.stop();
}, 120_000);

const SECRET_BYTES: Record<string, number> = {
  postgresPassword: 24,
  redisPassword: 24,
  caracalAdminToken: 32,
  caracalCoordinatorToken: 32,
  caracalAuthSecret: 32,
  secretStoreKek: 32,
  auditHmacKey: 32,
  streamsHmacKey: 32,
  idempotencyHmacKey: 32,
  gatewayStsHmacKey: 32,
  apiDbPassword: 24,
  stsDbPassword: 24,
  gatewayDbPassword: 24,
  auditDbPassword: 24,
  coordinatorDbPassword: 24,
  authDbPassword: 24,
  stsAdminToken: 32,
};

describe('the ready line and the secrets directory', () => {
  it('names every service, the files and the seeded zones', () => {
    const r = fleet.sandbox;
    expect(r.state).toBe('ready');
    expect(r.secrets_dir).toBe(fleet.secretsDir);
    expect(Object.keys(r.services).sort()).toEqual(['api', 'audit', 'coordinator', 'gateway', 'sts']);
    for (const base of Object.values(r.services)) expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(r.redis_url_file).toBe(path.join(fleet.secretsDir, 'redisUrl'));
    expect(r.postgres.admin_url_file).toBe(path.join(fleet.secretsDir, 'databaseUrl'));
    expect(r.docker_socket).toBe(path.join(fleet.runDir, 'docker.sock'));
    expect(r.zones).toHaveLength(2);
  });

  it('writes Caracal’s files: 0700 directory, 0444 lowercase hex of the right length', async () => {
    expect((await fs.stat(fleet.secretsDir)).mode & 0o777).toBe(0o700);
    for (const [name, bytes] of Object.entries(SECRET_BYTES)) {
      const file = path.join(fleet.secretsDir, name);
      expect((await fs.stat(file)).mode & 0o777, name).toBe(0o444);
      expect(await fs.readFile(file, 'utf8'), name).toMatch(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));
    }
    expect((await fs.stat(path.join(fleet.secretsDir, 'allowlist'))).isDirectory()).toBe(true);
    expect((await fs.stat(path.join(fleet.secretsDir, 'console'))).isDirectory()).toBe(true);
  });

  it('keeps a secret that already existed', async () => {
    expect(await fleet.secret('metricsBearer')).toBe(PRESET_METRICS_BEARER);
    const metrics = await fetch(`${fleet.sandbox.services.gateway}/metrics`, { headers: bearer(PRESET_METRICS_BEARER) });
    expect(metrics.status).toBe(200);
  });

  it('renders the derived URLs for the private servers and keeps the previous KEK equal to the current one', async () => {
    const pw = await fleet.secret('postgresPassword');
    expect(await fleet.secret('databaseUrl')).toMatch(new RegExp(`^postgres://caracal:${pw}@127\\.0\\.0\\.1:\\d+/caracal$`));
    for (const role of ['api', 'sts', 'gateway', 'audit', 'coordinator']) {
      expect(await fleet.secret(`${role}DatabaseUrl`)).toMatch(new RegExp(`^postgres://caracal${role}:${await fleet.secret(`${role}DbPassword`)}@127\\.0\\.0\\.1:\\d+/caracal$`));
    }
    expect(await fleet.secret('authDatabaseUrl')).toMatch(/\/caracal_auth$/);
    expect(await fleet.secret('redisUrl')).toMatch(new RegExp(`^redis://:${await fleet.secret('redisPassword')}@127\\.0\\.0\\.1:\\d+$`));
    expect(await fleet.secret('secretStoreKekPrevious')).toBe(await fleet.secret('secretStoreKek'));
  });

  it('runs Redis with requirepass and Caracal’s streams and groups', async () => {
    const redis = fleet.redis();
    const groups = async (stream: string) => ((await redis.xinfo('GROUPS', stream)) as unknown[][]).map((g) => g[1]);
    expect(await groups('caracal.audit.events')).toEqual(expect.arrayContaining(['audit-ingestor', 'siem-export']));
    expect(await groups('caracal.sessions.revoke')).toEqual(expect.arrayContaining(['sts-revocation']));
    expect(await groups('caracal.agents.lifecycle')).toEqual(['coordinator-relay']);
    const anonymous = redis.duplicate({ password: undefined });
    anonymous.on('error', () => undefined);
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    anonymous.disconnect();
  });

  it('gives each service role its own login and the databases caracal and caracal_auth', async () => {
    const admin = await fleet.admin();
    const roles = await admin.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname LIKE 'caracal%' AND rolcanlogin ORDER BY rolname`);
    expect(roles.rows.map((r) => r.rolname)).toEqual(['caracal', 'caracalapi', 'caracalaudit', 'caracalauth', 'caracalcoordinator', 'caracalgateway', 'caracalsts']);
    const dbs = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'caracal%' ORDER BY datname`);
    expect(dbs.rows.map((r) => r.datname)).toEqual(['caracal', 'caracal_auth']);
  });
});

describe('the holders file', () => {
  it('parses as the v2 schema and restarts every service through the sandbox’s Docker socket', async () => {
    const holders = holdersConfigSchema.parse(JSON.parse(await fs.readFile(fleet.sandbox.holders, 'utf8')));
    for (const [name, base] of Object.entries(fleet.sandbox.services)) {
      const holder = holders.services[name as keyof typeof holders.services]!;
      expect(holder.url).toBe(base);
      expect(holder.restart).toMatchObject({ adapter: 'docker', container: `caracal-${name}-1`, socket: fleet.sandbox.docker_socket });
    }
    expect(holders.zones?.admin_token_file).toBe('stsAdminToken');
    expect(holders.postgres?.admin_url_file).toBe('databaseUrl');
    expect(holders.redis?.admin_url_file).toBe('redisUrl');
    expect(holders.kek_reseal?.command[1]).toMatch(/reseal\.js$/);
    expect(holders.kek_reseal?.env).toMatchObject({ SECRET_STORE_KEK_FILE: '{secrets_dir}/secretStoreKek', DATABASE_URL_FILE: '{secrets_dir}/databaseUrl' });
  });
});

interface Inspect {
  Id: string;
  Name: string;
  RestartCount: number;
  State: { Status: string; Running: boolean; Paused: boolean; Restarting: boolean; Pid: number; ExitCode: number; StartedAt: string; FinishedAt: string };
  Config: { Image: string; Labels: Record<string, string> };
}

describe('the Docker Engine API on the socket', () => {
  it('answers ping, version and a compose-labelled container list', async () => {
    expect(await fleet.docker('GET', '/_ping')).toEqual({ status: 200, body: 'OK' });
    expect((await fleet.docker('GET', '/version')).status).toBe(200);
    const list = (await fleet.docker('GET', '/v1.43/containers/json')).body as { Names: string[]; Labels: Record<string, string>; State: string }[];
    expect(list.map((c) => c.Names[0]).sort()).toEqual(['/caracal-api-1', '/caracal-audit-1', '/caracal-coordinator-1', '/caracal-gateway-1', '/caracal-sts-1']);
    for (const c of list) {
      expect(c.State).toBe('running');
      expect(c.Labels['com.docker.compose.project']).toBe('caracal');
      expect(`/caracal-${c.Labels['com.docker.compose.service']}-1`).toBe(c.Names[0]);
    }
  });

  it('inspects a container with Docker’s fields and refuses an unknown one', async () => {
    const { status, body } = await fleet.docker('GET', '/containers/caracal-sts-1/json');
    const inspect = body as Inspect;
    expect(status).toBe(200);
    expect(inspect.Name).toBe('/caracal-sts-1');
    expect(inspect.State).toMatchObject({ Status: 'running', Running: true, Paused: false, Restarting: false, ExitCode: 0, FinishedAt: '0001-01-01T00:00:00Z' });
    expect(inspect.State.StartedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/);
    expect(inspect.Config.Labels['com.docker.compose.service']).toBe('sts');
    expect(inspect.Config.Image).toMatch(/caracal-go/);
    expect(await fleet.docker('GET', '/containers/caracal-nope-1/json')).toEqual({ status: 404, body: { message: 'No such container: caracal-nope-1' } });
  });

  it('stop answers 204 then 304, start 204 then 304', async () => {
    expect((await fleet.docker('POST', '/containers/caracal-coordinator-1/stop?t=5')).status).toBe(204);
    expect((await fleet.docker('POST', '/containers/caracal-coordinator-1/stop')).status).toBe(304);
    await expect(fetch(`${fleet.sandbox.services.coordinator}/health`)).rejects.toThrow();
    expect((await fleet.docker('POST', '/containers/caracal-coordinator-1/start')).status).toBe(204);
    expect((await fleet.docker('POST', '/containers/caracal-coordinator-1/start')).status).toBe(304);
    await waitFor(async () => (await fetch(`${fleet.sandbox.services.coordinator}/ready`).catch(() => undefined))?.status === 200, 'coordinator ready');
  });
});

describe('a restart re-reads the secrets (apps/api/src/auth.ts bootstrap token)', () => {
  const zonesWith = async (token: string) => (await fetch(`${fleet.sandbox.services.api}/v1/zones?limit=1`, { headers: bearer(token) })).status;
  let oldToken: string;
  const newToken = 'c0'.repeat(32);

  it('gives the container a new pid and StartedAt, and the API accepts the new admin token and refuses the old one', async () => {
    const before = (await fleet.docker('GET', '/containers/caracal-api-1/json')).body as Inspect;
    oldToken = await fleet.secret('caracalAdminToken');
    expect(await zonesWith(oldToken)).toBe(200);
    await fleet.writeSecret('caracalAdminToken', newToken);
    // Secrets are read once at start: until the restart only the old token works.
    expect(await zonesWith(oldToken)).toBe(200);
    expect(await zonesWith(newToken)).toBe(401);
    await fleet.restart('api');
    const after = (await fleet.docker('GET', '/containers/caracal-api-1/json')).body as Inspect;
    expect(after.Id).toBe(before.Id);
    expect(after.State.Pid).not.toBe(before.State.Pid);
    expect(after.State.StartedAt > before.State.StartedAt).toBe(true);
    expect(await zonesWith(newToken)).toBe(200);
    expect(await zonesWith(oldToken)).toBe(401);
  });

  it('never un-revokes: restoring the old token and restarting locks out both', async () => {
    await fleet.writeSecret('caracalAdminToken', oldToken);
    await fleet.restart('api');
    expect(await zonesWith(oldToken)).toBe(401);
    expect(await zonesWith(newToken)).toBe(401);
    const admin = await fleet.admin();
    const rows = await admin.query<{ revoked: boolean }>(`SELECT revoked_at IS NOT NULL AS revoked FROM admin_tokens WHERE created_by = 'env-bootstrap'`);
    expect(rows.rows.map((r) => r.revoked)).toEqual([true, true]);
  });
});

describe('stopping', () => {
  it('stops every process it started and removes the socket', async () => {
    const services = fleet.sandbox.services;
    await fleet.sandbox.stop();
    for (const base of Object.values(services)) await expect(fetch(`${base}/health`)).rejects.toThrow();
    await expect(fs.stat(fleet.sandbox.docker_socket)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
