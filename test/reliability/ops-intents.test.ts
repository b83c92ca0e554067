import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { awaitEvents, followRotation } from '@caracal-rotation/caracal-rotate';
import { stageEventId, type IntentAction } from '@caracal-rotation/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCatalog } from '../support/catalog-windows.js';
import { startE2E, type E2E } from '../support/e2e-stack.js';
import { registerOperator, type RegisteredOperator } from '../support/operator-registry.js';
import { projectedFacts, untilProjected } from '../support/projection-rows.js';
import { compareEntryIds, completedEntries, doneByEveryGroup, entriesOf, waitFor } from '../support/rotation-evidence.js';
import { containerStarts, restartedBetween } from '../support/sandbox-restarts.js';
import { secretsChanges, snapshotSecrets } from '../support/secrets-snapshot.js';
import { minutes, PROFILE } from './profile.js';
import { seconds, Section } from './report.js';

/**
 * Operators' intents on one stack: keys without the right, abandoning a
 * queued and a stuck rotation, and rollbacks sent around the end of the
 * rollback window while the recorder (which publishes `retiring`) is paused.
 */

const rights = new Section('operator-rights');
const abandon = new Section('abandon');
const edge = new Section('rollback-edge');

let e: E2E;
let catalogDir: string;
let limited: RegisteredOperator;
const rightsRows: (string | boolean)[][] = [];
const edgeRows: (string | number | boolean)[][] = [];

const streams = () => e.operator.streams;
const lockState = async () => {
  const tag = `{${e.prefix}}`;
  return { lock: await e.redis.hgetall(`${tag}:lock`), queue: await e.redis.lrange(`${tag}:queue`, 0, -1) };
};

interface IntentAnswer {
  by: 'planner' | 'secret-writer' | 'none';
  name: string;
  code?: string;
  message?: string;
}

/** Publishes an intent as `who` and waits for the planner's answer and, for an approved rollback, the secret-writer's (their event ids derive from the intent's). */
async function intend(who: RegisteredOperator['operator'], rotationId: string, action: IntentAction, reason: string): Promise<IntentAnswer> {
  const s = streams();
  const since = `${Date.now() - 1}-0`;
  const intentId = await who.intend(rotationId, { action, reason });
  const step = `${action}/${intentId}`;
  const rejectedId = stageEventId(rotationId, 'planner', step);
  const approvedId = action === 'rollback' ? stageEventId(rotationId, 'planner', step) : stageEventId(rotationId, 'planner', 'abandon');
  const planner = await awaitEvents(e.redis, [s.rejected, action === 'rollback' ? s.rollback : s.abandoned], since, (x) => x.eventId === rejectedId || x.eventId === approvedId, 30_000);
  if (!planner) return { by: 'none', name: 'no answer' };
  if (planner.name === 'rejected') return { by: 'planner', name: 'rejected', code: String(planner.data.reason_code), message: String(planner.data.message) };
  if (action === 'abandon') return { by: 'planner', name: 'abandoned', message: String(planner.data.state) };
  const refusedId = stageEventId(rotationId, 'secret-writer', `rollback-refused/${planner.eventId}`);
  const writtenId = stageEventId(rotationId, 'secret-writer', 'rollback');
  const writer = await awaitEvents(e.redis, [s.rejected, s.written], since, (x) => x.eventId === refusedId || x.eventId === writtenId, 30_000);
  if (!writer) return { by: 'planner', name: 'rollback' };
  if (writer.name === 'rejected') return { by: 'secret-writer', name: 'rejected', code: String(writer.data.reason_code), message: String(writer.data.message) };
  return { by: 'secret-writer', name: 'written(rollback)' };
}

const follow = async (id: string, timeoutMs = 90_000) => (await followRotation(e.redis, streams(), id, () => undefined, { timeoutMs })).terminal.get(id);

