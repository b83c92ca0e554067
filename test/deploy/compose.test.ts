import { CARACAL_SERVICES, holdersConfigSchema } from '@caracal-rotation/contracts';
import { describe, expect, it } from 'vitest';
import { CARACAL_COMPOSE_NETWORK, CARACAL_COMPOSE_PROJECT, CARACAL_PORTS, composeContainer } from './caracal.js';
import { CARACAL_SECRETS_SOURCE, COMPOSE_DIR, ComposeModel, DOCKER_SOCKET, ROTATION_DIR_SOURCE, withoutMessages } from './compose-model.js';
import { SERVICES, composeEnv, repoFile, secretProblem } from './support.js';

const model = new ComposeModel();
const { file } = model;
const OURS = [...SERVICES, 'caracal-rotate'] as const;
const argv = (v: string[] | string | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : v.split(/\s+/));

describe('deploy/compose/compose.yaml beside a caracal up deployment', () => {
  it('is a project of its own on Caracal\'s network, which it joins and never creates', () => {
    // `caracal up` runs with --remove-orphans in project `caracal`: our containers must not be in it.
    expect(file.name).toBeDefined();
    expect(file.name).not.toBe(CARACAL_COMPOSE_PROJECT);
    const caracal = Object.entries(file.networks ?? {}).filter(([, n]) => n.name === CARACAL_COMPOSE_NETWORK);
    expect(caracal).toHaveLength(1);
    expect(caracal[0]![1].external).toBe(true);
    for (const name of SERVICES) expect(model.onCaracalNetwork(name), name).toBe(true);
  });

  it('keeps the bus Redis and the projection Postgres on a private network, out of Caracal\'s reach', () => {
    const redis = model.service('rotation-redis');
    const cmd = argv(redis.command);
    expect(redis.image).toMatch(/^redis:7([.-]|$)/);
    expect(cmd[cmd.indexOf('--appendonly') + 1]).toBe('yes');
    expect(cmd[cmd.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
    expect(model.service('rotation-postgres').image).toMatch(/^postgres:15([.-]|$)/);
    // Caracal's services resolve `redis` and `postgres` on caracalData: ours must not answer to those names there.
    for (const name of ['rotation-redis', 'rotation-postgres']) {
      expect(model.networks(name), name).toEqual(['rotation']);
      expect(model.service(name).healthcheck?.test, name).toBeDefined();
      expect(model.service(name).ports, name).toBeUndefined();
    }
    expect(file.networks?.rotation?.internal).toBe(true);
    for (const name of SERVICES) {
      expect(model.env(name).REDIS_URL, name).toBe('redis://rotation-redis:6379/0');
      expect(model.service(name).depends_on?.['rotation-redis']?.condition, name).toBe('service_healthy');
    }
    // The recorder writes the projection; the planner, roller and verifier read it (the replay guard).
    for (const name of ['recorder', 'planner', 'roller', 'verifier'] as const) {
      expect(model.env(name).DATABASE_URL, name).toMatch(/^postgres:\/\/caracal_rotation:\$\{ROTATION_PG_PASSWORD:\?[^}]+\}@rotation-postgres:5432\/caracal_rotation$/);
    }
    expect(model.env('secret-writer').DATABASE_URL).toBeUndefined();
    expect(model.service('recorder').depends_on?.['rotation-postgres']?.condition).toBe('service_healthy');
    expect(composeEnv(model.service('rotation-postgres')).POSTGRES_PASSWORD).toMatch(/^\$\{ROTATION_PG_PASSWORD:\?[^}]+\}$/);
  });

  it('runs the five services and the CLI from one image, each with its own entry point', () => {
    expect(model.ours).toEqual([...SERVICES]);
    const images = new Set(OURS.map((name) => model.service(name).image));
    expect(images.size).toBe(1);
    for (const name of SERVICES) expect(argv(model.service(name).command), name).toEqual([`services/${name}/dist/main.js`]);
    const cli = model.service('caracal-rotate');
    expect(cli.profiles).toEqual(['tools']);
    expect(argv(cli.entrypoint)).toEqual(['node', 'apps/caracal-rotate/dist/caracal-rotate.js']);
  });

  it("mounts Caracal's secrets directory as a directory: read-write in the writer only, read-only where it is read, nowhere else", () => {
    const mounts = Object.fromEntries(Object.keys(file.services).map((name) => [name, model.bindOf(name, CARACAL_SECRETS_SOURCE)]));
    expect(Object.entries(mounts).filter(([, m]) => m && !m.read_only).map(([name]) => name)).toEqual(['secret-writer']);
    expect(Object.entries(mounts).filter(([, m]) => m).map(([name]) => name).sort()).toEqual(['caracal-rotate', 'recorder', 'secret-writer', 'verifier']);
    for (const name of ['secret-writer', 'verifier', 'recorder', 'caracal-rotate']) {
      expect(mounts[name]!.target, name).toBe(model.env(name).CARACAL_SECRETS_DIR);
    }
    expect(model.env('secret-writer').CARACAL_SECRET_STORE).toBe('files');
    // Caracal's Redis, followed through its file (a rotated password is picked up on reconnect).
    for (const name of ['verifier', 'recorder']) expect(model.env(name).CARACAL_REDIS_URL_FILE, name).toBe(model.caracalFileIn(name, 'redisUrl'));
  });

  it("mounts the orchestrator's own directory in every service, outside Caracal's, writable by the writer and the CLI only", () => {
    for (const name of OURS) {
      const bind = model.bindOf(name, ROTATION_DIR_SOURCE);
      expect(bind?.target, name).toBe(model.env(name).CARACAL_ROTATION_DIR);
      expect(bind?.read_only, name).toBe(!['secret-writer', 'caracal-rotate'].includes(name));
    }
    expect(ROTATION_DIR_SOURCE.startsWith(`${CARACAL_SECRETS_SOURCE}/`)).toBe(false);
  });

  it('gives the Docker socket to the roller alone, with the socket group', () => {
    const holders = Object.keys(file.services).filter((name) => model.binds(name).some((b) => b.source === DOCKER_SOCKET));
    expect(holders).toEqual(['roller']);
    expect(model.service('roller').group_add).toEqual([expect.stringMatching(/^\$\{DOCKER_GID:\?[^}]+\}$/)]);
  });

  it('hands the holders file to the four services that read it', () => {
    for (const name of ['planner', 'secret-writer', 'roller', 'verifier', 'caracal-rotate']) expect(model.holdersMounted(name), name).toBe(true);
    expect(model.env('recorder').CARACAL_HOLDERS).toBeUndefined();
  });

  it('checks /ready of every service on its own port, and publishes that port on loopback', () => {
    const ports = new Set<string>();
    for (const name of SERVICES) {
      const s = model.service(name);
      const port = model.env(name).HTTP_PORT!;
      expect(model.env(name).HTTP_HOST, name).toBe('0.0.0.0');
      expect(ports.has(port), `${name} shares port ${port}`).toBe(false);
      ports.add(port);
      expect(argv(s.healthcheck?.test).join(' '), name).toContain('/ready');
      expect(s.ports, name).toEqual([`\${CARACAL_METRICS_BIND:-127.0.0.1}:${port}:${port}`]);
    }
  });

  it('runs every container as the owner of $CARACAL_HOME on a read-only root, without capabilities or new privileges', () => {
    for (const name of OURS) {
      const s = model.service(name);
      expect(withoutMessages(s.user ?? ''), name).toBe('${CARACAL_UID}:${CARACAL_GID}');
      expect(s.read_only, name).toBe(true);
      expect(s.cap_drop, name).toContain('ALL');
      expect(s.security_opt, name).toContain('no-new-privileges:true');
    }
  });

  it('holds no secret value', () => {
    for (const [name, s] of Object.entries(file.services)) {
      for (const [key, value] of Object.entries(composeEnv(s))) expect(secretProblem(key, value), `${name}: ${key}`).toBeUndefined();
    }
    const text = repoFile(`${COMPOSE_DIR}/compose.yaml`).replace(/\$\{[^}]*\}/g, '');
    expect(text).not.toMatch(/[0-9a-f]{32,}/i);
    expect(text).not.toMatch(/:\/\/[^/\s:@]+:[^@\s/]+@/);
  });
});

