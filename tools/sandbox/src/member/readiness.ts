import type pg from 'pg';
import type { MemberName } from '../members.js';
import { errorMessage } from './log.js';
import type { Material } from './material.js';
import type { MemberRedis } from './redis.js';
import type { GroupConsumer } from './stream-consumer.js';

export interface NotReady {
  dependency: 'secrets' | 'redis' | 'postgres' | 'consumers';
  error: string;
}

export interface ReadinessInputs {
  material: Material;
  redis: MemberRedis | undefined;
  db?: pg.Pool | undefined;
  consumers: readonly GroupConsumer[];
}

const PING_TIMEOUT_MS = 1000;

/** Why the member is not ready, or null: secrets first, then Redis, Postgres, consumers. */
export async function checkReadiness({ material, redis, db, consumers }: ReadinessInputs): Promise<NotReady | null> {
  if (!material.ok) return { dependency: 'secrets', error: material.problems.join('; ') };
  if (redis) {
    const redisProblem = await pingProblem('redis', () => redis.ping());
    if (redisProblem) return { dependency: 'redis', error: redisProblem };
  }
  if (db) {
    const dbProblem = await pingProblem('postgres', () => db.query('SELECT 1'));
    if (dbProblem) return { dependency: 'postgres', error: dbProblem };
  }
  const consumerProblems = consumers.map((c) => c.problem()).filter((p): p is string => p !== null);
  if (consumerProblems.length > 0) return { dependency: 'consumers', error: consumerProblems.join('; ') };
  return null;
}

async function pingProblem(what: string, ping: () => Promise<unknown>): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`${what} did not answer in time`), PING_TIMEOUT_MS);
  });
  try {
    return await Promise.race([ping().then(() => null), timeout]);
  } catch (err) {
    return `${what} unreachable: ${errorMessage(err)}`;
  } finally {
    clearTimeout(timer);
  }
}

/** /ready in the shape each Caracal service uses (CARACAL-INTEROP.md "Health"). */
export function readyResponse(member: MemberName, notReady: NotReady | null): { status: number; body: Record<string, unknown> } {
  const reason = notReady ? `${notReady.dependency}: ${notReady.error}` : '';
  switch (member) {
    case 'sts':
    case 'gateway':
      return notReady ? { status: 503, body: { ok: false, ready: false, reason } } : { status: 200, body: { ok: true, ready: true } };
    case 'audit':
      return notReady ? { status: 503, body: { ready: false, reason } } : { status: 200, body: { ready: true } };
    case 'api':
    case 'coordinator':
    case 'console':
      return notReady
        ? { status: 503, body: { ok: false, error: notReady.error, dependency: notReady.dependency } }
        : { status: 200, body: { ok: true } };
  }
}
