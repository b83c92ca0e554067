import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SERVICE_NAMES } from '@caracal-rotation/launcher';
import type { Material } from '@caracal-rotation/contracts';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { seededRandom, startChaos, type Chaos } from '../support/chaos.js';
import { announcements, byRotation, deadLetterCounts, eventually, failureDetails, projectionGaps, queueInversions, readHistory, reEmissions, rotationEntries } from '../support/inspect.js';
import { startReliabilityStack, type ReliabilityStack } from '../support/reliability-stack.js';
import { driveRotations, percentiles, TerminalWatcher, type DrivenRotation } from '../support/rotation-driver.js';
import { watchSecrets, type WatchResult } from '../support/secret-watcher.js';
import { minutes, PROFILE } from './profile.js';
import { RUN_DIR, seconds, Section } from './report.js';

const section = new Section('crashes');
let rs: ReliabilityStack | undefined;

beforeAll(async () => {
  rs = await startReliabilityStack({ name: 'crashes' });
}, minutes(3));

afterAll(async () => {
  try {
    await rs?.stop(section.failed ? { keepLogsIn: join(RUN_DIR, 'crashes-logs') } : {});
    if (section.failed) section.note(`Service and fleet logs kept in test/reliability/.runs/${RUN_DIR.split('/').pop()}/crashes-logs.`);
  } finally {
    await section.write();
  }
}, minutes(3));

/** A secret store's temp file (libs/secrets fs-util tempNameFor): `.<name>.<16 hex>.tmp`. */
const TEMP_FILE = /^\..+\.[0-9a-f]{16}\.tmp$/;

/**
 * Cheap material, one class after another: mostly the tokens (a few seconds
 * each); every 12th the gateway key and every 24th the audit key, whose
 * holders (three and five of the replica's services) restart together: the
 * longest rolls, so the most likely to be cut by a kill.
 */
function crashSequence(n: number): Material[] {
  const out: Material[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 24 === 11) out.push('AUDIT_HMAC_KEY');
    else if (i % 12 === 5) out.push('GATEWAY_STS_HMAC_KEY');
    else out.push(i % 2 === 0 ? 'CARACAL_COORDINATOR_TOKEN' : 'CARACAL_ADMIN_TOKEN');
  }
  return out;
}

