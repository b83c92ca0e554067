import { describe, expect, it } from 'vitest';
import { bool, csv, databaseUrl, durationMs, hostPortList, port, positiveInt, redisUrl } from '../src/index.js';

describe('redisUrl', () => {
  it('defaults to the local Redis', () => {
    expect(redisUrl().parse(undefined)).toBe('redis://127.0.0.1:6379');
  });
  it('accepts redis:// and rediss:// URLs', () => {
    expect(redisUrl().parse('redis://:pw@redis:6379/2')).toBe('redis://:pw@redis:6379/2');
    expect(redisUrl().parse('rediss://cache.example:6380')).toBe('rediss://cache.example:6380');
  });
  it('refuses other schemes and non-URLs', () => {
    expect(redisUrl().safeParse('http://redis:6379').success).toBe(false);
    expect(redisUrl().safeParse('not a url').success).toBe(false);
  });
});

describe('databaseUrl', () => {
  it('defaults to the local caracal_rotation database', () => {
    expect(databaseUrl().parse(undefined)).toBe('postgres://postgres@127.0.0.1:5432/caracal_rotation');
  });
  it('accepts postgres:// and postgresql://, refuses others', () => {
    expect(databaseUrl().parse('postgresql://u@db/x')).toBe('postgresql://u@db/x');
    expect(databaseUrl().safeParse('mysql://u@db/x').success).toBe(false);
  });
});

describe('port', () => {
  it('parses, defaults, and bounds', () => {
    expect(port(8080).parse(undefined)).toBe(8080);
    expect(port(8080).parse('0')).toBe(0);
    expect(port(8080).parse(' 65535 ')).toBe(65535);
    expect(port(8080).safeParse('65536').success).toBe(false);
    expect(port(8080).safeParse('-1').success).toBe(false);
    expect(port(8080).safeParse('80.5').success).toBe(false);
    expect(port(8080).safeParse('http').success).toBe(false);
  });
});

describe('durationMs', () => {
  it('takes bare integers as milliseconds', () => {
    expect(durationMs(1000).parse('1500')).toBe(1500);
  });
  it('takes unit suffixes', () => {
    const d = durationMs(0);
    expect(d.parse('250ms')).toBe(250);
    expect(d.parse('30s')).toBe(30_000);
    expect(d.parse('5m')).toBe(300_000);
    expect(d.parse('1h')).toBe(3_600_000);
    expect(d.parse('1.5s')).toBe(1_500);
    expect(d.parse('1m30s')).toBe(90_000);
  });
  it('defaults from a number or a string', () => {
    expect(durationMs(1000).parse(undefined)).toBe(1000);
    expect(durationMs('30s').parse(undefined)).toBe(30_000);
    expect(() => durationMs('soon')).toThrow(TypeError);
  });
  it('refuses what it cannot read', () => {
    const d = durationMs(0);
    for (const bad of ['', 'soon', '5 minutes', '-5s', '5x', 's']) expect(d.safeParse(bad).success, bad).toBe(false);
  });
});

describe('positiveInt', () => {
  it('accepts integers of at least 1', () => {
    expect(positiveInt(64).parse(undefined)).toBe(64);
    expect(positiveInt(64).parse('7')).toBe(7);
    expect(positiveInt(64).safeParse('0').success).toBe(false);
    expect(positiveInt(64).safeParse('2.5').success).toBe(false);
    expect(positiveInt(64).safeParse('many').success).toBe(false);
  });
});

describe('bool', () => {
  it('reads true/false/1/0', () => {
    expect(bool(false).parse(undefined)).toBe(false);
    expect(bool(true).parse(undefined)).toBe(true);
    expect(bool(false).parse('true')).toBe(true);
    expect(bool(false).parse('TRUE')).toBe(true);
    expect(bool(false).parse('1')).toBe(true);
    expect(bool(true).parse('false')).toBe(false);
    expect(bool(true).parse('0')).toBe(false);
    expect(bool(true).safeParse('yes').success).toBe(false);
  });
});

describe('csv', () => {
  it('splits, trims and drops empty items', () => {
    expect(csv().parse(undefined)).toEqual([]);
    expect(csv(['a']).parse(undefined)).toEqual(['a']);
    expect(csv().parse(' a, b ,,c ')).toEqual(['a', 'b', 'c']);
  });
  it('does not share its default between results', () => {
    const field = csv(['a']);
    field.parse(undefined).push('mutated');
    expect(field.parse(undefined)).toEqual(['a']);
  });
});

describe('hostPortList', () => {
  it('is empty by default and parses host:port items', () => {
    expect(hostPortList().parse(undefined)).toEqual([]);
    expect(hostPortList().parse('')).toEqual([]);
    expect(hostPortList().parse(' 127.0.0.1:7000, redis-1:7001 ,[::1]:7002')).toEqual(['127.0.0.1:7000', 'redis-1:7001', '[::1]:7002']);
  });
  it('refuses items without a valid port', () => {
    expect(hostPortList().safeParse('127.0.0.1').success).toBe(false);
    expect(hostPortList().safeParse('redis:0').success).toBe(false);
    expect(hostPortList().safeParse('redis:70000').success).toBe(false);
    expect(hostPortList().safeParse('redis://x:1').success).toBe(false);
  });
});
