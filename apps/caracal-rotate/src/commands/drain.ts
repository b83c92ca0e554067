import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRedisClient, expandDrainTargets, inspectDrain, type DrainTarget, type RedisClient } from '@caracal-rotation/bus';
import { holdersConfigSchema, normalizeMaterial, rotationStreams } from '@caracal-rotation/contracts';
import { drainSetOf } from '@caracal-rotation/planning';
import { loadEffectiveCatalog } from '../catalog-source.js';
import { EXIT, UsageError, connectRedis, requireServers, type CliEnvironment } from '../environment.js';
import { dash } from '../format.js';
import { drainRow, type DrainRow } from '../plan-report.js';
import { str, type Command } from './command.js';

/** Which stream/group patterns to inspect: a material's drain set, a pattern, or every Caracal and rotation stream. */
async function patternsOf(env: CliEnvironment, material: string | undefined, pattern: string | undefined): Promise<DrainTarget[]> {
  const prefix = rotationStreams(env.streamPrefix).prefix;
  const holders = (await env.holders()) ?? holdersConfigSchema.parse({ version: 2, services: {} });
  if (pattern) return [{ stream: pattern, group: '*' }];
  if (!material) return [{ stream: `${holders.caracal.namespace}caracal.*`, group: '*' }, { stream: `${prefix}.*`, group: '*' }];
  const name = normalizeMaterial(material);
  const { catalog } = await loadEffectiveCatalog(env);
  const entry = name && catalog.materials.find((m) => m.material === name);
  if (!entry) throw new UsageError(`--material ${JSON.stringify(material)} is not in the catalog (see caracal-rotate catalog)`, EXIT.usage);
  return drainSetOf(entry, { streamPrefix: prefix, holders });
}

/** Our streams live on the bus; Caracal's on Caracal's Redis (its redisUrl file), which may be another server. */
async function redisFor(env: CliEnvironment, stream: string, prefix: string): Promise<RedisClient> {
  if (stream.startsWith(prefix)) return connectRedis(env, 'caracal-rotate-drain');
  const url = (await readFile(join(env.secretsDir, 'redisUrl'), 'utf8').catch(() => '')).trim();
  return url ? createRedisClient({ url }, { maxRetriesPerRequest: 2, connectionName: 'caracal-rotate-drain' }) : connectRedis(env, 'caracal-rotate-drain');
}

export const drainCommand: Command = {
  name: 'drain',
  summary: 'pending entries and lag per stream and consumer group (what the drain gate waits for)',
  usage: 'drain [--material M] [--stream PATTERN]',
  details: `Read-only (SCAN, XINFO GROUPS, XPENDING). Per stream and consumer group: entries
delivered and not acknowledged (pending), entries not yet delivered (lag) and the last
delivered id. By default every caracal.* stream and the rotation streams; --material
shows that material's drain set, --stream a pattern of your own (a trailing * matches a
prefix; dead-letter streams are left out).

Examples:
  caracal-rotate drain
  caracal-rotate drain --material STREAMS_HMAC_KEY
  caracal-rotate drain --stream 'caracal.audit.*' --json`,
  options: { material: { type: 'string' }, stream: { type: 'string' } },
  positionals: [],
  required: 0,
  async run({ out, env, values }) {
    const patterns = await patternsOf(env, str(values, 'material'), str(values, 'stream'));
    await requireServers(env, { redis: true });
    const prefix = rotationStreams(env.streamPrefix).prefix;
    const targets: DrainRow[] = [];
    for (const pattern of patterns) {
      const redis = await redisFor(env, pattern.stream, prefix);
      try {
        targets.push(...(await inspectDrain(redis, await expandDrainTargets(redis, [pattern]))).map(drainRow));
      } finally {
        redis.disconnect();
      }
    }
    {
      out.line(`Patterns: ${patterns.map((p) => `${p.stream} / ${p.group}`).join(', ')}`);
      if (targets.length === 0) out.line('no stream/group matches');
      else out.table(['stream', 'group', 'pending', 'lag', 'last delivered'], targets.map((t) => [t.stream, t.group, String(t.pending), dash(t.lag), t.last_delivered_id]));
      const pending = targets.reduce((n, t) => n + t.pending, 0);
      if (targets.length) out.line(`${targets.length} stream/group pairs, ${pending} entries pending`);
      out.result({ patterns, targets });
      return EXIT.ok;
    }
  },
};
