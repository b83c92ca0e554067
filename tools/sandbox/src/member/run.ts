import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { caracalStreams } from '@caracal-rotation/contracts';
import { MEMBER_SECRETS } from '../members.js';
import type { MemberConfig } from './config.js';
import type { MemberContext } from './context.js';
import { createRouter, sendJson, type Route } from './http.js';
import { createLog, errorMessage } from './log.js';
import { Material } from './material.js';
import { checkReadiness, readyResponse } from './readiness.js';
import { closeRedis, connectRedis } from './redis.js';
import { ROLES } from './roles/index.js';
import { openSealedPool } from '../sealed/db.js';
import { Stats } from './stats.js';
import { GroupConsumer } from './stream-consumer.js';

export interface RunningMember {
  url: string;
  close(): Promise<void>;
}

/**
 * Assembles one member: secrets read once, the role's endpoints and stream
 * consumers, and the endpoints every member has (/health, /ready,
 * /internal/stats).
 */
export async function startMember(config: MemberConfig, env: NodeJS.ProcessEnv): Promise<RunningMember> {
  const log = createLog(`sandbox-${config.member}`, `${config.hostId}/${process.pid}`);
  const definition = ROLES[config.member];
  const material = Material.load(MEMBER_SECRETS[config.member], env, config.acceptPrevious, config.pins);
  const redis = connectRedis(config.redisUrl, 'main', log, { clusterNodes: config.redisClusterNodes });
  // Only KEK holders keep sealed secrets; anyone else ignores DATABASE_URL (and does not wait on Postgres to be ready).
  const holdsKek = MEMBER_SECRETS[config.member].includes('SECRET_STORE_KEK');
  const db =
    config.databaseUrl && holdsKek
      ? openSealedPool(config.databaseUrl, (err) => log('warn', 'postgres connection error', { error: errorMessage(err) }))
      : undefined;
  const ctx: MemberContext = { config, material, redis, db, streams: caracalStreams(config.namespace), stats: new Stats(definition.counters), log };
  const role = definition.create(ctx);

  // With bad or pinned-away material the holder must not judge messages:
  // it would dead-letter good ones. It stays up, unready, and says why.
  const consumerName = `${config.member}-${config.hostId}`;
  const consumers = material.ok ? role.consumers.map((spec) => new GroupConsumer(spec, config.redisUrl, consumerName, log, config.redisClusterNodes)) : [];
  for (const consumer of consumers) consumer.start();

  const common: Route[] = [
    {
      method: 'GET',
      path: '/health',
      handler(_req, res) {
        const { current, previous } = material.kids();
        sendJson(res, 200, {
          ok: true,
          service: config.member,
          pid: process.pid,
          started_at: config.startedAt,
          boot_id: config.bootId,
          accept_previous: config.acceptPrevious,
          kids: current,
          previous_kids: previous,
        });
      },
    },
    {
      method: 'GET',
      path: '/ready',
      async handler(_req, res) {
        const notReady = await checkReadiness({ material, redis: role.usesRedis ? redis : undefined, db, consumers });
        const { status, body } = readyResponse(config.member, notReady);
        sendJson(res, status, body);
      },
    },
    { method: 'GET', path: '/internal/stats', handler: (_req, res) => sendJson(res, 200, ctx.stats.snapshot()) },
  ];

  const server = createServer(createRouter([...common, ...role.routes], (err) => log('error', 'request failed', { error: errorMessage(err) })));
  await listen(server, config.port, config.host);
  const port = (server.address() as AddressInfo).port;
  log('info', 'member started', { port, boot_id: config.bootId, kids: material.kids().current, problems: material.problems });

  return {
    url: `http://${config.host}:${port}`,
    async close() {
      server.close();
      server.closeAllConnections();
      await Promise.all(consumers.map((c) => c.stop()));
      await Promise.all([closeRedis(redis), db?.end().catch(() => undefined)]);
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
