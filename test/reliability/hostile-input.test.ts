import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { compareStreamIds, Keyring, signFields, type StreamFields } from '@caracal-rotation/bus';
import { eventType, newRotationId, nowRfc3339 } from '@caracal-rotation/contracts';
import { readStream } from '@caracal-rotation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, readHistory, rotationEntries, secretFiles, statusOf } from '../support/inspect.js';
import { startReliabilityStack, type ReliabilityStack } from '../support/reliability-stack.js';
import { requestWithRetry, TerminalWatcher } from '../support/rotation-driver.js';
import { minutes } from './profile.js';
import { RUN_DIR, seconds, Section } from './report.js';

const section = new Section('hostile-input');
let rs: ReliabilityStack | undefined;
let watcher: TerminalWatcher | undefined;
let before: { files: Record<string, string>; modes: Record<string, number>; history: string[]; pids: (number | undefined)[] } | undefined;
let replayOf: string | undefined;
const rows: (string | number | boolean)[][] = [];
const UNKNOWN_KID_GRACE_MS = 60_000;

async function snapshot() {
  const e = rs!;
  const files = await secretFiles(e.secretsDir);
  const modes: Record<string, number> = {};
  for (const name of Object.keys(files)) modes[name] = (await stat(join(e.secretsDir, name))).mode & 0o777;
  const history = (await readHistory(e.secretsDir)).map((h) => `${h.file}/${h.seq}`).sort();
  return { files, modes, history };
}

beforeAll(async () => {
  rs = await startReliabilityStack({ name: 'hostile' });
  watcher = new TerminalWatcher(rs.redis, rs.operator.streams);
  // A real rotation first, whose events the replay case sends again.
  const { rotationId } = await requestWithRetry(rs.operator, rs.operator.streams, { material: 'CARACAL_COORDINATOR_TOKEN', reason: 'reliability: the rotation the replay repeats' });
  const end = await watcher.wait(rotationId, minutes(2));
  if (end?.name !== 'completed') throw new Error(`the setup rotation ended ${end?.name ?? 'never'}`);
  await eventually('setup rotation projected', async () => ((await rs!.pool.query("SELECT 1 FROM rotations WHERE rotation_id = $1 AND state = 'completed'", [rotationId])).rowCount ? true : undefined), minutes(1));
  replayOf = rotationId;
  before = { ...(await snapshot()), pids: rs.services.map((s) => s.pid) };
}, minutes(4));

afterAll(async () => {
  try {
    await watcher?.stop();
    await rs?.stop(section.failed ? { keepLogsIn: join(RUN_DIR, 'hostile-input-logs') } : {});
  } finally {
    section.table('Cases', ['case', 'expected', 'observed', 'handled by the planner', 'as expected'], rows);
    await section.write();
  }
}, minutes(3));

// --- crafting events ---------------------------------------------------------

const realKey = async () => (await readFile(join(rs!.secretsDir, 'streamsHmacKey'), 'utf8')).trim();

function envelope(data: string, rotationId = newRotationId()): StreamFields {
  return { event_id: newRotationId(), type: eventType('requested'), rotation_id: rotationId, occurred_at: nowRfc3339(), producer: 'mallory/x', data };
}

/** Signs `fields` as Caracal does, with `keyHex`, claiming key id `kid` (by default the key's own). */
function sign(stream: string, fields: StreamFields, keyHex: string, kid?: string): StreamFields {
  const k = Keyring.fromHex(keyHex).current;
  const withKid = { ...fields, kid: kid ?? k.kid };
  return { ...withKid, _sig: signFields(stream, withKid, k.key) };
}

async function xadd(fields: StreamFields): Promise<string> {
  return String(await rs!.redis.xadd(rs!.operator.streams.requested, '*', ...Object.entries(fields).flat()));
}

interface DeadLetter {
  group: string;
  error: string;
}
async function deadLettersOf(entryId: string): Promise<DeadLetter[]> {
  return (await readStream(rs!.redis, `${rs!.operator.streams.requested}.dead`))
    .filter((d) => d.fields.original_id === entryId)
    .map((d) => ({ group: d.fields.group ?? '', error: d.fields.error ?? '' }));
}

/** Waits until both consumer groups of the request stream (planner, recorder) dead-lettered the entry. */
async function bothDeadLettered(entryId: string, timeoutMs = 30_000): Promise<DeadLetter[]> {
  return eventually(`dead letters of ${entryId}`, async () => {
    const d = await deadLettersOf(entryId);
    return new Set(d.map((x) => x.group)).size >= 2 ? d : undefined;
  }, timeoutMs, 200);
}

