import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { childRotationId, type Material } from '@caracal-rotation/contracts';
import { startPrivateRedis, type PrivateRedis } from '@caracal-rotation/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byRotation, deadLetters, eventually, failureDetails, projectionGaps, rotationEntries, statusOf } from '../support/inspect.js';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { startReliabilityStack, type ReliabilityStack } from '../support/reliability-stack.js';
import { driveRotations, lockReleased, requestWithRetry, TerminalWatcher, type DrivenRotation, type TerminalEvent, type TimelineEntry } from '../support/rotation-driver.js';
import { minutes, PROFILE } from './profile.js';
import { RUN_DIR, seconds, Section } from './report.js';

/**
 * Scenarios 2, 3 and 7 on one stack. The projection's Postgres and the bus's
 * Redis are private servers this file starts, stops and restarts (the shared
 * servers other test files use are never touched); Caracal's Postgres and STS
 * are the sandbox replica's own, stopped the way an operator's platform
 * would stop them.
 */
const pgSection = new Section('postgres-outage');
const redisSection = new Section('redis-restart');
const caracalSection = new Section('caracal-outages');
let pgServer_: PrivatePostgres | undefined;
let redisServer: PrivateRedis | undefined;
let rs: ReliabilityStack | undefined;

beforeAll(async () => {
  pgServer_ = await startPrivatePostgres('pg-outage');
  redisServer = await startPrivateRedis('bus-restart');
  rs = await startReliabilityStack({ name: 'outages', databaseUrl: pgServer_.url('caracal_reliability'), redisUrl: redisServer.url });
}, minutes(3));

afterAll(async () => {
  const failed = pgSection.failed || redisSection.failed || caracalSection.failed;
  try {
    if (pgServer_ && !pgServer_.running) await pgServer_.start().catch(() => undefined);
    if (redisServer && !redisServer.running) await redisServer.start().catch(() => undefined);
    await rs?.stop(failed ? { keepLogsIn: join(RUN_DIR, 'outages-logs') } : {});
    await pgServer_?.destroy();
    await redisServer?.destroy();
  } finally {
    if (failed) caracalSection.note(`Service logs kept in test/reliability/.runs/${RUN_DIR.split('/').pop()}/outages-logs.`);
    await pgSection.write();
    await redisSection.write();
    await caracalSection.write();
  }
}, minutes(3));

const countOf = <T>(values: T[]): string => {
  const m = new Map<string, number>();
  for (const v of values) m.set(String(v), (m.get(String(v)) ?? 0) + 1);
  return [...m].map(([k, n]) => `${k} ${n}`).join(', ');
};