beforeAll(async () => {
  catalogDir = await mkdtemp(join(tmpdir(), 'caracal-rel-ops-'));
  // CARACAL_COORDINATOR_TOKEN retires at once by default (window 0): the edge trials give it a window to roll back in.
  const catalogPath = await writeCatalog(join(catalogDir, 'catalog.json'), PROFILE.edgeWindowMs, { CARACAL_COORDINATOR_TOKEN: PROFILE.edgeWindowMs });
  // Two replicas of each service; trimming off, so every entry stays on its stream for the checks.
  e = await startE2E('ops', { catalogPath, replicas: 2, env: { recorder: { TRIM_TICK_MS: '0' } } });
  limited = await registerOperator(e.stack.rotationDir, e.cliEnv, { name: 'ci-limited', materials: ['AUDIT_HMAC_KEY'] });
}, minutes(3));

afterAll(async () => {
  try {
    for (const r of e?.stack.instances('recorder') ?? []) if (r.pid) process.kill(r.pid, 'SIGCONT');
    await limited?.operator.close();
    await e?.stop();
    await rm(catalogDir, { recursive: true, force: true });
  } finally {
    rights.table('Cases', ['operator', 'asked for', 'expected', 'answer', 'actor recorded', 'as expected'], rightsRows);
    edge.table(
      'Trials',
      ['intent sent, relative to the end of the window', "planner's answer", "secret-writer's answer", 'recorder resumed → retiring published', 'outcome', 'written(rollback) / written(retire)', '`completed` announcements', 'exactly one outcome'],
      edgeRows,
    );
    for (const s of [rights, abandon, edge]) await s.write();
  }
}, minutes(2));

