import { join } from 'node:path';
import type { Material } from '@caracal-rotation/contracts';
import { MEMBER_NAMES } from '@caracal-rotation/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byRotation, deadLetterCounts, eventually, failureDetails, projectionGaps, rotationEntries, statusOf } from '../support/inspect.js';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { startReliabilityStack, type ReliabilityStack } from '../support/reliability-stack.js';
import { driveRotations, requestWithRetry, TerminalWatcher, type DrivenRotation } from '../support/rotation-driver.js';
import { minutes, PROFILE } from './profile.js';
import { RUN_DIR, seconds, Section } from './report.js';

/**
 * Scenarios 2 and 3 on one stack whose Postgres (the projection's) and Redis
 * (everyone's) are private servers this file starts, stops and restarts; the
 * shared servers other test files use are never touched.
 */
const pgSection = new Section('postgres-outage');
const redisSection = new Section('redis-restart');
let pgServer_: PrivatePostgres | undefined;
let redisServer: PrivateRedis | undefined;
let rs: ReliabilityStack | undefined;

beforeAll(async () => {
  pgServer_ = await startPrivatePostgres('pg-outage');
  redisServer = await startPrivateRedis('redis-restart');
  // The fleet's KEK holders keep their sealed secrets on the shared server: the Postgres outage is the projection's.
  rs = await startReliabilityStack({ name: 'outages', databaseUrl: pgServer_.url('caracal_reliability'), redisUrl: redisServer.url, fleetDatabase: 'own-schema' });
}, minutes(3));

afterAll(async () => {
  try {
    if (pgServer_ && !pgServer_.running) await pgServer_.start().catch(() => undefined);
    if (redisServer && !redisServer.running) await redisServer.start().catch(() => undefined);
    await rs?.stop(pgSection.failed || redisSection.failed ? { keepLogsIn: join(RUN_DIR, 'outages-logs') } : {});
    await pgServer_?.destroy();
    await redisServer?.destroy();
  } finally {
    await pgSection.write();
    await redisSection.write();
  }
}, minutes(3));