describe('2. Projection Postgres outage', () => {
  it(
    'loses no event, retires each rotation once after recovery and dead-letters nothing while the projection is down',
    () =>
      pgSection.run(async () => {
        const e = rs!;
        const pgServer = pgServer_!;
        const streams = e.streams;
        const n = PROFILE.pgRotations;
        const sequence: Material[] = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'CARACAL_COORDINATOR_TOKEN' : 'CARACAL_ADMIN_TOKEN'));
        const outageAfter = Math.max(1, Math.floor(n / 3));
        pgSection
          .tried(
            `Started a private PostgreSQL 15 (initdb into a temp directory, trust auth, port ${pgServer.port}) for the projection; the services (2 replicas each) and the sandbox replica of Caracal (its own Postgres, untouched here).`,
          )
          .tried(`Requested ${n} token rotations one after another; after ${outageAfter} had completed, stopped the private server (fast shutdown) for ${seconds(PROFILE.pgOutageMs)}, then started it again on the same data directory.`)
          .tried("During the outage: requested a GATEWAY_STS_HMAC_KEY rotation (queued behind the one in flight) and two dry runs, and probed the recorders' /ready.");

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
        const want = (id: string) => (dryRuns.includes(id) ? 'planned' : 'completed');
        const gaps = await eventually(
          'projection caught up',
          async () => {
            const g = await projectionGaps(e.pool, await rotationEntries(e.redis, streams), [...ids, ...dryRuns], want);
            if (g.missingEvents.length > 0 || g.wrongState.length > 0) return undefined;
            caughtUpAt = Date.now();
            return g;
          },
          minutes(2),
          250,
        ).catch(async () => projectionGaps(e.pool, await rotationEntries(e.redis, streams), [...ids, ...dryRuns], want));
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
        const dead = await deadLetters(e.redis, streams);
        const problems = failureDetails(entries, ids);
        if (problems.length > 0) pgSection.table('What went wrong', ['rotation', 'material', 'event', 'detail'], problems);
        const crashed = e.services.filter((s, i) => !s.running || s.pid !== pidsBefore[i]).map((s) => s.instance);
        const recorded = await e.pool.query<{ n: string }>('SELECT count(*) AS n FROM rotation_events WHERE rotation_id = ANY($1::uuid[])', [[...ids, ...dryRuns]]);

        pgSection
          .figure('outage (server stopped → started again)', seconds(o.up - o.down))
          .figure('rotations', `${ids.length} (${n} driven + 1 requested during the outage), plus ${dryRuns.length} dry runs`)
          .figure('outcomes', countOf(ids.map((id) => terminals.first.get(id)?.name ?? 'none')))
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
          .figure('dead-lettered entries (all rotation streams)', dead.length)
          .figure('service processes that exited (same pid before and after required)', crashed.length ? crashed.join(', ') : 'none');
        if (crashed.length > 0) pgSection.finding(`service processes exited during the projection's Postgres outage: ${crashed.join(', ')} (see their logs)`);

        expect(crashed).toEqual([]);
        expect(driven.map((d) => d.terminal?.name)).toEqual(sequence.map(() => 'completed'));
        expect(gaps).toEqual({ missingEvents: [], wrongState: [] });
        expect(retiringIds).toEqual(ids.map(() => 1));
        expect(retiring.map((r) => r.length)).toEqual(ids.map(() => 1));
        expect(retiredAfterRecovery.every((ms) => ms !== null && ms >= 0)).toBe(true);
        expect(during.length).toBeGreaterThan(0);
        expect(o.readyDuring.every((s) => s !== 200)).toBe(true);
        expect(readyAfter).toEqual(recorders.map(() => 200));
        expect(dead).toEqual([]);
      }),
    minutes(4) + PROFILE.pgRotations * 30_000 + PROFILE.pgOutageMs,
  );
});

interface Restart {
  down: number;
  up: number;
  /** Until every service instance's connection shows in CLIENT LIST again. */
  reconnectMs: number;
  /** Until every service answers /ready 200. */
  readyMs: number;
  /** Rotations of this phase ended, and requested but not ended, when Redis went down. */
  ended: number;
  inFlight: number;
}

