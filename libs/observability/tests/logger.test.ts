import { describe, expect, it } from 'vitest';
import { createLogger, maskUrlCredentials } from '../src/index.js';
import { captureLines } from './capture.js';

const SECRET = 'c0ffee5ec12e7c0ffee5ec12e7c0ffee5ec12e7c0ffee5ec12e7c0ffee5ec12e';

function logger() {
  const capture = captureLines();
  const log = createLogger({ service: 'planner', instance: 'host-1', level: 'debug', destination: capture.stream });
  return { log, ...capture };
}

describe('createLogger', () => {
  it('writes JSON with service, instance, an ISO time and the level name', () => {
    const { log, lines } = logger();
    log.info({ rotation_id: 'r1' }, 'planned');
    const [line] = lines();
    expect(line).toMatchObject({ service: 'planner', instance: 'host-1', level: 'info', rotation_id: 'r1', msg: 'planned' });
    expect(new Date(String(line?.time)).toISOString()).toBe(line?.time);
  });

  it('honours the level', () => {
    const capture = captureLines();
    const log = createLogger({ service: 's', instance: 'i', level: 'warn', destination: capture.stream });
    log.info('quiet');
    log.warn('loud');
    expect(capture.lines().map((l) => l.msg)).toEqual(['loud']);
  });

  it('redacts secrets at the top level and one and two levels deep', () => {
    const { log, text, lines } = logger();
    log.info({ password: SECRET }, 'a');
    log.info({ secret: SECRET }, 'b');
    log.info({ token: SECRET }, 'c');
    log.info({ config: { password: SECRET } }, 'd');
    log.info({ request: { headers: { authorization: `Bearer ${SECRET}` } } }, 'e');
    log.info({ keyring: { current: { kid: 'abcd1234abcd1234', key: SECRET } } }, 'f');
    log.info({ value: SECRET, streamsHmacKey: SECRET, STREAMS_HMAC_KEY_PREVIOUS: SECRET }, 'g');
    log.info({ config: { REDIS_URL: `redis://:${SECRET}@redis:6379`, HTTP_PORT: 0 } }, 'h');
    log.info({ headers: { 'set-cookie': SECRET, 'x-api-key': SECRET } }, 'i');
    expect(text()).not.toContain(SECRET);
    expect(text()).toContain('[redacted]');
    expect(lines()[0]?.password).toBe('[redacted]');
    expect(lines()[3]?.config).toEqual({ password: '[redacted]' });
    expect(lines()[7]?.config).toEqual({ REDIS_URL: '[redacted]', HTTP_PORT: 0 });
  });

  it('redacts child bindings too', () => {
    const { log, text } = logger();
    log.child({ token: SECRET }).info('child');
    expect(text()).not.toContain(SECRET);
  });

  it('keeps kid, fingerprint, location and material', () => {
    const { log, lines } = logger();
    const fields = { kid: '9f86d081884c7d65', fingerprint: 'sha256:ab12', location: '/run/secrets/streamsHmacKey', material: 'STREAMS_HMAC_KEY' };
    log.info({ ...fields, new: { kid: 'k2', location: '/x' }, data: { previous: { kid: 'k1' } } }, 'written');
    expect(lines()[0]).toMatchObject({ ...fields, new: { kid: 'k2', location: '/x' }, data: { previous: { kid: 'k1' } } });
  });

  it('serializes err to type, message, code and stack only', () => {
    const { log, lines } = logger();
    const err = Object.assign(new Error('WRONGPASS invalid username-password pair', { cause: new Error('root') }), {
      code: 'WRONGPASS',
      command: { name: 'auth', args: [SECRET] },
    });
    log.error({ err }, 'redis auth failed');
    log.error(err);
    for (const line of lines()) {
      const out = line.err as Record<string, unknown>;
      expect(out).toMatchObject({ type: 'Error', message: 'WRONGPASS invalid username-password pair', code: 'WRONGPASS' });
      expect(out.stack).toContain('WRONGPASS');
      expect(out.cause).toMatchObject({ message: 'root' });
      expect(out).not.toHaveProperty('command');
    }
    expect(JSON.stringify(lines())).not.toContain(SECRET);
  });
});

describe('maskUrlCredentials', () => {
  it('hides the password, keeps the rest', () => {
    expect(maskUrlCredentials(`redis://:${SECRET}@redis:6379/2`)).toBe('redis://:***@redis:6379/2');
    expect(maskUrlCredentials(`postgres://api:${SECRET}@db/caracal`)).toBe('postgres://api:***@db/caracal');
    expect(maskUrlCredentials('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(maskUrlCredentials(`::${SECRET}`)).toBe('[unparseable url]');
  });
});