describe('2. Postgres outage', () => {
  it(
    'loses no event, retires each rotation once after recovery and dead-letters nothing while Postgres is down',
    () =>
      pgSection.run(async () => {
        const e = rs!;
        const pgServer = pgServer_!;
        const streams = e.operator.streams;
        const n = PROFILE.pgRotations;
        const sequence: Material[] = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'CARACAL_COORDINATOR_TOKEN' : 'CARACAL_ADMIN_TOKEN'));
        const outageAfter = Math.max(1, Math.floor(n / 3));
        pgSection
          .tried(
            `Started a private PostgreSQL 15 (initdb into a temp directory, trust auth, port ${pgServer.port}) for the projection; services (2 replicas each) and fleet (its sealed-secret table on the shared server, so the outage is the projection's alone).`,
          )
          .tried(`Requested ${n} token rotations one after another; after ${outageAfter} had completed, stopped the private server (fast shutdown) for ${seconds(PROFILE.pgOutageMs)}, then started it again on the same data directory.`)
          .tried('During the outage: requested a GATEWAY_STS_HMAC_KEY rotation (queued behind the one in flight) and two dry runs, and probed the recorders\' /ready.');

        const pidsBefore = e.services.map((s) => s.pid);
        const terminals = new TerminalWatcher(e.redis, streams, Date.now());
        const recorders = e.instances('recorder');
        let outage: { down: number; up: number; readyDuring: number[]; extra: string[]; backlog: number; backlogMs: number } | undefined;
        let driven: DrivenRotation[] = [];
        const outageTask = (async () => {
          await eventually('rotations before the outage', async () => ([...terminals.first.values()].filter((t) => t.name === 'completed').length >= outageAfter ? true : undefined), minutes(3), 100);
          await pgServer.stop();
          const down = Date.now();
          const extra = [
            (await requestWithRetry(e.operator, streams, { material: 'GATEWAY_STS_HMAC_KEY', reason: 'reliability: requested during a Postgres outage' })).rotationId,
            (await requestWithRetry(e.operator, streams, { material: 'AUDIT_HMAC_KEY', dry_run: true, reason: 'reliability: dry run during the outage' })).rotationId,
            (await requestWithRetry(e.operator, streams, { material: 'STREAMS_HMAC_KEY', dry_run: true, reason: 'reliability: dry run during the outage' })).rotationId,
          ];
          await new Promise((r) => setTimeout(r, Math.max(0, PROFILE.pgOutageMs / 2 - (Date.now() - down))));
          const readyDuring = await Promise.all(recorders.map((r) => statusOf(`${r.url}/ready`, 8000)));
          await new Promise((r) => setTimeout(r, Math.max(0, PROFILE.pgOutageMs - (Date.now() - down))));
          await pgServer.start();
          const up = Date.now();
          // Everything emitted until now must reach the projection: how long does the recorder take?
          const backlog = [...new Set((await rotationEntries(e.redis, streams)).map((x) => x.fields.event_id!))];
          await eventually(
            'backlog projected',
            async () => {
              const r = await e.pool.query<{ n: string }>('SELECT count(*) AS n FROM rotation_events WHERE event_id = ANY($1::uuid[])', [backlog]);
              return Number(r.rows[0]!.n) === backlog.length ? true : undefined;
            },
            minutes(2),
            100,
          );
          outage = { down, up, readyDuring, extra, backlog: backlog.length, backlogMs: Date.now() - up };
        })();

        const t0 = Date.now();
        try {
          driven = await driveRotations({
            operator: e.operator,
            redis: e.redis,
            streams,
            watcher: terminals,
            sequence: sequence.map((material) => ({ material, reason: 'reliability: postgres outage' })),
            rotationTimeoutMs: minutes(3) + PROFILE.pgOutageMs,
          });
          await outageTask;
          const gateway = await terminals.wait(outage!.extra[0]!, minutes(3));
          expect(gateway?.name, 'the rotation requested during the outage').toBe('completed');
        } finally {
          await outageTask.catch(() => undefined);
          await terminals.stop();
        }
        const o = outage!;
        const ids = [...driven.map((d) => d.rotationId), o.extra[0]!];
        const dryRuns = o.extra.slice(1);

        // The projection catches up: every event of every rotation recorded, every rotation completed (dry runs planned).
        let caughtUpAt = 0;
        const gaps = await eventually(
          'projection caught up',
          async () => {
            const g = await projectionGaps(e.pool, await rotationEntries(e.redis, streams), [...ids, ...dryRuns], (id) => (dryRuns.includes(id) ? 'planned' : 'completed'));
            if (g.missingEvents.length > 0 || g.wrongState.length > 0) return undefined;
            caughtUpAt = Date.now();
            return g;
          },
          minutes(2),
          250,
        ).catch(async () => projectionGaps(e.pool, await rotationEntries(e.redis, streams), [...ids, ...dryRuns], (id) => (dryRuns.includes(id) ? 'planned' : 'completed')));
        const readyAfter = await Promise.all(recorders.map((r) => statusOf(`${r.url}/ready`)));

        const entries = await rotationEntries(e.redis, streams);
        const mine = byRotation(entries);
        const during = entries.filter((x) => {
          const at = Date.parse(x.fields.occurred_at ?? '');
          return at >= o.down && at <= o.up;
        });
        const retiring = ids.map((id) => (mine.get(id) ?? []).filter((x) => x.name === 'retiring'));
        const retiringIds = retiring.map((r) => new Set(r.map((x) => x.fields.event_id)).size);
        const verifiedDeployDuring = ids.filter((id) =>
          (mine.get(id) ?? []).some((x) => x.name === 'verified' && x.data.phase === 'deploy' && Date.parse(x.fields.occurred_at!) >= o.down && Date.parse(x.fields.occurred_at!) <= o.up),
        );
        const retiredAfterRecovery = verifiedDeployDuring.map((id) => {
          const r = (mine.get(id) ?? []).find((x) => x.name === 'retiring');
          return r ? Date.parse(r.fields.occurred_at!) - o.up : null;
        });
        const dead = await deadLetterCounts(e.redis, streams);
        const problems = failureDetails(entries, ids);
        if (problems.length > 0) pgSection.table('What went wrong', ['rotation', 'material', 'event', 'detail'], problems);
        const crashed = e.services.filter((s, i) => !s.running || s.pid !== pidsBefore[i]).map((s) => s.instance);
        const recorded = await e.pool.query<{ n: string }>('SELECT count(*) AS n FROM rotation_events WHERE rotation_id = ANY($1::uuid[])', [[...ids, ...dryRuns]]);

        pgSection
          .figure('outage (server stopped → started again)', seconds(o.up - o.down))
          .figure('rotations', `${ids.length} (${n} driven + 1 requested during the outage), plus ${dryRuns.length} dry runs`)
          .figure('outcomes', [...new Set(ids.map((id) => terminals.first.get(id)?.name ?? 'none'))].map((s) => `${s} ${ids.filter((id) => terminals.first.get(id)?.name === s).length}`).join(', '))
          .figure('run time', seconds(Date.now() - t0))
          .figure('events emitted on the streams while Postgres was down', during.length)
          .figure('recorder /ready during the outage', o.readyDuring.join(', '))
          .figure('recorder /ready after recovery', readyAfter.join(', '))
          .figure('events on the streams when Postgres returned', o.backlog)
          .figure('all of them projected after Postgres returned', seconds(o.backlogMs))
          .figure('every rotation final in the projection after Postgres returned', caughtUpAt ? seconds(caughtUpAt - o.up) : 'no')
          .figure('events of these rotations in rotation_events', Number(recorded.rows[0]!.n))
          .figure('event ids on the streams missing from rotation_events', gaps.missingEvents.length)
          .figure('rotations rows not in their final state', gaps.wrongState.length)
          .figure('rotations whose deploy verified during the outage', verifiedDeployDuring.length)
          .figure('their retiring came after recovery by', retiredAfterRecovery.map((ms) => (ms === null ? 'never' : seconds(ms))).join(', ') || '—')
          .figure('retiring event ids per rotation (min / max)', `${Math.min(...retiringIds)} / ${Math.max(...retiringIds)}`)
          .figure('retiring entries per rotation (min / max)', `${Math.min(...retiring.map((r) => r.length))} / ${Math.max(...retiring.map((r) => r.length))}`)
          .figure('dead-lettered entries (all rotation streams)', Object.values(dead).reduce((a, b) => a + b, 0))
          .figure('service processes that exited (same pid before and after required)', crashed.length ? crashed.join(', ') : 'none');
        if (crashed.length > 0) pgSection.finding(`service processes exited during the Postgres outage: ${crashed.join(', ')} (see their logs)`);

        expect(crashed).toEqual([]);
        expect(driven.map((d) => d.terminal?.name)).toEqual(sequence.map(() => 'completed'));
        expect(gaps).toEqual({ missingEvents: [], wrongState: [] });
        expect(retiringIds).toEqual(ids.map(() => 1));
        expect(retiring.map((r) => r.length)).toEqual(ids.map(() => 1));
        expect(retiredAfterRecovery.every((ms) => ms !== null && ms >= 0)).toBe(true);
        expect(during.length).toBeGreaterThan(0);
        expect(o.readyDuring.every((s) => s !== 200)).toBe(true);
        expect(readyAfter).toEqual(recorders.map(() => 200));
        expect(dead).toEqual(Object.fromEntries(Object.keys(dead).map((k) => [k, 0])));
      }),
    minutes(6) + PROFILE.pgRotations * 30_000 + PROFILE.pgOutageMs,
  );
});