describe('3. Bus Redis restart', () => {
  it(
    'reconnects every service and completes every rotation across restarts of the bus Redis',
    () =>
      redisSection.run(async () => {
        const e = rs!;
        const redis = redisServer!;
        const streams = e.streams;
        const n = PROFILE.redisRotations;
        const sequence: Material[] = Array.from({ length: n }, (_, i) => (i === Math.floor(n / 2) ? 'GATEWAY_STS_HMAC_KEY' : i % 2 === 0 ? 'CARACAL_COORDINATOR_TOKEN' : 'CARACAL_ADMIN_TOKEN'));
        redisSection
          .tried(
            `The orchestrator's bus (its streams, locks, plans and de-duplication marks) is a private redis-server (port ${redis.port}, appendonly yes, appendfsync always, its own directory) that only this stack's services and the test's clients use; Caracal's Redis is the replica's own and stays up. This phase runs after the projection's Postgres outage, on the same stack.`,
          )
          .tried(
            `Requested ${n} rotations one after another; ${PROFILE.redisRestarts} time(s) mid-run: SHUTDOWN, ${seconds(PROFILE.redisDownMs)} down, redis-server started again on the same directory (the AOF reloaded). New requests waited while Redis was down; rotations in flight did not.`,
          );

        const pidsBefore = e.services.map((s) => s.pid);
        const terminals = new TerminalWatcher(e.redis, streams, Date.now());
        const restarts: Restart[] = [];
        let requested = 0;
        let gate: Promise<void> = Promise.resolve();
        const expectedNames = e.services.map((s) => `${s.name}/${s.instance}`);

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
              'every service ready',
              async () => ((await Promise.all(e.services.map((s) => statusOf(`${s.url}/ready`, 3000)))).every((s) => s === 200) ? Date.now() - up : undefined),
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
        const dead = await deadLetters(e.redis, streams);
        const problems = failureDetails(await rotationEntries(e.redis, streams), ids);
        if (problems.length > 0) redisSection.table('What went wrong', ['rotation', 'material', 'event', 'detail'], problems);
        const aof = String(await e.redis.config('GET', 'appendfsync'));

        redisSection
          .figure('rotations', `${driven.length} (${countOf(sequence)})`)
          .figure('outcomes', countOf(driven.map((d) => d.terminal?.name ?? 'none')))
          .figure('run time', seconds(Date.now() - t0))
          .figure('Redis restarts', restarts.length)
          .figure('appendfsync', aof.replace(/^appendfsync,?/, ''))
          .figure('service processes that exited (same pid before and after required)', crashed.length ? crashed.join(', ') : 'none')
          .figure('dead-lettered entries (all rotation streams)', dead.length)
          .figure('event ids on the streams missing from rotation_events', gaps.missingEvents.length)
          .figure('rotations rows not completed', gaps.wrongState.length)
          .figure('request XADDs that needed a retry', driven.filter((d) => d.attempts > 1).length);
        redisSection.table(
          'Restarts',
          ['#', 'down (SHUTDOWN → started)', `all ${e.services.length} service connections back after`, 'all services /ready after', 'rotations ended before', 'rotations requested and not ended (in flight or queued)'],
          restarts.map((r, i) => [i + 1, seconds(r.up - r.down), seconds(r.reconnectMs), seconds(r.readyMs), r.ended, r.inFlight]),
        );

        expect(restarts).toHaveLength(PROFILE.redisRestarts);
        expect(crashed).toEqual([]);
        expect(driven.map((d) => d.terminal?.name)).toEqual(sequence.map(() => 'completed'));
        expect(gaps).toEqual({ missingEvents: [], wrongState: [] });
        expect(dead).toEqual([]);
      }),
    minutes(4) + PROFILE.redisRotations * 30_000,
  );
});

/** What one outage scenario saw of the rotation it hit. */
interface OutageRun {
  label: string;
  ids: string[];
  next: string;
  down: number;
  up: number;
  /** Until the stopped part answered /ready (or accepted logins) again. */
  backMs: number;
}

/** The events of a rotation that happened while the dependency was down, as `written(deploy)` etc. */
function stepsWithin(timeline: TimelineEntry[] | undefined, from: number, to: number): string[] {
  return (timeline ?? []).filter((t) => t.occurredAt >= from && t.occurredAt <= to).map((t) => `${t.event}${t.data.phase ? `(${String(t.data.phase)})` : ''}`);
}

/** An end is visible when the stream says how it ended and why, and the projection agrees. */
function endText(t: TerminalEvent | undefined, failed: TerminalEvent[] | undefined): string {
  if (!t) return 'no end (wedged)';
  if (t.name === 'completed') return 'completed';
  const f = failed?.[0]?.data ?? t.data;
  return `${t.name}: ${String(f.error ?? f.reason_code ?? '').slice(0, 240)}${f.rolled_back === true ? ' (rolled back)' : ''}`;
}