describe('deploy/compose/holders.json', () => {
  const holders = holdersConfigSchema.parse(JSON.parse(repoFile(`${COMPOSE_DIR}/holders.json`)));

  it("lists every Caracal service at its compose name and port, restarted as caracal up's container", () => {
    expect(Object.keys(holders.services).sort()).toEqual([...CARACAL_SERVICES].sort());
    for (const service of CARACAL_SERVICES) {
      const h = holders.services[service]!;
      expect(h.url, service).toBe(`http://${service}:${CARACAL_PORTS[service]}`);
      expect(h.restart, service).toEqual({ adapter: 'docker', container: composeContainer(service), socket: DOCKER_SOCKET, stop_timeout_s: 20 });
    }
  });

  it("names the targets of the writers that do not write files by Caracal's file names", () => {
    expect(holders.zones).toEqual({ admin_token_file: 'stsAdminToken' });
    expect(holders.postgres).toEqual({ admin_url_file: 'databaseUrl' });
    expect(holders.redis).toEqual({ admin_url_file: 'redisUrl' });
  });
});

describe("deploy/compose/caracal-kek-override.yaml, for Caracal's own project", () => {
  const override = model.override;

  it('gives api and sts the previous KEK, and the STS its admin token from a file, and changes nothing else', () => {
    expect(Object.keys(override.services).sort()).toEqual(['api', 'sts']);
    for (const service of ['api', 'sts']) expect(model.overrideSecretFile(service, 'SECRET_STORE_KEK_PREVIOUS_FILE'), service).toBe('secretStoreKekPrevious');
    expect(model.overrideSecretFile('sts', 'STS_ADMIN_TOKEN_FILE')).toBe('stsAdminToken');
    expect(composeEnv(override.services.sts!).STS_ADMIN_TOKEN).toBe('');
    expect(Object.keys(composeEnv(override.services.api!))).toEqual(['SECRET_STORE_KEK_PREVIOUS_FILE']);
    // Sources relative to $CARACAL_HOME, as Caracal's compose.yml names its own secrets.
    for (const s of Object.values(override.secrets ?? {})) expect(s.file).toMatch(/^\$\{CARACAL_SECRETS_DIR:-\.\/secrets\}\/[A-Za-z]+$/);
  });
});