async function plannerAnswered(rotationId: string): Promise<string[]> {
  const s = rs!.operator.streams;
  const out: string[] = [];
  for (const name of ['planned', 'queued', 'rejected'] as const) {
    for (const e of await readStream(rs!.redis, s[name])) if (e.fields.rotation_id === rotationId) out.push(name);
  }
  return out;
}

async function pendingIn(group: string, entryId: string): Promise<boolean> {
  const rows = (await rs!.redis.xpending(rs!.operator.streams.requested, group, entryId, entryId, 1)) as unknown[];
  return rows.length === 1;
}

const summary = (d: DeadLetter[]) => [...new Set(d.map((x) => `${x.group}: ${x.error}`))].sort().join('; ');

// --- cases ---------------------------------------------------------------------

describe('hostile requests', () => {
  const kidCases: { label: string; entryId: string; rotationId: string; at: number }[] = [];

  it('leaves an entry with an unknown kid pending, unhandled, through the grace period', () =>
    section.run(async () => {
      section.tried('Published, on a normal stack (2 replicas each), hand-crafted entries to the request stream with a plain Redis client, then checked dead letters, rejections, the secrets directory, the services\' pids and /health, and the projection.');
      const stream = rs!.operator.streams.requested;
      const data = JSON.stringify({ material: 'AUDIT_HMAC_KEY', reason: 'x', actor: 'mallory' });
      const other = randomBytes(32).toString('hex');
      const unknown = envelope(data);
      kidCases.push({ label: 'unknown kid (signed with a key nobody has)', entryId: await xadd(sign(stream, unknown, other)), rotationId: unknown.rotation_id!, at: Date.now() });
      await new Promise((r) => setTimeout(r, 5000));
      for (const c of kidCases) {
        expect(await pendingIn('planner', c.entryId), `${c.label}: pending for the planner`).toBe(true);
        expect(await pendingIn('recorder', c.entryId), `${c.label}: pending for the recorder`).toBe(true);
        expect(await deadLettersOf(c.entryId)).toEqual([]);
        expect(await plannerAnswered(c.rotationId)).toEqual([]);
      }
    }), 30_000);

  it('dead-letters a tampered field, a wrong key, a missing signature as invalid_signature', () =>
    section.run(async () => {
      const stream = rs!.operator.streams.requested;
      const key = await realKey();
      const realKid = Keyring.fromHex(key).current.kid;
      const cases: [string, StreamFields, string][] = [];
      const tampered = sign(stream, envelope(JSON.stringify({ material: 'AUDIT_HMAC_KEY', reason: 'x', actor: 'alice' })), key);
      tampered.data = JSON.stringify({ material: 'AUDIT_HMAC_KEY', reason: 'x', actor: 'mallory' });
      cases.push(['tampered data after signing', tampered, tampered.rotation_id!]);
      const wrong = envelope(JSON.stringify({ material: 'AUDIT_HMAC_KEY', reason: 'x', actor: 'mallory' }));
      cases.push(['signed with a wrong key, claiming the real kid', sign(stream, wrong, randomBytes(32).toString('hex'), realKid), wrong.rotation_id!]);
      const unsigned = sign(stream, envelope(JSON.stringify({ material: 'AUDIT_HMAC_KEY', reason: 'x', actor: 'mallory' })), key);
      delete unsigned._sig;
      cases.push(['no _sig field', unsigned, unsigned.rotation_id!]);
      const otherStream = sign(`${stream}-elsewhere`, envelope(JSON.stringify({ material: 'AUDIT_HMAC_KEY', reason: 'x', actor: 'mallory' })), key);
      cases.push(['signed for another stream name', otherStream, otherStream.rotation_id!]);
      for (const [label, fields, rotationId] of cases) {
        const entryId = await xadd(fields);
        const dead = await bothDeadLettered(entryId);
        const answered = await plannerAnswered(rotationId);
        const ok = dead.every((d) => d.error === 'invalid_signature') && answered.length === 0;
        rows.push([label, 'dead letter invalid_signature (planner and recorder)', summary(dead), answered.join(', ') || 'no', ok]);
        expect(new Set(dead.map((d) => d.error)), label).toEqual(new Set(['invalid_signature']));
        expect(answered, label).toEqual([]);
      }
    }), 60_000);

  it('dead-letters malformed envelopes and data as invalid_payload', () =>
    section.run(async () => {
      const stream = rs!.operator.streams.requested;
      const key = await realKey();
      const cases: [string, StreamFields][] = [
        ['data is malformed JSON', sign(stream, envelope('{"material": "AUDIT_HMAC_KEY", "reason": '), key)],
        ['data is a JSON array', sign(stream, envelope('["AUDIT_HMAC_KEY"]'), key)],
        ['rotation_id is not a UUID', sign(stream, { ...envelope(JSON.stringify({ material: 'AUDIT_HMAC_KEY', reason: 'x', actor: 'm' })), rotation_id: "1' OR '1'='1" }, key)],
        ['event_id missing', sign(stream, (({ event_id: _e, ...rest }) => rest)(envelope(JSON.stringify({ material: 'AUDIT_HMAC_KEY', reason: 'x', actor: 'm' }))), key)],
        ['type of another stream', sign(stream, { ...envelope(JSON.stringify({ material: 'AUDIT_HMAC_KEY', reason: 'x', actor: 'm' })), type: 'rotation.completed' }, key)],
        // No keyring reload can ever supply a missing or malformed kid: no grace period for these.
        ['no kid field at all', (({ kid: _k, ...rest }) => rest)(sign(stream, envelope(JSON.stringify({ material: 'AUDIT_HMAC_KEY', reason: 'x', actor: 'm' })), key))],
        ['kid that is not 16 hex characters', sign(stream, envelope(JSON.stringify({ material: 'AUDIT_HMAC_KEY', reason: 'x', actor: 'm' })), key, "'; DROP TABLE rotations; --")],
      ];
      for (const [label, fields] of cases) {
        const entryId = await xadd(fields);
        const dead = await bothDeadLettered(entryId);
        const answered = fields.rotation_id ? await plannerAnswered(fields.rotation_id) : [];
        const ok = dead.every((d) => d.error === 'invalid_payload') && answered.length === 0;
        rows.push([label, 'dead letter invalid_payload (planner and recorder)', summary(dead), answered.join(', ') || 'no', ok]);
        expect(new Set(dead.map((d) => d.error)), label).toEqual(new Set(['invalid_payload']));
        expect(answered, label).toEqual([]);
      }
    }), 60_000);

  const injections = ["'; DROP TABLE rotations; --", '<script>alert(1)</script>', '$(rm -rf /)', '../../etc/passwd', 'nul\u0000byte'];

  it('answers unacceptable but well-signed requests on rejected, and stores injection strings as data', () =>
    section.run(async () => {
      const e = rs!;
      const cases: { label: string; data: Record<string, unknown>; code: string }[] = [
        { label: 'unknown material', data: { material: 'MOON_KEY', reason: 'x', actor: 'm' }, code: 'unknown_material' },
        { label: 'material missing', data: { reason: 'x', actor: 'm' }, code: 'invalid_request' },
        { label: 'actor missing', data: { material: 'AUDIT_HMAC_KEY', reason: 'x' }, code: 'invalid_request' },
        { label: 'reason of 1 MB', data: { material: 'AUDIT_HMAC_KEY', reason: 'A'.repeat(1024 * 1024), actor: 'm' }, code: 'invalid_request' },
        { label: 'unknown field (sudo: true)', data: { material: 'AUDIT_HMAC_KEY', reason: 'x', actor: 'm', sudo: true }, code: 'invalid_request' },
        { label: 'zone id with path traversal', data: { material: 'ZONE_SIGNING_KEY', zone_id: '../../etc', reason: 'x', actor: 'm' }, code: 'invalid_request' },
        { label: 'reason with a NUL byte', data: { material: 'AUDIT_HMAC_KEY', reason: 'nul\u0000byte', actor: 'm' }, code: 'invalid_request' },
      ];
      for (const c of cases) {
        const rotationId = newRotationId();
        await e.operator.publish({ stream: e.operator.streams.requested, name: 'requested', eventId: newRotationId(), rotationId, data: c.data });
        const end = await watcher!.wait(rotationId, 30_000);
        const code = String(end?.data.reason_code ?? end?.name ?? 'none');
        const stateOf = async () => (await e.pool.query<{ state: string }>('SELECT state FROM rotations WHERE rotation_id = $1', [rotationId])).rows[0];
        const row = await eventually(`row of ${c.label}`, async () => ((await stateOf())?.state === 'rejected' ? stateOf() : undefined), 20_000).catch(async () => (await stateOf()) ?? { state: 'none' });
        rows.push([c.label, `rejected ${c.code}`, `${end?.name ?? 'none'} ${code}; projection state ${row.state}`, end?.name === 'rejected' ? 'rejected' : String(end?.name), end?.name === 'rejected' && code === c.code]);
        expect(end?.name, c.label).toBe('rejected');
        expect(code, c.label).toBe(c.code);
        expect(row.state, c.label).toBe('rejected');
      }

      // Injection strings in reason and actor: dry runs, so an accepted one writes nothing either.
      for (const text of injections) {
        for (const field of ['reason', 'actor'] as const) {
          const rotationId = newRotationId();
          const data = { material: 'AUDIT_HMAC_KEY', reason: 'injection probe', actor: 'probe@test', dry_run: true, [field]: text };
          await e.operator.publish({ stream: e.operator.streams.requested, name: 'requested', eventId: newRotationId(), rotationId, data });
          const hasNul = text.includes('\u0000');
          const row = await eventually(
            `projection row of ${field} ${JSON.stringify(text)}`,
            async () => {
              const r = (await e.pool.query<{ state: string; reason: string | null; actor: string | null }>('SELECT state, reason, actor FROM rotations WHERE rotation_id = $1', [rotationId])).rows[0];
              // The request and its answer travel on different streams: wait until both are projected.
              return r && (r.state === 'planned' || r.state === 'rejected') && r.reason !== null && r.actor !== null ? r : undefined;
            },
            30_000,
          );
          const stored = row[field];
          const expectedStored = hasNul ? text.replaceAll('\u0000', '\ufffd') : text;
          const ok = stored === expectedStored && row.state === (hasNul ? 'rejected' : 'planned');
          rows.push([
            `${field} = ${JSON.stringify(text)}`,
            hasNul ? 'rejected invalid_request; stored with U+FFFD for NUL (Postgres text cannot hold NUL)' : 'dry run planned; stored verbatim',
            `projection state ${row.state}; stored ${stored === text ? 'verbatim' : stored === expectedStored ? 'with NUL replaced by U+FFFD' : `as ${JSON.stringify(stored)}`}`,
            row.state === 'planned' ? 'planned (dry run)' : row.state,
            ok,
          ]);
          expect(stored, `${field} ${JSON.stringify(text)}`).toBe(expectedStored);
          expect(row.state).toBe(hasNul ? 'rejected' : 'planned');
        }
      }
      const tables = await e.pool.query<{ n: string }>("SELECT count(*) AS n FROM information_schema.tables WHERE table_name IN ('rotations', 'rotation_events') AND table_schema = current_schema()");
      expect(Number(tables.rows[0]!.n)).toBe(2);
    }), minutes(3));

  it('does not start a second rotation when old valid events are replayed verbatim', () =>
    section.run(async () => {
      const e = rs!;
      const s = e.operator.streams;
      const id = replayOf!;
      const countOf = async () => (await rotationEntries(e.redis, s)).filter((x) => x.fields.rotation_id === id).length;
      const eventsBefore = await countOf();
      const recordedBefore = Number((await e.pool.query<{ n: string }>('SELECT count(*) AS n FROM rotation_events WHERE rotation_id = $1', [id])).rows[0]!.n);
      const bootIds = e.stack.fleet!.status().map((m) => m.boot_id);
      const replayed: { stream: string; id: string }[] = [];
      for (const name of ['requested', 'planned', 'written', 'retiring', 'completed'] as const) {
        const [original] = (await readStream(e.redis, s[name])).filter((x) => x.fields.rotation_id === id);
        expect(original, name).toBeDefined();
        replayed.push({ stream: s[name], id: String(await e.redis.xadd(s[name], '*', ...Object.entries(original!.fields).flat())) });
      }
      // Every group of those streams has read and acknowledged the replayed entry.
      await eventually(
        'replays consumed',
        async () => {
          for (const r of replayed) {
            const groups = (await e.redis.xinfo('GROUPS', r.stream)) as unknown[][];
            for (const g of groups) {
              const name = String(g[g.indexOf('name') + 1]);
              const last = String(g[g.indexOf('last-delivered-id') + 1]);
              if (compareStreamIds(last, r.id) < 0) return undefined;
              if (((await e.redis.xpending(r.stream, name, r.id, r.id, 1)) as unknown[]).length > 0) return undefined;
            }
          }
          return true;
        },
        30_000,
      );
      await new Promise((r) => setTimeout(r, 2000));
      const eventsAfter = await countOf();
      const recordedAfter = Number((await e.pool.query<{ n: string }>('SELECT count(*) AS n FROM rotation_events WHERE rotation_id = $1', [id])).rows[0]!.n);
      const state = (await e.pool.query<{ state: string }>('SELECT state FROM rotations WHERE rotation_id = $1', [id])).rows[0]?.state;
      const restarted = e.stack.fleet!.status().filter((m, i) => m.boot_id !== bootIds[i]).map((m) => m.name);
      const ok = eventsAfter === eventsBefore + 5 && recordedAfter === recordedBefore && state === 'completed' && restarted.length === 0;
      rows.push([
        'replay of a processed rotation\'s requested, planned, written, retiring and completed, verbatim',
        'ignored: no new event, no write, no holder restart, projection unchanged',
        `${eventsAfter - eventsBefore - 5} new events; rotation_events ${recordedBefore} → ${recordedAfter}; state ${state}; holders restarted: ${restarted.join(', ') || 'none'}`,
        'no (duplicate event id)',
        ok,
      ]);
      expect(eventsAfter).toBe(eventsBefore + 5);
      expect(recordedAfter).toBe(recordedBefore);
      expect(state).toBe('completed');
      expect(restarted).toEqual([]);
    }), minutes(1));

  it('dead-letters the unknown-kid entries as unknown_kid once the grace period ends, never having handled them', () =>
    section.run(async () => {
      for (const c of kidCases) {
        const dead = await bothDeadLettered(c.entryId, UNKNOWN_KID_GRACE_MS + 60_000);
        const after = Date.now() - c.at;
        const answered = await plannerAnswered(c.rotationId);
        const row = (await rs!.pool.query('SELECT 1 FROM rotations WHERE rotation_id = $1', [c.rotationId])).rowCount;
        const ok = dead.every((d) => d.error === 'unknown_kid') && answered.length === 0 && row === 0;
        rows.push([c.label, `pending during the ${seconds(UNKNOWN_KID_GRACE_MS)} grace, then dead letter unknown_kid`, `${summary(dead)} after ${seconds(after)}; projection row: ${row ? 'yes' : 'none'}`, answered.join(', ') || 'no', ok]);
        expect(new Set(dead.map((d) => d.error)), c.label).toEqual(new Set(['unknown_kid']));
        expect(answered).toEqual([]);
        expect(row).toBe(0);
      }
    }), UNKNOWN_KID_GRACE_MS + minutes(2));

  it('wrote nothing to the secrets directory, and every service is still up with the same pid', () =>
    section.run(async () => {
      const e = rs!;
      const now = await snapshot();
      const health = await Promise.all(e.services.map((s) => statusOf(`${s.url}/health`)));
      const samePids = e.services.every((s, i) => s.running && s.pid === before!.pids[i]);
      section
        .figure('cases', rows.length)
        .figure('cases as expected', rows.filter((r) => r[4] === true).length)
        .figure('secret files changed by the hostile input', Object.keys(now.files).filter((f) => now.files[f] !== before!.files[f]).length + Object.keys(before!.files).filter((f) => !(f in now.files)).length)
        .figure('history versions added by the hostile input', now.history.length - before!.history.length)
        .figure('services answering /health 200', `${health.filter((h) => h === 200).length} of ${health.length}`)
        .figure('services with the same pid as before the hostile input', samePids ? `all ${e.services.length}` : 'no')
        .figure('dead letters on the request stream', (await readStream(e.redis, `${e.operator.streams.requested}.dead`)).length);
      section.note(`An unknown kid is not dead-lettered at once: a consumer re-reads its keyring and keeps the entry pending for ${seconds(UNKNOWN_KID_GRACE_MS)} (DESIGN §5, a mounted secret may lag), so the suite checks it stays pending and unhandled, then waits for the dead letter.`);
      expect(now).toEqual({ files: before!.files, modes: before!.modes, history: before!.history });
      expect(health).toEqual(e.services.map(() => 200));
      expect(samePids).toBe(true);
      expect(rows.every((r) => r[4] === true)).toBe(true);
    }), 30_000);
});