describe("7. Caracal's Postgres and STS outages", () => {
  it(
    'ends each rotation hit by an outage completed or visibly failed, and lets the next class proceed',
    () =>
      caracalSection.run(async () => {
        const e = rs!;
        const streams = e.streams;
        const outageMs = PROFILE.caracalOutageMs;
        const zones = e.sandbox.zones;
        const apiUrlFile = join(e.secretsDir, 'apiDatabaseUrl');
        caracalSection
          .tried(
            `Postgres: requested POSTGRES_PASSWORD for role api and, once it was planned, CARACAL_COORDINATOR_TOKEN (queued behind it); when its written(deploy) appeared (ALTER ROLE done, files written, the api about to restart), stopped the replica's own PostgreSQL server (fast shutdown of the postmaster the sandbox runs, port ${e.caracalPostgres.port}) for ${seconds(outageMs)}, then started it again on the same data directory.`,
          )
          .tried(
            `STS: stopped the replica's STS container through its Docker Engine API socket (POST /containers/caracal-sts-1/stop, as an operator's platform would), requested a ZONE_SIGNING_KEY batch over the replica's ${zones.length} zones and, once it was planned, CARACAL_COORDINATOR_TOKEN (queued behind it), and started the STS again (POST …/start) ${seconds(outageMs)} later.`,
          )
          .tried("Each rotation hit must end completed, or failed with its reason on the failed stream and in the projection; the class queued behind it must complete; the replica must be ready afterwards, and the api role's password file must log in to Caracal's Postgres.");

        const terminals = new TerminalWatcher(e.redis, streams, Date.now());
        const runs: OutageRun[] = [];
        const t0 = Date.now();
        try {
          // --- Caracal's Postgres down during a POSTGRES_PASSWORD deploy ---------------------
          const password = (await requestWithRetry(e.operator, streams, { material: 'POSTGRES_PASSWORD', role: 'api', reason: 'reliability: Postgres down during the deploy' })).rotationId;
          await holdsTheLock(terminals, password);
          const afterPassword = (await requestWithRetry(e.operator, streams, { material: 'CARACAL_COORDINATOR_TOKEN', reason: 'reliability: next class after the Postgres outage' })).rotationId;
          const written = await terminals.until(() => terminals.timeline.get(password)?.find((t) => t.event === 'written' && t.data.phase === 'deploy'), minutes(2));
          if (!written) throw new Error(`POSTGRES_PASSWORD (api) was not written within 2 min (last state: ${terminals.stateOf(password) ?? 'none'})`);
          await e.caracalPostgres.stop();
          const pgDown = Date.now();
          await new Promise((r) => setTimeout(r, Math.max(0, outageMs - (Date.now() - pgDown))));
          await e.caracalPostgres.start();
          const pgUp = Date.now();
          const pgBack = await eventually('the api role logs in again', async () => ((await loginWorks(apiUrlFile)) ? Date.now() - pgUp : undefined), minutes(1), 200).catch(() => -1);
          runs.push({ label: 'POSTGRES_PASSWORD (role api)', ids: [password], next: afterPassword, down: pgDown, up: pgUp, backMs: pgBack });
          for (const id of [password, afterPassword]) await terminals.wait(id, minutes(4));
          for (const id of [password, afterPassword]) await lockReleased(e.redis, streams, terminals, id, minutes(1)).catch(() => undefined);

          // --- the STS down during a zone batch ----------------------------------------------
          await e.containers.stop('sts');
          const stsDown = Date.now();
          const batch = (await requestWithRetry(e.operator, streams, { material: 'ZONE_SIGNING_KEY', zone_ids: zones, reason: 'reliability: STS down during the batch' })).rotationId;
          await holdsTheLock(terminals, childRotationId(batch, zones[0]!));
          const afterBatch = (await requestWithRetry(e.operator, streams, { material: 'CARACAL_COORDINATOR_TOKEN', reason: 'reliability: next class after the STS outage' })).rotationId;
          await new Promise((r) => setTimeout(r, Math.max(0, outageMs - (Date.now() - stsDown))));
          await e.containers.start('sts');
          const stsUp = Date.now();
          const stsBack = await eventually('the STS ready again', async () => ((await statusOf(`${e.sandbox.services.sts}/ready`, 3000)) === 200 ? Date.now() - stsUp : undefined), minutes(1), 200).catch(() => -1);
          const children = zones.map((z) => childRotationId(batch, z));
          runs.push({ label: `ZONE_SIGNING_KEY batch (${zones.length} zones)`, ids: children, next: afterBatch, down: stsDown, up: stsUp, backMs: stsBack });
          for (const id of [...children, afterBatch]) await terminals.wait(id, minutes(4));
        } finally {
          await terminals.stop();
          // Whatever happened, the replica is left whole for the other scenarios and the teardown.
          if (!e.caracalPostgres.running) await e.caracalPostgres.start().catch(() => undefined);
          await e.containers.start('sts').catch(() => undefined);
        }

        // --- what each rotation hit showed -------------------------------------------------
        const entries = await rotationEntries(e.redis, streams);
        const all = runs.flatMap((r) => [...r.ids, r.next]);
        const stateRows = await eventually(
          'the projection has every end',
          async () => {
            const r = await e.pool.query<{ rotation_id: string; state: string; failure: string | null }>(
              'SELECT rotation_id::text AS rotation_id, state, failure FROM rotations WHERE rotation_id = ANY($1::uuid[])',
              [all],
            );
            const final = r.rows.filter((x) => ['completed', 'failed'].includes(x.state));
            return final.length === all.length ? r.rows : undefined;
          },
          minutes(1),
          500,
        ).catch(async () => (await e.pool.query<{ rotation_id: string; state: string; failure: string | null }>('SELECT rotation_id::text AS rotation_id, state, failure FROM rotations WHERE rotation_id = ANY($1::uuid[])', [all])).rows);
        const projected = new Map(stateRows.map((r) => [r.rotation_id, r]));
        const dead = await deadLetters(e.redis, streams);
        const deadOfThese = dead.filter((d) => all.includes(d.rotationId));
        const failedNaming = new Set(entries.filter((x) => x.name === 'failed').map((x) => (x.data.dead_letter as { entry_id?: string } | undefined)?.entry_id));
        const unexplainedDead = deadOfThese.filter((d) => !failedNaming.has(d.id));
        const readyAfter = Object.fromEntries(await Promise.all(Object.entries(e.sandbox.services).map(async ([name, url]) => [name, await statusOf(`${url}/ready`, 5000)] as const)));
        const apiLogin = await loginWorks(apiUrlFile);

        const rows: (string | number)[][] = [];
        for (const r of runs) {
          for (const id of r.ids) {
            const t = terminals.first.get(id);
            rows.push([
              r.label + (r.ids.length > 1 ? ` zone ${zones[r.ids.indexOf(id)]}` : ''),
              endText(t, terminals.failed.get(id)),
              t ? seconds(t.at - r.up) : '—',
              projected.get(id)?.state ?? 'no row',
              stepsWithin(terminals.timeline.get(id), r.down, r.up).join(', ') || 'none',
            ]);
          }
          const n = terminals.first.get(r.next);
          rows.push([`next class: CARACAL_COORDINATOR_TOKEN (after the ${r.label.split(' ')[0]})`, endText(n, terminals.failed.get(r.next)), n ? seconds(n.at - r.up) : '—', projected.get(r.next)?.state ?? 'no row', stepsWithin(terminals.timeline.get(r.next), r.down, r.up).join(', ') || 'none']);
        }
        caracalSection.table('Rotations hit by an outage, and the class behind each', ['rotation', 'how it ended', 'ended after the outage by', 'projection state', 'its events while the dependency was down'], rows);
        const [pgRun, stsRun] = runs;
        caracalSection
          .figure("Caracal's Postgres down (stopped → started)", pgRun ? seconds(pgRun.up - pgRun.down) : '—')
          .figure('api role logging in again after the restart', pgRun ? (pgRun.backMs >= 0 ? seconds(pgRun.backMs) : 'not within 1 min') : '—')
          .figure('STS down (docker stop → docker start)', stsRun ? seconds(stsRun.up - stsRun.down) : '—')
          .figure('STS /ready 200 again after its start', stsRun ? (stsRun.backMs >= 0 ? seconds(stsRun.backMs) : 'not within 1 min') : '—')
          .figure('outcomes of the rotations hit', countOf(runs.flatMap((r) => r.ids).map((id) => terminals.first.get(id)?.name ?? 'none')))
          .figure('outcomes of the classes behind them', countOf(runs.map((r) => terminals.first.get(r.next)?.name ?? 'none')))
          .figure('run time', seconds(Date.now() - t0))
          .figure('dead letters of these rotations (each named by a failed event?)', `${deadOfThese.length} (${deadOfThese.length - unexplainedDead.length} named)`)
          .figure('replica /ready afterwards', Object.entries(readyAfter).map(([k, v]) => `${k} ${v}`).join(', '))
          .figure("the api role's password file logs in to Caracal's Postgres afterwards", apiLogin);
        // How the roll of the password's holders went through the outage, as the roller reported it.
        const rolls = pgRun ? (terminals.timeline.get(pgRun.ids[0]!) ?? []).filter((t) => t.event === 'rolled') : [];
        for (const roll of rolls) {
          const holders = (roll.data.holders ?? []) as { service: string; ok: boolean; restarted_at: string | null; ready_at: string | null; attempts: number; error?: string }[];
          caracalSection.figure(
            `roll of POSTGRES_PASSWORD (${String(roll.data.phase)}): each holder`,
            holders
              .map((h) => `${h.service} ${h.ok ? 'ok' : `not ok (${(h.error ?? '').slice(0, 120)})`}, ${h.attempts} attempt(s), ready ${h.restarted_at && h.ready_at ? seconds(Date.parse(h.ready_at) - Date.parse(h.restarted_at)) : '—'} after its restart`)
              .join('; '),
          );
        }
        // The secret-writer's retries of the STS rotate route while the STS was down (transient faults, retried with backoff).
        const writerLogs = (await Promise.all(e.instances('secret-writer').map((s) => readFile(join(e.runDir, 'logs', `${s.instance}.log`), 'utf8').catch(() => '')))).join('\n').split('\n');
        const retriedChildren = stsRun ? stsRun.ids.map((id) => writerLogs.filter((l) => l.includes(id) && l.includes('transient fault')).length) : [];
        caracalSection.figure('secret-writer retries of each zone key write while the STS was down', retriedChildren.join(', ') || '—');
        const problems = failureDetails(entries, all);
        if (problems.length > 0) caracalSection.table('What went wrong', ['rotation', 'material', 'event', 'detail'], problems);
        for (const r of runs) {
          for (const id of r.ids) {
            const t = terminals.first.get(id);
            if (t && t.name !== 'completed') caracalSection.note(`${r.label} ended ${endText(t, terminals.failed.get(id))}: visible on the failed stream and as ${projected.get(id)?.state ?? 'no row'} in the projection.`);
          }
        }

        expect(runs).toHaveLength(2);
        for (const r of runs) {
          for (const id of r.ids) {
            const t = terminals.first.get(id);
            expect(t?.name, `${r.label} ${id}`).toMatch(/^(completed|failed)$/);
            expect(projected.get(id)?.state, `${r.label} ${id} in the projection`).toBe(t?.name);
            if (t?.name === 'failed') {
              expect(String(terminals.failed.get(id)?.[0]?.data.error ?? ''), `${r.label}: why it failed`).not.toBe('');
              expect(projected.get(id)?.failure ?? '', `${r.label}: why it failed, in the projection`).not.toBe('');
            }
          }
          expect(terminals.timeline.get(r.next)?.some((t) => t.event === 'queued'), `the next class waited behind ${r.label}`).toBe(true);
          expect(terminals.first.get(r.next)?.name, `the class behind ${r.label}`).toBe('completed');
        }
        expect(unexplainedDead).toEqual([]);
        expect(readyAfter).toEqual(Object.fromEntries(Object.keys(e.sandbox.services).map((k) => [k, 200])));
        expect(apiLogin).toBe(true);
      }),
    minutes(6) + 4 * PROFILE.caracalOutageMs,
  );
});

/**
 * Waits until a rotation is planned, i.e. holds the class lock: a request
 * published right after it is then queued behind it. (Published together,
 * two requests reach the lock in the order two planner replicas get to it;
 * docs/architecture.md, section 5.)
 */
async function holdsTheLock(terminals: TerminalWatcher, id: string): Promise<void> {
  const planned = await terminals.until(() => terminals.timeline.get(id)?.find((t) => t.event === 'planned'), minutes(1));
  if (!planned) throw new Error(`rotation ${id} was not planned within a minute (last state: ${terminals.stateOf(id) ?? 'none'})`);
}

/** Whether the URL in a secret file (a Caracal role's database URL) logs in to Caracal's Postgres. */
async function loginWorks(urlFile: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: (await readFile(urlFile, 'utf8')).trim(), connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