describe('a stuck and a queued rotation, operators without the right, abandon', () => {
  let stuck: string;
  let queued: string;
  let zone: string;
  let zoneRotation: string;

  it('holds a GATEWAY_STS_HMAC_KEY rotation at its roll (roller stopped) with two others queued behind it', () =>
    abandon.run(async () => {
      for (const r of e.stack.instances('roller')) await r.stop();
      stuck = await e.operator.request({ material: 'GATEWAY_STS_HMAC_KEY', reason: 'reliability: stuck at its roll' });
      await untilProjected(e.pool, stuck, ['rolling'], 60_000);
      queued = await e.operator.request({ material: 'CARACAL_COORDINATOR_TOKEN', reason: 'reliability: queued, then abandoned' });
      // Two planners take requests concurrently: the second request waits until the first is queued, so the queue's order is known.
      await untilProjected(e.pool, queued, ['queued'], 30_000);
      zone = e.sandbox.zones[0]!;
      zoneRotation = await e.operator.request({ material: 'ZONE_SIGNING_KEY', zone_id: zone, reason: 'reliability: the next class' });
      await untilProjected(e.pool, zoneRotation, ['queued'], 30_000);
      abandon.tried(
        'On two replicas of each service: stopped both rollers, requested GATEWAY_STS_HMAC_KEY (written, then stuck with nobody to restart its holders), then CARACAL_COORDINATOR_TOKEN and ZONE_SIGNING_KEY of one zone, both queued behind it by the class lock.',
      );
      expect((await lockState()).queue).toEqual([queued, zoneRotation]);
    }), 90_000);

  it('answers an operator key without the material or the right with rejected unauthorized, and changes nothing', () =>
    rights.run(async () => {
      rights.tried(
        "Added an operator `ci-limited` to the stack's operators.json with a key of its own, allowed AUDIT_HMAC_KEY only, without the emergency, rollback and abandon rights (the planner and recorder re-read the registry), and signed requests and intents with its key while a GATEWAY_STS_HMAC_KEY rotation was stuck at its roll and a CARACAL_COORDINATOR_TOKEN rotation was queued.",
      );
      const before = { stuck: await projectedFacts(e.pool, stuck), queued: await projectedFacts(e.pool, queued), lock: await lockState() };
      const secrets = await snapshotSecrets(e.stack.secretsDir);

      // The control: its key is registered, and what it may do is done.
      const control = await limited.operator.request({ material: 'AUDIT_HMAC_KEY', reason: 'reliability: allowed', dry_run: true });
      expect(await follow(control, 60_000)).toBe('planned');
      await untilProjected(e.pool, control, ['planned'], 30_000);
      const controlActor = (await projectedFacts(e.pool, control))?.actor;
      rightsRows.push(['ci-limited', 'AUDIT_HMAC_KEY (dry run)', 'planned', 'planned', String(controlActor ?? ''), controlActor === 'ci-limited']);

      const requests: [string, Parameters<typeof limited.operator.request>[0]][] = [
        ['CARACAL_ADMIN_TOKEN (not among its materials)', { material: 'CARACAL_ADMIN_TOKEN', reason: 'reliability: not allowed' }],
        ['AUDIT_HMAC_KEY as an emergency (no emergency right)', { material: 'AUDIT_HMAC_KEY', reason: 'reliability: not allowed', emergency: true }],
      ];
      for (const [label, data] of requests) {
        const id = await limited.operator.request(data);
        expect(await follow(id, 60_000), label).toBe('rejected');
        const rejected = (await entriesOf(e.redis, streams(), id)).find((x) => x.name === 'rejected')!;
        const state = await untilProjected(e.pool, id, ['rejected'], 30_000);
        const actor = (await projectedFacts(e.pool, id))?.actor;
        const ok = rejected.data.reason_code === 'unauthorized' && state === 'rejected' && actor === 'ci-limited';
        rightsRows.push(['ci-limited', label, 'rejected unauthorized', `rejected ${String(rejected.data.reason_code)}: ${String(rejected.data.message)}`, String(actor ?? ''), ok]);
        expect(rejected.data.reason_code, label).toBe('unauthorized');
        expect(actor, label).toBe('ci-limited');
      }
      const intents: [string, string, IntentAction][] = [
        ['rollback of the stuck rotation (no rollback right)', stuck, 'rollback'],
        ['abandon of the stuck rotation (no abandon right)', stuck, 'abandon'],
        ['abandon of the queued rotation (no abandon right)', queued, 'abandon'],
      ];
      for (const [label, id, action] of intents) {
        const answer = await intend(limited.operator, id, action, 'reliability: not allowed');
        const ok = answer.by === 'planner' && answer.name === 'rejected' && answer.code === 'unauthorized';
        rightsRows.push(['ci-limited', label, 'rejected unauthorized', `${answer.name} ${answer.code ?? ''}: ${answer.message ?? ''}`.trim(), '—', ok]);
        expect(answer, label).toMatchObject({ by: 'planner', name: 'rejected', code: 'unauthorized' });
      }
      const after = { stuck: await projectedFacts(e.pool, stuck), queued: await projectedFacts(e.pool, queued), lock: await lockState() };
      const changes = secretsChanges(secrets, await snapshotSecrets(e.stack.secretsDir));
      rights
        .figure('cases', rightsRows.length)
        .figure('cases as expected', rightsRows.filter((r) => r[5] === true).length)
        .figure('stuck and queued rotations, class lock and queue unchanged', JSON.stringify(after) === JSON.stringify(before))
        .figure('secret files changed / history entries added', `${changes.files.length} / ${changes.history.length}`);
      rights.note('A refused intent leaves the rotation as it was: the projection records the rejection as an event of that rotation without moving its state.');
      expect(after).toEqual(before);
      expect(changes).toEqual({ files: [], history: [] });
    }), minutes(2));

  it('abandons the queued rotation and the stuck one; the lock goes at once to the next class, which runs to an end', () =>
    abandon.run(async () => {
      const t0 = Date.now();
      const queuedAnswer = await intend(e.operator, queued, 'abandon', 'reliability: no longer wanted');
      const stuckAnswer = await intend(e.operator, stuck, 'abandon', 'reliability: its roller is gone');
      const abandonedMs = Date.now() - t0;
      const zoneOutcome = await follow(zoneRotation);
      const states = { stuck: await untilProjected(e.pool, stuck, ['abandoned'], 30_000), queued: await untilProjected(e.pool, queued, ['abandoned'], 30_000) };
      // The planner frees the lock when it reads the zone rotation's verified(retire), just after the rotation ends.
      const lock = await waitFor('the class lock freed', async () => {
        const l = await lockState();
        return Object.keys(l.lock).length === 0 && l.queue.length === 0 ? l : undefined;
      }, 30_000).catch(async () => lockState());
      const queuedPlanned = (await entriesOf(e.redis, streams(), queued)).filter((x) => x.name === 'planned');
      const zonePlanned = (await entriesOf(e.redis, streams(), zoneRotation)).find((x) => x.name === 'planned')!;
      const stuckAbandoned = (await entriesOf(e.redis, streams(), stuck)).find((x) => x.name === 'abandoned')!;
      const zoneEntries = await entriesOf(e.redis, streams(), zoneRotation);
      const zoneVerified = zoneEntries.find((x) => x.name === 'verified' && x.data.phase === 'deploy');
      const zoneFailedChecks = ((zoneVerified?.data.checks ?? []) as { name: string; ok: boolean; detail: string }[]).filter((c) => !c.ok);
      const zoneWritten = zoneEntries.some((x) => x.name === 'written' && x.data.phase === 'deploy');
      abandon
        .figure('abandon of the queued CARACAL_COORDINATOR_TOKEN', `${queuedAnswer.name} (state ${queuedAnswer.message ?? '?'}); projection ${states.queued}`)
        .figure('abandon of the stuck GATEWAY_STS_HMAC_KEY', `${stuckAnswer.name} (state ${stuckAnswer.message ?? '?'}); projection ${states.stuck}`)
        .figure('both abandons answered after', seconds(abandonedMs))
        .figure('the abandoned queued rotation was planned', queuedPlanned.length > 0)
        .figure('ZONE_SIGNING_KEY planned no earlier than the stuck rotation was abandoned', compareEntryIds(zonePlanned.id, stuckAbandoned.id) >= 0)
        .figure('ZONE_SIGNING_KEY (no holder to roll, so no roller needed)', `${zoneOutcome ?? 'no end'}${zoneWritten ? ' (the STS rotated its key)' : ''}`)
        .figure('checks of its deploy verification that failed', zoneFailedChecks.map((c) => `${c.name}: ${c.detail}`).join('; ') || 'none')
        .figure('class lock and queue afterwards', JSON.stringify(lock));
      expect(queuedAnswer).toMatchObject({ name: 'abandoned', message: 'queued' });
      expect(stuckAnswer).toMatchObject({ name: 'abandoned', message: 'in_flight' });
      expect(states).toEqual({ stuck: 'abandoned', queued: 'abandoned' });
      expect(queuedPlanned).toEqual([]);
      // The planner hands the lock over in the same script that publishes the abandon: the two entries may share an id.
      expect(compareEntryIds(zonePlanned.id, stuckAbandoned.id)).toBeGreaterThanOrEqual(0);
      if (zoneOutcome !== 'completed') {
        abandon.finding(
          `Abandoning a rotation after its write leaves the new value in Caracal's secrets while its holders still run the old one ("abandon touches no secret", docs/architecture.md §2). The next rotation, of another class, then failed its deploy verification on that leftover (${zoneFailedChecks.map((c) => c.name).join(', ') || 'its checks'}): a ZONE_SIGNING_KEY, which cannot be rolled back, ended failed although the STS had rotated its key. Every rotation fails its baseline checks until the abandoned material is rotated again. Abandon could refuse (or roll back) a rotation whose write happened, or the plan of the next rotation could say so.`,
        );
      }
      expect(['completed', 'failed']).toContain(zoneOutcome);
      expect(lock).toEqual({ lock: {}, queue: [] });
    }), minutes(2));

  it('the roller, back, does not restart the holders of the abandoned rotation; the next rotation of its class completes', () =>
    abandon.run(async () => {
      const starts = await containerStarts(e.sandbox.docker_socket);
      const written = (await entriesOf(e.redis, streams(), stuck)).find((x) => x.name === 'written')!;
      for (const r of e.stack.instances('roller')) await r.start();
      await waitFor('the roller done with the abandoned rotation’s written', async () => ((await doneByEveryGroup(e.redis, written.stream, written.id)) ? true : undefined), 60_000);
      const restarted = restartedBetween(starts, await containerStarts(e.sandbox.docker_socket));
      const rolled = (await entriesOf(e.redis, streams(), stuck)).filter((x) => x.name === 'rolled');
      const next = await e.rotate({ material: 'GATEWAY_STS_HMAC_KEY', reason: 'reliability: after the abandon' }, minutes(2));
      const zoneAfter = await e.rotate({ material: 'ZONE_SIGNING_KEY', zone_id: e.sandbox.zones[1]!, reason: 'reliability: once the abandoned class is rotated again' }, minutes(2));
      abandon
        .figure('containers restarted when the roller came back', restarted.join(', ') || 'none')
        .figure('rolled entries for the abandoned rotation', rolled.length)
        .figure('next GATEWAY_STS_HMAC_KEY rotation', next.outcome ?? 'no end')
        .figure('then a ZONE_SIGNING_KEY rotation (another zone)', zoneAfter.outcome ?? 'no end');
      abandon.note(
        'Abandon touches no secret: the stuck rotation had already written its new GATEWAY_STS_HMAC_KEY, so until the next rotation of that class the file held a value its running holders did not (a holder restarted meanwhile would have read it). The GATEWAY_STS_HMAC_KEY rotation that follows brings them in step again.',
      );
      expect(restarted).toEqual([]);
      expect(rolled).toEqual([]);
      expect(next.outcome).toBe('completed');
      expect(zoneAfter.outcome).toBe('completed');
    }), minutes(3));
});

