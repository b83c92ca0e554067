import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { describeConfig } from './describe.js';
import { durationMs, hostPortList, redisUrl } from './fields.js';

describe('describeConfig', () => {
  it('reads each variable’s description and default through its wrappers, in order', () => {
    const schema = z.object({
      REDIS_URL: redisUrl().describe('the bus'),
      NODES: hostPortList().describe('seed nodes'),
      TICK_MS: durationMs('5m').describe('how often'),
      POLL_MS: durationMs(1_500).describe('pause'),
      TOKEN_FILE: z.string().optional().describe('a token'),
      HOLDERS: z.string().min(1).describe('the holders file'),
      ID: z.string().default(() => 'changes per process').meta({ description: 'who', defaultText: '<hostname>' }),
    });
    expect(describeConfig(schema)).toEqual([
      { name: 'REDIS_URL', description: 'the bus', default: 'redis://127.0.0.1:6379', required: false },
      { name: 'NODES', description: 'seed nodes', default: '(empty)', required: false },
      { name: 'TICK_MS', description: 'how often', default: '5m', required: false },
      { name: 'POLL_MS', description: 'pause', default: '1.5s', required: false },
      { name: 'TOKEN_FILE', description: 'a token', default: undefined, required: false },
      { name: 'HOLDERS', description: 'the holders file', default: undefined, required: true },
      { name: 'ID', description: 'who', default: '<hostname>', required: false },
    ]);
  });

  it('refuses a variable without a description, naming it', () => {
    expect(() => describeConfig(z.object({ SILENT: z.string() }))).toThrow('SILENT has no description');
  });
});