it(
  'ends every rotation completed exactly once while service processes are SIGKILLed at random',
  () =>
    section.run(async () => {
      const e = rs!;
      const streams = e.streams;
      const seed = PROFILE.seed || Math.floor(Math.random() * 2 ** 31);
      const sequence = crashSequence(PROFILE.rotations);
      section
        .tried(
          `Started the sandbox replica of Caracal (its own Redis, Postgres and five services behind a Docker socket) and every orchestrator service with 2 replicas (${e.services.length} service processes); CLAIM_IDLE_MS 3000 (roller and verifier 10000).`,
        )
        .tried(`Requested ${sequence.length} rotations one after another, signed by the operator key (one class in flight, up to two more queued): ${countBy(sequence)}.`)
        .tried(
          `Meanwhile a chaos loop (seed ${seed}) SIGKILLed a randomly chosen service process every ${PROFILE.killMinMs}–${PROFILE.killMaxMs} ms, left it down 0–${PROFILE.downMaxMs} ms and started it again (same instance name); the last request waited for at least ${PROFILE.kills} kills.`,
        )
        .tried(`A worker thread read every file of Caracal's secrets directory every ${PROFILE.watchMs} ms throughout.`);

      const terminals = new TerminalWatcher(e.redis, streams);
      const watch = watchSecrets(e.secretsDir, PROFILE.watchMs);
      let chaos: Chaos | undefined;
      let driven: DrivenRotation[] = [];
      let watched: WatchResult | undefined;
      const t0 = Date.now();
      try {
        chaos = startChaos(e.services, { random: seededRandom(seed), intervalMs: [PROFILE.killMinMs, PROFILE.killMaxMs], downMaxMs: PROFILE.downMaxMs });
        const c = chaos;
        driven = await driveRotations({
          operator: e.operator,
          redis: e.redis,
          streams,
          watcher: terminals,
          sequence: sequence.map((material) => ({ material, reason: 'reliability: crash scenario' })),
          rotationTimeoutMs: minutes(3),
          before: async (i) => {
            if (i !== sequence.length - 1) return;
            await eventually(`${PROFILE.kills} kills`, async () => (c.kills.length >= PROFILE.kills ? true : undefined), minutes(10), 200);
          },
        });
      } finally {
        await chaos?.stop();
        watched = await watch.stop();
        await terminals.stop();
      }
      const elapsed = Date.now() - t0;
      const kills = chaos!.kills;

      // --- figures -------------------------------------------------------
      const outcomes = countBy(driven.map((d) => d.terminal?.name ?? 'none'));
      const durations = driven.filter((d) => d.terminal).map((d) => d.terminal!.at - d.requestedAt);
      const p = percentiles(durations);
      section
        .figure('rotations requested', driven.length)
        .figure('outcomes', outcomes)
        .figure('run time (first request to last end)', seconds(elapsed))
        .figure('rotation time, request to end (p50 / p95 / max)', `${seconds(p.p50)} / ${seconds(p.p95)} / ${seconds(p.max)}`)
        .figure('SIGKILLs', kills.length)
        .figure('restarts that needed more than one attempt', kills.filter((k) => k.restartAttempts > 1).length)
        .figure('processes that did not come back', kills.filter((k) => !k.restarted).length)
        .figure('time down per kill (p50 / max)', `${seconds(percentiles(kills.map((k) => k.downMs)).p50)} / ${seconds(percentiles(kills.map((k) => k.downMs)).max)}`);
      section.table(
        'Kills per service',
        ['service', 'kills', 'replica 1', 'replica 2'],
        SERVICE_NAMES.map((s) => [s, kills.filter((k) => k.service === s).length, kills.filter((k) => k.instance === `${s}-1`).length, kills.filter((k) => k.instance === `${s}-2`).length]),
      );
      section.table(
        'Rotations per material',
        ['material', 'rotations', 'completed', 'p50', 'max'],
        [...new Set(sequence)].map((m) => {
          const mine = driven.filter((d) => d.material === m);
          const q = percentiles(mine.filter((d) => d.terminal).map((d) => d.terminal!.at - d.requestedAt));
          return [m, mine.length, mine.filter((d) => d.terminal?.name === 'completed').length, seconds(q.p50), seconds(q.max)];
        }),
      );
      section
        .figure('secret-file samples (reads)', watched.reads)
        .figure('secret-file sampling passes', watched.passes)
        .figure('value changes the watcher saw', Object.values(watched.files).reduce((n, f) => n + f.changes, 0))
        .figure('partial, empty, non-hex, wrong-length or wrong-mode reads', watched.violationCount);
      const tempLeft = [...(await readdir(e.secretsDir)), ...(await readdir(join(e.secretsDir, '.history'), { recursive: true }).catch(() => [] as string[]))].filter((n) => TEMP_FILE.test(n.split('/').pop()!));
      section.figure('temp files left in the secrets directory and its history by killed writers', tempLeft.length);
      // A retiring that reached a writer before it noted the deploy verification (held by a killed replica) waits for it.
      const writerLogs = await Promise.all(e.instances('secret-writer').map((s) => readFile(join(e.runDir, 'logs', `${s.instance}.log`), 'utf8').catch(() => '')));
      const waitedRetirements = new Set(writerLogs.join('\n').split('\n').filter((l) => l.includes('waits until this writer has noted')).map((l) => /"rotation_id":"([^"]+)"/.exec(l)?.[1]));
      section.figure('rotations whose retiring reached a writer before it had noted their deploy verification, and waited for it', waitedRetirements.size);

      // --- every rotation ended completed, exactly once ----------------------
      expect(driven).toHaveLength(sequence.length);
      const ids = driven.map((d) => d.rotationId);
      const entries = await rotationEntries(e.redis, streams);
      const announced = await announcements(e.caracalRedis, streams);
      const mine = byRotation(entries);
      const notCompleted = driven.filter((d) => d.terminal?.name !== 'completed');
      // What ended each rotation, by event id: a re-emission repeats the id, a second end would not.
      const endIds = new Map(ids.map((id) => [id, new Set((terminals.entries.get(id) ?? []).map((x) => `${x.event} ${x.eventId}`))]));
      const announcedIds = new Map(ids.map((id) => [id, new Set(announced.filter((x) => x.fields.rotation_id === id).map((x) => x.fields.event_id))]));
      const otherEnds = ids.flatMap((id) => (mine.get(id) ?? []).filter((x) => x.name === 'failed' || x.name === 'rejected' || x.name === 'abandoned').map((x) => `${id}: ${x.name}`));
      section
        .figure('rotations ended by exactly one event id (their retirement verified)', [...endIds.values()].filter((s) => s.size === 1).length)
        .figure("rotations with exactly one `completed` announcement event id (on Caracal's Redis)", [...announcedIds.values()].filter((s) => s.size === 1).length)
        .figure('`completed` announcement entries (re-emissions of the same event id included)', announced.filter((x) => ids.includes(x.fields.rotation_id ?? '')).length)
        .figure('failed, rejected or abandoned entries for these rotations', otherEnds.length);
      const again = reEmissions(entries.filter((x) => ids.includes(x.fields.rotation_id ?? '')));
      // Which rotations saw a re-emission, and how they ended: a re-run handler repeats its effect (a roller re-rolls the holders).
      const reEmitted = ids.flatMap((id) => Object.entries(reEmissions(mine.get(id) ?? [])).map(([stream, n]) => [id, stream, n, terminals.first.get(id)?.name ?? 'none']));
      if (reEmitted.length > 0) section.table('Rotations with a re-emitted event', ['rotation', 'stream', 'extra entries', 'outcome'], reEmitted);
      section.figure('entries re-emitted with an event id already on the stream (crash between emit and ack), per stream', Object.keys(again).length ? Object.entries(again).map(([k, n]) => `${k} ${n}`).join(', ') : 'none');

      // The class queue is first-in, first-out (docs/architecture.md §1: the class lock and its queue).
      const inversions = queueInversions(entries, ids).length;
      section.figure('queue order inversions (a later request planned before an earlier one)', inversions);
      if (inversions > 0) {
        section.finding(
          `the planner's class queue was not first-in, first-out: ${inversions} time(s) a later request was planned before an earlier one. With two planner replicas two requests are validated concurrently and reach the lock script (ClassLock.acquire) in either order.`,
        );
      }

      // One version per (rotation, phase) in the writer's history; one written event id per (rotation, phase).
      const history = await readHistory(e.secretsDir);
      const perStep = new Map<string, number>();
      for (const v of history.filter((h) => ids.includes(h.rotationId))) perStep.set(`${v.file} ${v.rotationId} ${v.phase}`, (perStep.get(`${v.file} ${v.rotationId} ${v.phase}`) ?? 0) + 1);
      const duplicateSteps = [...perStep].filter(([, n]) => n !== 1);
      const newPerRotation = ids.map((id) => history.filter((h) => h.rotationId === id && h.phase === 'new').length);
      const beforePerRotation = ids.map((id) => history.filter((h) => h.rotationId === id && h.phase === 'before').length);
      const writtenIds = new Map<string, Set<string>>();
      for (const w of entries.filter((x) => x.name === 'written' && ids.includes(x.fields.rotation_id ?? ''))) {
        const k = `${w.fields.rotation_id} ${String(w.data.phase)}`;
        writtenIds.set(k, (writtenIds.get(k) ?? new Set()).add(w.fields.event_id!));
      }
      section
        .figure('history versions of these rotations', history.filter((h) => ids.includes(h.rotationId)).length)
        .figure('(file, rotation, phase) steps recorded more than once', duplicateSteps.length)
        .figure("rotations with exactly one 'new' version", newPerRotation.filter((n) => n === 1).length)
        .figure('(rotation, phase) pairs with more than one written event id', [...writtenIds.values()].filter((s) => s.size > 1).length);

      // The projection agrees with the event log.
      const gaps = await eventually(
        'projection consistent with the streams',
        async () => {
          const g = await projectionGaps(e.pool, await rotationEntries(e.redis, streams), ids, 'completed');
          return g.missingEvents.length === 0 && g.wrongState.length === 0 ? g : undefined;
        },
        minutes(1),
        500,
      ).catch(async () => projectionGaps(e.pool, await rotationEntries(e.redis, streams), ids, 'completed'));
      const recorded = await e.pool.query<{ n: string }>('SELECT count(*) AS n FROM rotation_events WHERE rotation_id = ANY($1::uuid[])', [ids]);
      const announcedRecorded = await e.pool.query<{ n: string }>("SELECT count(*) AS n FROM rotation_events WHERE rotation_id = ANY($1::uuid[]) AND stream = $2", [ids, streams.completed]);
      section
        .figure('events of these rotations in rotation_events', Number(recorded.rows[0]!.n))
        .figure('`completed` announcements of these rotations in rotation_events', Number(announcedRecorded.rows[0]!.n));
      if (Number(announcedRecorded.rows[0]!.n) < ids.length) {
        section.finding(
          "the projection does not record the `completed` announcements: the verifier publishes them on Caracal's Redis (services/verifier/src/announcer.ts), while the recorder's consumer reads the rotation streams, `completed` included, on the bus's Redis (services/recorder/src/recorder.ts), so with a bus of its own (CARACAL_REDIS_URL set) rotation_events never gets them, although docs/architecture.md §2 says they are recorded as events.",
        );
      }
      section
        .figure('event ids on the streams missing from rotation_events', gaps.missingEvents.length)
        .figure('rotations rows not completed', gaps.wrongState.length);
      const problems = failureDetails(entries, ids);
      if (problems.length > 0) section.table('What went wrong (failed verifications, rolls and ends of these rotations)', ['rotation', 'material', 'event', 'detail'], problems);
      const dead = await deadLetterCounts(e.redis, streams);
      const deadTotal = Object.values(dead).reduce((a, b) => a + b, 0);
      section.figure('dead-lettered entries (all rotation streams)', deadTotal);

      expect(notCompleted.map((d) => `${d.index} ${d.material} ${d.terminal?.name}`)).toEqual([]);
      expect(otherEnds).toEqual([]);
      expect([...endIds.entries()].filter(([, s]) => s.size !== 1).map(([id, s]) => `${id}: ${[...s].join(', ')}`)).toEqual([]);
      expect([...announcedIds.entries()].filter(([, s]) => s.size !== 1).map(([id]) => id)).toEqual([]);
      expect(duplicateSteps).toEqual([]);
      expect(newPerRotation.every((n) => n === 1)).toBe(true);
      expect(beforePerRotation.every((n) => n >= 1)).toBe(true);
      expect([...writtenIds.values()].filter((s) => s.size > 1)).toEqual([]);
      expect(watched.violations).toEqual([]);
      expect(watched.reads).toBeGreaterThan(1000);
      expect(gaps).toEqual({ missingEvents: [], wrongState: [] });
      expect(dead).toEqual(Object.fromEntries(Object.keys(dead).map((k) => [k, 0])));
      expect(kills.length).toBeGreaterThanOrEqual(PROFILE.kills);
      expect(kills.every((k) => k.restarted)).toBe(true);
    }),
  minutes(4 + PROFILE.rotations * 0.15),
);

function countBy(values: string[]): string {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return [...m].map(([k, n]) => `${k} ${n}`).join(', ');
}
