import { describe, expect, it } from 'vitest';
import { SERVICES, composeEnv, loadCompose, repoFile, secretProblem } from './support.js';

type Service = Record<string, unknown> & {
  image?: string;
  command?: string[] | string;
  entrypoint?: string[] | string;
  profiles?: string[];
  ports?: string[];
  volumes?: (string | { type?: string; source?: string; target?: string; read_only?: boolean })[];
  configs?: { source: string; target?: string }[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition?: string; required?: boolean }>;
  network_mode?: string;
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  restart?: string;
};

const compose = loadCompose('deploy/compose.yaml') as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  configs?: Record<string, { content?: string; file?: string }>;
  'x-image'?: string;
};
const services = compose.services;
const SECRETS_VOLUME = 'caracal-secrets';

const svc = (name: string): Service => {
  const s = services[name];
  if (!s) throw new Error(`compose has no service ${name}`);
  return s;
};
const argv = (v: string[] | string | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : v.split(/\s+/));
const secretsMounts = (s: Service) =>
  (s.volumes ?? []).map((v) => (typeof v === 'string' ? parseShortVolume(v) : v)).filter((v) => v.source === SECRETS_VOLUME);

function parseShortVolume(spec: string): { source?: string; target?: string; read_only?: boolean } {
  const [source, target, mode] = spec.split(':');
  return { source, target, read_only: (mode ?? '').split(',').includes('ro') };
}

/** The service whose network namespace `s` lives in (its ports are published there). */
const netOwner = (name: string): Service => {
  const mode = svc(name).network_mode;
  return mode?.startsWith('service:') ? svc(mode.slice('service:'.length)) : svc(name);
};