interface Restart {
  down: number;
  up: number;
  /** Until every service instance's connection shows in CLIENT LIST again. */
  reconnectMs: number;
  /** Until every service and fleet member answers /ready 200. */
  readyMs: number;
  /** Rotations of this phase ended, and requested but not ended, when Redis went down. */
  ended: number;
  inFlight: number;
}

describe('3. Redis restart', () => {
  it(
    'reconnects every service and completes every rotation across Redis restarts',
    () =>
      redisSection.run(async () => {
        const e = rs!;
        const redis = redisServer!;
        const streams = e.operator.streams;
        const n = PROFILE.redisRotations;
        const sequence: Material[] = Array.from({ length: n }, (_, i) => (i === Math.floor(n / 2) ? 'GATEWAY_STS_HMAC_KEY' : i % 2 === 0 ? 'CARACAL_COORDINATOR_TOKEN' : 'CARACAL_ADMIN_TOKEN'));
        redisSection
          .tried(`Every process of the stack (services with 2 replicas each, the sandbox fleet, the test's clients) uses a private redis-server (port ${redis.port}, appendonly yes, appendfsync always, its own directory); this phase runs after the Postgres outage, on the same stack.`)
          .tried(
            `Requested ${n} rotations one after another; ${PROFILE.redisRestarts} time(s) mid-run: SHUTDOWN, ${seconds(PROFILE.redisDownMs)} down, redis-server started again on the same directory (the AOF reloaded). New requests waited while Redis was down; rotations in flight did not.`,
          );

        const pidsBefore = e.services.map((s) => s.pid);
        const terminals = new TerminalWatcher(e.redis, streams, Date.now());
        const restarts: Restart[] = [];
        let requested = 0;
        let gate: Promise<void> = Promise.resolve();
        const expectedNames = e.services.map((s) => `${s.name}/${s.instance}`);
        const readyUrls = [...e.services.map((s) => s.url), ...MEMBER_NAMES.map((m) => e.stack.fleet!.url(m))];

        const restartTask = (async () => {
          for (let k = 1; k <= PROFILE.redisRestarts; k++) {
            const threshold = Math.floor((k * n) / (PROFILE.redisRestarts + 1));
            await eventually('rotations before the restart', async () => ([...terminals.first.values()].length >= threshold ? true : undefined), minutes(5), 100);
            let open!: () => void;
            gate = new Promise((resolve) => (open = resolve));
            const ended = [...terminals.first.keys()].length;
            const inFlight = requested - ended;
            await redis.shutdown();
            const down = Date.now();
            await new Promise((r) => setTimeout(r, PROFILE.redisDownMs));
            await redis.start();
            const up = Date.now();
            open();
            const reconnectMs = await eventually(
              'every service reconnected',
              async () => {
                const list = String(await e.redis.call('CLIENT', 'LIST'));
                return expectedNames.every((name) => list.includes(`name=${name} `)) ? Date.now() - up : undefined;
              },
              minutes(1),
              100,
            );
            const readyMs = await eventually(
              'every service and fleet member ready',
              async () => ((await Promise.all(readyUrls.map((u) => statusOf(`${u}/ready`, 3000)))).every((s) => s === 200) ? Date.now() - up : undefined),
              minutes(1),
              200,
            );
            restarts.push({ down, up, reconnectMs, readyMs, ended, inFlight });
          }
        })();

        const t0 = Date.now();
        let driven: DrivenRotation[] = [];
        try {
          driven = await driveRotations({
            operator: e.operator,
            redis: e.redis,
            streams,
            watcher: terminals,
            sequence: sequence.map((material) => ({ material, reason: 'reliability: redis restart' })),
            rotationTimeoutMs: minutes(3),
            before: async () => {
              await gate;
              requested++;
            },
          });
          await restartTask;
        } finally {
          await restartTask.catch(() => undefined);
          await terminals.stop();
        }
        const ids = driven.map((d) => d.rotationId);
        const gaps = await eventually(
          'projection consistent with the streams',
          async () => {
            const g = await projectionGaps(e.pool, await rotationEntries(e.redis, streams), ids, 'completed');
            return g.missingEvents.length === 0 && g.wrongState.length === 0 ? g : undefined;
          },
          minutes(1),
          500,
        ).catch(async () => projectionGaps(e.pool, await rotationEntries(e.redis, streams), ids, 'completed'));
        const crashed = e.services.filter((s, i) => !s.running || s.pid !== pidsBefore[i]).map((s) => s.instance);
        const dead = await deadLetterCounts(e.redis, streams);
        const problems = failureDetails(await rotationEntries(e.redis, streams), ids);
        if (problems.length > 0) redisSection.table('What went wrong', ['rotation', 'material', 'event', 'detail'], problems);
        const aof = String(await e.redis.config('GET', 'appendfsync'));

        redisSection
          .figure('rotations', `${driven.length} (${[...new Set(sequence)].map((m) => `${m} ${sequence.filter((x) => x === m).length}`).join(', ')})`)
          .figure('outcomes', [...new Set(driven.map((d) => d.terminal?.name ?? 'none'))].map((s) => `${s} ${driven.filter((d) => (d.terminal?.name ?? 'none') === s).length}`).join(', '))
          .figure('run time', seconds(Date.now() - t0))
          .figure('Redis restarts', restarts.length)
          .figure('appendfsync', aof.replace(/^appendfsync,?/, ''))
          .figure('service processes that exited (same pid before and after required)', crashed.length ? crashed.join(', ') : 'none')
          .figure('dead-lettered entries (all rotation streams)', Object.values(dead).reduce((a, b) => a + b, 0))
          .figure('event ids on the streams missing from rotation_events', gaps.missingEvents.length)
          .figure('rotations rows not completed', gaps.wrongState.length)
          .figure('request XADDs that needed a retry', driven.filter((d) => d.attempts > 1).length);
        redisSection.table(
          'Restarts',
          ['#', 'down (SHUTDOWN → started)', 'all 10 service connections back after', 'all services and fleet members /ready after', 'rotations ended before', 'rotations requested and not ended (in flight or queued)'],
          restarts.map((r, i) => [i + 1, seconds(r.up - r.down), seconds(r.reconnectMs), seconds(r.readyMs), r.ended, r.inFlight]),
        );

        expect(restarts).toHaveLength(PROFILE.redisRestarts);
        expect(crashed).toEqual([]);
        expect(driven.map((d) => d.terminal?.name)).toEqual(sequence.map(() => 'completed'));
        expect(gaps).toEqual({ missingEvents: [], wrongState: [] });
        expect(dead).toEqual(Object.fromEntries(Object.keys(dead).map((k) => [k, 0])));
      }),
    minutes(6) + PROFILE.redisRotations * 30_000,
  );
});