describe('rollback at the edge of the rollback window, the recorder paused', () => {
  it('ends each rotation exactly once: rolled back or completed, never both', () =>
    edge.run(async () => {
      const w = PROFILE.edgeWindowMs;
      const n = Math.max(1, PROFILE.edgeTrials);
      const offsets = Array.from({ length: n }, (_, i) => (n === 1 ? 0 : Math.round(-PROFILE.edgeSpreadMs + (2 * PROFILE.edgeSpreadMs * i) / (n - 1))));
      edge.tried(
        `On two replicas of each service, for each of ${n} offsets from −${PROFILE.edgeSpreadMs} ms to +${PROFILE.edgeSpreadMs} ms: paused the recorder (SIGSTOP: it publishes \`retiring\`, so retirement is late), requested CARACAL_COORDINATOR_TOKEN (restored on rollback; its safety window set to ${seconds(w)} for the test, 0 by default), waited for its verified(deploy), sent an operator's rollback at the end of the window plus the offset, waited for the planner's and the secret-writer's answers, resumed the recorder (SIGCONT) and followed the rotation to its end.`,
      );
      const recorders = e.stack.instances('recorder');
      let exactlyOne = 0;
      for (const offset of offsets) {
        for (const r of recorders) process.kill(r.pid!, 'SIGSTOP');
        let resumedAt = 0;
        try {
          const id = await e.operator.request({ material: 'CARACAL_COORDINATOR_TOKEN', reason: `reliability: rollback at the window's end ${offset >= 0 ? '+' : ''}${offset} ms` });
          const verified = await waitFor('verified(deploy)', async () => (await entriesOf(e.redis, streams(), id)).find((x) => x.name === 'verified' && x.data.phase === 'deploy'), 60_000, 25);
          if (verified.data.ok !== true) throw new Error(`the deploy of ${id} did not verify`);
          const windowEnds = Date.parse(verified.fields.occurred_at!) + w;
          await new Promise((r) => setTimeout(r, Math.max(0, windowEnds + offset - Date.now())));
          const sentAt = Date.now() - windowEnds;
          const answer = await intend(e.operator, id, 'rollback', `reliability: at the window's end ${offset} ms`);
          for (const r of recorders) process.kill(r.pid!, 'SIGCONT');
          resumedAt = Date.now();
          const outcome = await follow(id);
          // Settled: every entry of the rotation consumed by every group, so nothing of it is still under way.
          await waitFor('the rotation settled', async () => {
            for (const x of await entriesOf(e.redis, streams(), id)) if (!(await doneByEveryGroup(e.redis, x.stream, x.id))) return undefined;
            return true;
          }, 60_000, 250);
          const entries = await entriesOf(e.redis, streams(), id);
          const retiring = entries.find((x) => x.name === 'retiring');
          const rollbackWritten = entries.filter((x) => x.name === 'written' && x.data.phase === 'rollback').length;
          const retireWritten = entries.filter((x) => x.name === 'written' && x.data.phase === 'retire').length;
          const announcements = new Set((await completedEntries(e.caracalRedis, streams(), id)).map((x) => x.fields.event_id)).size;
          const failed = entries.filter((x) => x.name === 'failed');
          const rolledBack = failed.some((x) => x.data.rolled_back === true);
          const projected = await untilProjected(e.pool, id, ['completed', 'failed'], 60_000);
          const one =
            (outcome === 'completed' && announcements === 1 && rollbackWritten === 0 && retireWritten === 1 && failed.length === 0 && projected === 'completed') ||
            (outcome === 'failed' && rolledBack && announcements === 0 && rollbackWritten === 1 && retireWritten === 0 && projected === 'failed');
          if (one) exactlyOne += 1;
          edgeRows.push([
            `${sentAt >= 0 ? '+' : ''}${sentAt} ms (aimed ${offset >= 0 ? '+' : ''}${offset})`,
            answer.by === 'planner' ? `${answer.name} ${answer.code ?? ''}`.trim() : 'rollback',
            answer.by === 'secret-writer' ? `${answer.name} ${answer.code ?? ''}${answer.message ? `: ${answer.message}` : ''}`.trim() : '—',
            retiring ? `${retiring.fields.producer?.split('/')[0]} after ${seconds(Math.max(0, Number(retiring.id.split('-')[0]) - resumedAt))}` : 'none',
            `${outcome ?? 'no end'}${rolledBack ? ' (rolled back)' : ''}; projection ${projected}`,
            `${rollbackWritten} / ${retireWritten}`,
            announcements,
            one,
          ]);
          expect(one, `offset ${offset}: ${JSON.stringify(edgeRows[edgeRows.length - 1])}`).toBe(true);
        } finally {
          if (!resumedAt) for (const r of recorders) process.kill(r.pid!, 'SIGCONT');
        }
      }
      const rolledBack = edgeRows.filter((r) => String(r[4]).includes('rolled back')).length;
      edge
        .figure('trials', offsets.length)
        .figure('rolled back / completed', `${rolledBack} / ${offsets.length - rolledBack}`)
        .figure('trials with exactly one outcome', `${exactlyOne} of ${offsets.length}`);
      const lateRetiring = edgeRows.filter((r) => String(r[4]).includes('rolled back') && r[3] !== 'none').length;
      edge.figure('rolled-back rotations that still got a (late) retiring from the resumed recorder', lateRetiring);
      edge.note(
        "The secret-writer decides: a rollback is applied only while its clock is before the end of the window counted from the deploy verification it noted, and only if retirement has not begun in its durable record; a `retiring` that arrives after an applied rollback is refused. The planner approves any rollback of a rotation in flight; its approval is not the outcome.",
      );
      expect(exactlyOne).toBe(offsets.length);
    }), minutes(6));
});