describe('deploy/compose.yaml', () => {
  it('runs Redis 7 with AOF and noeviction, and Postgres 15, both with health checks and volumes', () => {
    const redis = svc('redis');
    expect(redis.image).toMatch(/^redis:7([.-]|$)/);
    const cmd = argv(redis.command);
    expect(cmd[cmd.indexOf('--appendonly') + 1]).toBe('yes');
    expect(cmd[cmd.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
    expect(redis.healthcheck?.test).toBeDefined();
    expect(JSON.stringify(redis.volumes)).toContain(':/data');

    const postgres = svc('postgres');
    expect(postgres.image).toMatch(/^postgres:15([.-]|$)/);
    expect(postgres.healthcheck?.test).toBeDefined();
    expect(JSON.stringify(postgres.volumes)).toContain('/var/lib/postgresql/data');
    // The password comes from the environment (deploy/.env), never from this file.
    expect(composeEnv(postgres).POSTGRES_PASSWORD).toMatch(/^\$\{[A-Z_]+:\?[^}]+\}$/);
  });

  it('runs the five services from one image, each with its own entry point', () => {
    const images = new Set(SERVICES.map((name) => svc(name).image));
    expect(images.size).toBe(1);
    expect([...images][0]).toBe(compose['x-image']);
    for (const name of SERVICES) {
      const [entry, ...rest] = argv(svc(name).command);
      expect(entry).toBe(`services/${name}/dist/main.js`);
      expect(rest).toEqual([]);
    }
    // The CLI comes from the same image too.
    expect(svc('caracal-rotate').image).toBe(compose['x-image']);
  });

  it('checks /ready of every service on its own port, and publishes that port (metrics)', () => {
    const ports = new Set<string>();
    for (const name of SERVICES) {
      const s = svc(name);
      const env = composeEnv(s);
      expect(env.HTTP_HOST, name).toBe('0.0.0.0');
      const port = env.HTTP_PORT!;
      expect(port, name).toMatch(/^\d+$/);
      expect(ports.has(port), `${name} shares port ${port}`).toBe(false);
      ports.add(port);

      expect(s.healthcheck?.disable, name).not.toBe(true);
      const test = argv(s.healthcheck?.test).join(' ');
      expect(test, name).toContain('/ready');
      expect(test, name).toContain('HTTP_PORT');

      const published = (netOwner(name).ports ?? []).map(String);
      expect(
        published.some((p) => p.endsWith(`:${port}:${port}`) || p.endsWith(`:${port}`)),
        `${name}'s port ${port} is published`,
      ).toBe(true);
    }
  });

  it('hands every service its configuration through REDIS_URL, DATABASE_URL, CARACAL_SECRETS_DIR and CARACAL_HOLDERS', () => {
    for (const name of SERVICES) {
      const env = composeEnv(svc(name));
      expect(env.REDIS_URL, name).toMatch(/^redis:\/\/redis:6379/);
      expect(env.CARACAL_SECRETS_DIR, name).toBe('/var/lib/caracal/secrets');
      expect(env.NODE_ENV, name).toBe('production');
      expect(svc(name).depends_on?.redis?.condition, name).toBe('service_healthy');
    }
    expect(composeEnv(svc('recorder')).DATABASE_URL).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
    expect(svc('recorder').depends_on?.postgres?.condition).toBe('service_healthy');
    for (const name of ['roller', 'verifier']) {
      const target = composeEnv(svc(name)).CARACAL_HOLDERS;
      expect(target, name).toBeTruthy();
      expect(svc(name).configs?.some((c) => c.source === 'holders' && c.target === target), name).toBe(true);
    }
  });

  it('mounts the secrets volume read-only everywhere except in the secret-writer', () => {
    const writers: string[] = [];
    for (const [name, s] of Object.entries(services)) {
      for (const mount of secretsMounts(s)) {
        expect(mount.target, name).toBe('/var/lib/caracal/secrets');
        if (mount.read_only !== true) writers.push(name);
      }
    }
    expect(writers.sort()).toEqual(['secret-writer']);
    for (const name of [...SERVICES, 'caracal-rotate']) expect(secretsMounts(svc(name)), name).toHaveLength(1);
    expect(compose.volumes).toHaveProperty(SECRETS_VOLUME);
  });

  it('runs every service as a non-root user on a read-only root file system without capabilities', () => {
    for (const name of [...SERVICES, 'caracal-rotate']) {
      const s = svc(name);
      const uid = (s.user ?? '').split(':')[0];
      expect(uid, name).toMatch(/^\d+$/);
      expect(Number(uid), name).toBeGreaterThan(0);
      expect(s.read_only, name).toBe(true);
      expect(s.cap_drop, name).toContain('ALL');
    }
  });

  it('offers the operator CLI as a tool', () => {
    const cli = svc('caracal-rotate');
    expect(cli.profiles).toEqual(['tools']);
    const entry = argv(cli.entrypoint);
    expect(entry).toEqual(['node', 'apps/caracal-rotate/dist/caracal-rotate.js']);
    expect(composeEnv(cli).DATABASE_URL).toBeTruthy();
  });

  it('holds no secret value', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(composeEnv(s))) expect(secretProblem(key, value), `${name}: ${key}`).toBeUndefined();
    }
    const text = repoFile('deploy/compose.yaml').replace(/\$\{[^}]*\}/g, '');
    expect(text).not.toMatch(/[0-9a-f]{32,}/i);
    expect(text).not.toMatch(/:\/\/[^/\s:@]+:[^@\s/]+@/);
  });
});

describe('the secret detector the deploy tests use', () => {
  it('flags key material, passwords in URLs and literal secrets, and lets references pass', () => {
    expect(secretProblem('STREAMS_HMAC_KEY', 'ab'.repeat(32))).toBeDefined();
    expect(secretProblem('SOMETHING', '0123456789abcdef0123456789abcdef')).toBeDefined();
    expect(secretProblem('DATABASE_URL', 'postgres://app:hunter2@db:5432/x')).toBeDefined();
    expect(secretProblem('POSTGRES_PASSWORD', 'hunter2')).toBeDefined();
    expect(secretProblem('ADMIN_TOKEN', 'cat_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRg')).toBeDefined();

    expect(secretProblem('POSTGRES_PASSWORD', '${PG_PASSWORD:?set it}')).toBeUndefined();
    expect(secretProblem('DATABASE_URL', 'postgres://app:${PG_PASSWORD}@db:5432/x')).toBeUndefined();
    expect(secretProblem('REDIS_URL_FILE', '/etc/caracal-rotation/connections/REDIS_URL')).toBeUndefined();
    expect(secretProblem('CARACAL_SECRETS_DIR', '/var/lib/caracal/secrets')).toBeUndefined();
    expect(secretProblem('NODE_EXTRA_CA_CERTS', '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt')).toBeUndefined();
  });
});
