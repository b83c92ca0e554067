import { chmod, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { childRotationId, type Material } from '@caracal-rotation/contracts';
import { MEMBER_NAMES } from '@caracal-rotation/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byRotation, deadLetterCounts, dumpSchema, eventually, failureDetails, fetchText, keysMatching, keyText, queueInversions, readHistory, rotationEntries, secretFiles, statusOf } from '../support/inspect.js';
import { uniqueName } from '@caracal-rotation/testing';
import { startReliabilityStack, type ReliabilityStack } from '../support/reliability-stack.js';
import { requestWithRetry, TerminalWatcher, type TerminalEvent } from '../support/rotation-driver.js';
import { watchSecrets, type WatchResult } from '../support/secret-watcher.js';
import { minutes, PROFILE } from './profile.js';
import { RUN_DIR, seconds, Section } from './report.js';

/**
 * Scenarios 6 and 5 on one stack: STREAMS_HMAC_KEY rotated while other
 * rotations are in flight on the bus it signs; then the rest of the
 * materials, and a search for every secret value this run produced in
 * everything the system wrote.
 */
const selfRotation = new Section('self-rotation');
const hygiene = new Section('secret-hygiene');
let rs: ReliabilityStack | undefined;
let terminals: TerminalWatcher | undefined;
/** Core materials that completed in this file, so the hygiene part rotates only what is missing. */
const completedMaterials = new Set<Material>();

const CORE: Material[] = ['AUDIT_HMAC_KEY', 'STREAMS_HMAC_KEY', 'GATEWAY_STS_HMAC_KEY', 'CARACAL_ADMIN_TOKEN', 'CARACAL_COORDINATOR_TOKEN'];
const BATCH_ZONES = ['rel-zone-1', 'rel-zone-2', 'rel-zone-3'];
const HYGIENE_ZONE = 'rel-zone-h';

beforeAll(async () => {
  rs = await startReliabilityStack({
    name: 'secrets',
    seed: { zones: [...BATCH_ZONES, HYGIENE_ZONE], sealedSecrets: 20 },
    stores: { postgres: true, redisAclUser: uniqueName('rel-acl') },
  });
  terminals = new TerminalWatcher(rs.redis, rs.operator.streams);
}, minutes(3));

afterAll(async () => {
  try {
    await terminals?.stop();
    if (rs) await chmod(rs.secretsDir, 0o700).catch(() => undefined);
    await rs?.stop(selfRotation.failed || hygiene.failed ? { keepLogsIn: join(RUN_DIR, 'self-rotation-and-hygiene-logs') } : {});
  } finally {
    await selfRotation.write();
    await hygiene.write();
  }
}, minutes(3));

const request = async (spec: Parameters<typeof requestWithRetry>[2]) => (await requestWithRetry(rs!.operator, rs!.operator.streams, spec)).rotationId;

describe('6. STREAMS_HMAC_KEY rotated while other rotations are in flight', () => {
  it(
    'wedges nothing and dead-letters nothing',
    () =>
      selfRotation.run(async () => {
        const e = rs!;
        const streams = e.operator.streams;
        const zones = BATCH_ZONES;
        const queuedMaterials: Material[] = ['CARACAL_ADMIN_TOKEN', 'CARACAL_COORDINATOR_TOKEN', 'GATEWAY_STS_HMAC_KEY'];
        const dryRunCount = Math.max(0, PROFILE.inFlight - queuedMaterials.length - zones.length);
        const dryMaterials: Material[] = ['AUDIT_HMAC_KEY', 'GATEWAY_STS_HMAC_KEY', 'CARACAL_ADMIN_TOKEN', 'CARACAL_COORDINATOR_TOKEN', 'STREAMS_HMAC_KEY', 'ZONE_KEK'];
        selfRotation
          .tried('Requested a STREAMS_HMAC_KEY rotation on a stack with 2 replicas of each service: the key that signs every event of the bus, the rotation\'s own included.')
          .tried(
            `Right behind it, queued behind the class lock: ${queuedMaterials.join(', ')} and a ZONE_SIGNING_KEY batch over ${zones.length} zones (${zones.length} rotations); then ${dryRunCount} dry runs spread over the rotation (one every 700 ms), so requests were signed and verified across every key switch: ${queuedMaterials.length + zones.length + dryRunCount} other rotations in flight.`,
          )
          .tried('Every request was signed with the key in the secrets directory at that moment (the operator re-reads it before each publish).');

        const watch = watchSecrets(e.secretsDir, 5);
        const t0 = Date.now();
        const streamsRotation = await request({ material: 'STREAMS_HMAC_KEY', reason: 'reliability: self-rotation' });
        const queued: { id: string; material: Material }[] = [];
        const batch = await request({ material: 'ZONE_SIGNING_KEY', zone_ids: zones, reason: 'reliability: zone batch behind the streams key' });
        for (const material of queuedMaterials) queued.push({ id: await request({ material, reason: 'reliability: queued behind the streams key' }), material });
        const dryRuns: string[] = [];
        for (let i = 0; i < dryRunCount; i++) {
          dryRuns.push(await request({ material: dryMaterials[i % dryMaterials.length]!, dry_run: true, reason: 'reliability: dry run during the streams key rotation' }));
          await new Promise((r) => setTimeout(r, 700));
        }
        const children = zones.map((z) => childRotationId(batch, z));
        let watched: WatchResult;
        const ends = new Map<string, TerminalEvent | undefined>();
        try {
          for (const id of [streamsRotation, ...queued.map((q) => q.id), ...children]) ends.set(id, await terminals!.wait(id, minutes(4)));
        } finally {
          watched = await watch.stop();
        }
        const elapsed = Date.now() - t0;

        // Dry runs end in `planned` (projection state planned, dry_run true).
        const dryStates = await eventually(
          'dry runs projected',
          async () => {
            const r = await e.pool.query<{ rotation_id: string; state: string; dry_run: boolean }>('SELECT rotation_id::text AS rotation_id, state, dry_run FROM rotations WHERE rotation_id = ANY($1::uuid[])', [dryRuns]);
            return r.rows.length === dryRuns.length && r.rows.every((x) => x.state === 'planned') ? r.rows : undefined;
          },
          minutes(1),
          500,
        ).catch(async () => (await e.pool.query<{ rotation_id: string; state: string; dry_run: boolean }>('SELECT rotation_id::text AS rotation_id, state, dry_run FROM rotations WHERE rotation_id = ANY($1::uuid[])', [dryRuns])).rows);
        const entries = await rotationEntries(e.redis, streams);
        const mine = byRotation(entries);
        const dead = await deadLetterCounts(e.redis, streams);
        const nsDead = await keysMatching(e.redis, `${e.namespace}*.dead`);
        const nsDlq = await keysMatching(e.redis, `${e.namespace}*dlq*`);
        const caracalDead: Record<string, number> = {};
        for (const k of [...nsDead, ...nsDlq]) caracalDead[k] = await e.redis.xlen(k);
        const kids = new Map<string, number>();
        for (const x of entries) kids.set(x.fields.kid ?? '', (kids.get(x.fields.kid ?? '') ?? 0) + 1);
        const sEvents = (mine.get(streamsRotation) ?? []).sort((a, b) => a.fields.occurred_at!.localeCompare(b.fields.occurred_at!));
        const switchStart = Date.parse(sEvents.find((x) => x.name === 'written')?.fields.occurred_at ?? '0');
        const switchEnd = Date.parse(sEvents.find((x) => x.name === 'completed')?.fields.occurred_at ?? '0');
        const requestsDuringSwitch = entries.filter((x) => x.name === 'requested' && Date.parse(x.fields.occurred_at!) >= switchStart && Date.parse(x.fields.occurred_at!) <= switchEnd).length;
        const nameOf = (id: string) => (id === streamsRotation ? 'STREAMS_HMAC_KEY' : (queued.find((x) => x.id === id)?.material ?? `ZONE_SIGNING_KEY ${zones[children.indexOf(id)]}`));
        const outcomes = [...ends.entries()].map(([id, t]) => {
          const label = nameOf(id);
          return [label, t ? t.name : 'no terminal event (wedged)', t ? seconds(t.at - t0) : '—', t?.name === 'failed' ? String(t.data.error ?? '').slice(0, 160) : t?.name === 'rejected' ? String(t.data.reason_code ?? '') : ''];
        });
        for (const [id, t] of ends) {
          const material = id === streamsRotation ? 'STREAMS_HMAC_KEY' : queued.find((q) => q.id === id)?.material;
          if (t?.name === 'completed' && material) completedMaterials.add(material);
        }

        selfRotation
          .figure('other rotations in flight', `${queued.length + children.length + dryRuns.length} (${queued.length} queued, ${children.length} zone-batch members, ${dryRuns.length} dry runs)`)
          .figure('STREAMS_HMAC_KEY rotation', `${ends.get(streamsRotation)?.name ?? 'wedged'} after ${seconds((ends.get(streamsRotation)?.at ?? Date.now()) - t0)}`)
          .figure('requests published between its first write and its completion', requestsDuringSwitch)
          .figure('everything ended after', seconds(elapsed))
          .figure('rotations without a terminal event (wedged)', [...ends.values()].filter((t) => !t).length)
          .figure('dry runs in the projection as planned', `${dryStates.filter((x) => x.state === 'planned').length} of ${dryRuns.length}`)
          .figure('events on the rotation streams, by signing kid', [...kids.entries()].map(([k, n]) => `${k || '(none)'}: ${n}`).join(', '))
          .figure('dead-lettered entries (every <prefix>.*.dead stream)', Object.values(dead).reduce((a, b) => a + b, 0))
          .figure(
            "entries on the fleet's dead-letter streams (the verifier's own refused-signature probes land there)",
            Object.entries(caracalDead).map(([k, n]) => `${k.slice(e.namespace.length)} ${n}`).join(', ') || 'none',
          )
          .figure('secret-file samples during the run / bad reads', `${watched.reads} / ${watched.violationCount}`);
        const problems = failureDetails(entries, [...ends.keys()]);
        if (problems.length > 0) selfRotation.table('What went wrong', ['rotation', 'material', 'event', 'detail'], problems);
        selfRotation.table('Rotations behind the streams key', ['rotation', 'outcome', 'ended after', 'detail'], outcomes);
        // Requested in this order: streams key, zone batch, then the queued classes. The class queue is FIFO.
        const requestOrder = [streamsRotation, ...children, ...queued.map((q) => q.id)];
        const inversions = queueInversions(entries, requestOrder);
        selfRotation.figure('queue order inversions (a later request planned before an earlier one)', inversions.length ? inversions.map(([a, b]) => `${nameOf(b)} before ${nameOf(a)}`).join('; ') : 'none');
        if (inversions.length > 0) {
          selfRotation.finding(
            `the class queue was not first-in, first-out: ${inversions.map(([a, b]) => `${nameOf(b)} was planned before ${nameOf(a)}, requested earlier`).join('; ')}. Two planner replicas validate requests concurrently and reach the lock script in either order.`,
          );
        }
        for (const [label, outcome, , detail] of outcomes) {
          if (outcome !== 'completed') selfRotation.finding(`${label} behind the streams key ended ${outcome}${detail ? `: ${detail}` : ''}`);
        }

        expect([...ends.entries()].filter(([, t]) => !t).map(([id]) => id)).toEqual([]);
        expect(ends.get(streamsRotation)?.name).toBe('completed');
        for (const q of queued) expect(ends.get(q.id)?.name, q.material).toBe('completed');
        for (const [i, id] of children.entries()) expect(ends.get(id)?.name, `ZONE_SIGNING_KEY ${zones[i]}`).toBe('completed');
        expect(dryStates.map((x) => x.state)).toEqual(dryRuns.map(() => 'planned'));
        expect(dead).toEqual(Object.fromEntries(Object.keys(dead).map((k) => [k, 0])));
        expect(watched.violations).toEqual([]);
      }),
    minutes(8),
  );
});

describe('5. secret hygiene', () => {
  it(
    'rotates every material, then finds no secret value in logs, streams, Postgres or metrics, and keeps the store private',
    () =>
      hygiene.run(async () => {
        const e = rs!;
        const optional: { material: Material; role?: string; zone_id?: string }[] = [
          { material: 'ZONE_KEK' },
          { material: 'ZONE_SIGNING_KEY', zone_id: HYGIENE_ZONE },
          { material: 'POSTGRES_PASSWORD', role: 'api' },
          { material: 'REDIS_PASSWORD' },
        ];
        const missing = CORE.filter((m) => !completedMaterials.has(m));
        hygiene
          .tried(
            `Rotated every material the catalog lists, on a stack with zones in the STS, 20 sealed zone secrets, a sandbox Postgres with per-service roles and a Redis ACL user: ${CORE.filter((m) => completedMaterials.has(m)).join(', ') || 'none'} (and a ZONE_SIGNING_KEY batch) in the self-rotation run, then ${[...missing, ...optional.map((o) => o.material)].join(', ')} here.`,
          )
          .tried('Collected every secret value of the run: every version in the secret-writer\'s history (old and new) and every current file; searched each in lowercase, uppercase and as base64 of its bytes.')
          .tried('Searched every service and fleet log, every key under the test\'s stream prefix, Caracal namespace and seen-markers (XRANGE of every stream, dead letters included), every row of every table of the test schema (row::text) and /metrics of every service and fleet member.')
          .tried('Checked modes (files 0444, directory 0700, .history and its folders 0700, versions 0400); then made the directory 0755 and requested a rotation.');

        const outcomes: [string, string, string][] = [];
        for (const spec of [...missing.map((material) => ({ material }) as (typeof optional)[number]), ...optional]) {
          const id = await request({ ...spec, reason: 'reliability: secret hygiene' });
          const end = await terminals!.wait(id, minutes(3));
          outcomes.push([spec.material + (spec.role ? ` (role ${spec.role})` : '') + (spec.zone_id ? ` (zone ${spec.zone_id})` : ''), end?.name ?? 'no terminal event', String(end?.data.reason_code ?? end?.data.error ?? '').slice(0, 200)]);
          if (end?.name === 'completed') completedMaterials.add(spec.material);
        }
        hygiene.table('Rotations of the hygiene run', ['material', 'outcome', 'detail'], outcomes);
        for (const [material, outcome, detail] of outcomes) {
          if (outcome !== 'completed') hygiene.finding(`${material} ended ${outcome}${detail ? ` (${detail})` : ''} in the hygiene run; its generated values (if any) are searched like the others.`);
        }
        hygiene.note('Zone signing keys are generated and kept by the STS (the sandbox keeps them in its Redis namespace), never by this system, so they are not among the searched values; the STS admin token that drives them is.');

        // --- modes ---------------------------------------------------------------
        const dirMode = (await stat(e.secretsDir)).mode & 0o777;
        const files = await secretFiles(e.secretsDir);
        const fileModes: Record<string, string> = {};
        for (const f of Object.keys(files)) fileModes[f] = ((await stat(join(e.secretsDir, f))).mode & 0o777).toString(8);
        const historyRoot = join(e.secretsDir, '.history');
        const historyMode = (await stat(historyRoot)).mode & 0o777;
        const historyDirs: Record<string, string> = {};
        const versionModes = new Set<string>();
        for (const d of await readdir(historyRoot)) {
          historyDirs[d] = ((await stat(join(historyRoot, d))).mode & 0o777).toString(8);
          for (const v of (await readdir(join(historyRoot, d))).filter((n) => n.endsWith('.json'))) versionModes.add(((await stat(join(historyRoot, d, v))).mode & 0o777).toString(8));
        }
        hygiene
          .figure('secrets directory mode', dirMode.toString(8))
          .figure('secret file modes', [...new Set(Object.values(fileModes))].join(', ') + ` (${Object.keys(fileModes).length} files)`)
          .figure('.history mode / its folders', `${historyMode.toString(8)} / ${[...new Set(Object.values(historyDirs))].join(', ')}`)
          .figure('version file modes', [...versionModes].join(', '));

        // --- an unsafe directory is refused ---------------------------------------
        const beforeUnsafe = { files: await secretFiles(e.secretsDir), history: (await readHistory(e.secretsDir)).map((h) => `${h.file}/${h.seq}`).sort() };
        await chmod(e.secretsDir, 0o755);
        let unsafe: TerminalEvent | undefined;
        let writerReady: number[] = [];
        try {
          const id = await request({ material: 'CARACAL_ADMIN_TOKEN', reason: 'reliability: unsafe store' });
          unsafe = await terminals!.wait(id, minutes(2));
          writerReady = await Promise.all(e.instances('secret-writer').map((s) => statusOf(`${s.url}/ready`)));
        } finally {
          await chmod(e.secretsDir, 0o700);
        }
        const afterUnsafe = { files: await secretFiles(e.secretsDir), history: (await readHistory(e.secretsDir)).map((h) => `${h.file}/${h.seq}`).sort() };
        hygiene
          .figure('rotation requested with the directory at 0755', `${unsafe?.name ?? 'no end'} ${String(unsafe?.data.reason_code ?? unsafe?.data.error ?? '').slice(0, 120)}`)
          .figure('secret-writer /ready with the directory at 0755', writerReady.join(', '))
          .figure('files or history versions written meanwhile', afterUnsafe.files === beforeUnsafe.files ? 0 : Object.keys(afterUnsafe.files).filter((f) => afterUnsafe.files[f] !== beforeUnsafe.files[f]).length + afterUnsafe.history.length - beforeUnsafe.history.length);

        // --- every secret value of the run ------------------------------------------
        // Hex values as they are; a derived URL file (apiDatabaseUrl, redisUrl) by the password inside it.
        const values = new Set<string>();
        const add = (raw: string) => {
          const v = raw.trim();
          if (/^[0-9a-f]{32,}$/.test(v)) values.add(v);
          else if (/^[a-z]+:\/\//.test(v)) {
            const password = decodeURIComponent(new URL(v).password);
            if (password.length >= 16) values.add(password);
          }
        };
        for (const v of await readHistory(e.secretsDir)) add(v.value);
        for (const v of Object.values(await secretFiles(e.secretsDir))) add(v);
        const needles: { kind: string; text: string; ref: string }[] = [];
        for (const v of values) {
          const ref = v.slice(0, 4) + '…';
          needles.push({ kind: 'hex', text: v, ref }, { kind: 'HEX', text: v.toUpperCase(), ref });
          if (/^(?:[0-9a-f]{2})+$/.test(v)) needles.push({ kind: 'base64', text: Buffer.from(v, 'hex').toString('base64').replace(/=+$/, ''), ref });
        }

        // --- where to look -----------------------------------------------------------
        const haystacks: { where: string; kind: string; text: string }[] = [];
        const logDir = join(e.runDir, 'logs');
        for (const f of await readdir(logDir)) haystacks.push({ where: `log ${f}`, kind: 'logs', text: await readFile(join(logDir, f), 'utf8') });
        const prefixName = e.prefix.replace(/\.caracal\.rotation$/, '');
        const keys = new Set([...(await keysMatching(e.redis, `*${prefixName}*`)), ...(await keysMatching(e.redis, `*${e.namespace}*`))]);
        for (const k of keys) {
          const { type, text } = await keyText(e.redis, k);
          haystacks.push({ where: `redis ${type} ${k}`, kind: 'redis', text });
        }
        const tables = await dumpSchema(e.pool, e.schema!);
        for (const t of tables) haystacks.push({ where: `postgres ${t.table}`, kind: 'postgres', text: t.text });
        for (const s of e.services) haystacks.push({ where: `metrics ${s.instance}`, kind: 'metrics', text: (await fetchText(`${s.url}/metrics`)) ?? '' });
        for (const m of MEMBER_NAMES) {
          const text = await fetchText(`${e.stack.fleet!.url(m)}/metrics`);
          if (text !== undefined) haystacks.push({ where: `metrics fleet ${m}`, kind: 'metrics', text });
        }
        const size = (kind: string) => haystacks.filter((h) => h.kind === kind).reduce((n, h) => n + Buffer.byteLength(h.text), 0);
        const hits: string[] = [];
        for (const h of haystacks) for (const n of needles) if (h.text.includes(n.text)) hits.push(`${h.where}: a ${n.kind} secret value (${n.ref})`);
        const streamsSearched = [...keys].filter((k) => haystacks.some((h) => h.where.startsWith('redis stream') && h.where.endsWith(k)));
        const deadSearched = streamsSearched.filter((k) => k.endsWith('.dead') || k.includes('dlq'));

        hygiene
          .figure('secret values collected (old and new, every material)', values.size)
          .figure('search strings (lowercase, uppercase, base64)', needles.length)
          .figure('log files searched', `${haystacks.filter((h) => h.kind === 'logs').length} (${(size('logs') / 1024).toFixed(0)} KiB)`)
          .figure('Redis keys searched', `${keys.size}, ${streamsSearched.length} of them streams (${deadSearched.length} dead-letter), ${(size('redis') / 1024).toFixed(0)} KiB`)
          .figure('Postgres tables dumped', `${tables.length} (${tables.reduce((n, t) => n + t.rows, 0)} rows, ${(size('postgres') / 1024).toFixed(0)} KiB)`)
          .figure('/metrics outputs searched', `${haystacks.filter((h) => h.kind === 'metrics').length} (${(size('metrics') / 1024).toFixed(0)} KiB)`)
          .figure('hits', hits.length);
        if (hits.length > 0) hygiene.table('Hits (values shown by their first four characters only)', ['where'], hits.slice(0, 50).map((h) => [h]));

        expect(outcomes.filter(([, outcome]) => outcome !== 'completed')).toEqual([]);
        expect(CORE.filter((m) => !completedMaterials.has(m))).toEqual([]);
        expect(dirMode).toBe(0o700);
        expect(new Set(Object.values(fileModes))).toEqual(new Set(['444']));
        expect(historyMode).toBe(0o700);
        expect(new Set(Object.values(historyDirs))).toEqual(new Set(['700']));
        expect(unsafe?.name === 'rejected' ? unsafe.data.reason_code : unsafe?.name).toMatch(/^(unsafe_store|failed)$/);
        expect(afterUnsafe).toEqual(beforeUnsafe);
        expect(values.size).toBeGreaterThanOrEqual(2 * CORE.length);
        expect(tables.length).toBeGreaterThan(0);
        expect(haystacks.filter((h) => h.kind === 'metrics').length).toBeGreaterThanOrEqual(e.services.length);
        expect(hits).toEqual([]);
      }),
    minutes(8),
  );
});
