import { chmod, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createRedis } from '@caracal-rotation/bus';
import { childRotationId, type Material } from '@caracal-rotation/contracts';
import { keyIdOf } from '@caracal-rotation/secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announcements, byRotation, deadLetters, dumpSchema, failureDetails, fetchText, keysMatching, keyText, queueInversions, readHistory, rotationEntries, secretFiles, statusOf } from '../support/inspect.js';
import { startReliabilityStack, type ReliabilityStack } from '../support/reliability-stack.js';
import { requestWithRetry, TerminalWatcher, type TerminalEvent } from '../support/rotation-driver.js';
import { watchSecrets, type WatchResult } from '../support/secret-watcher.js';
import { minutes, PROFILE } from './profile.js';
import { RUN_DIR, seconds, Section } from './report.js';

/**
 * Scenarios 6 and 5 on one stack: the two keys the rotations themselves
 * travel on (Caracal's STREAMS_HMAC_KEY, which signs the `completed`
 * announcements and the verifier's probes, and the orchestrator's own
 * ROTATION_BUS_KEY, which signs every event of the bus) rotated while other
 * rotations are in flight; then the rest of the materials, and a search for
 * every secret value this run produced in everything the system wrote.
 */
const selfRotation = new Section('self-rotation');
const hygiene = new Section('secret-hygiene');
let rs: ReliabilityStack | undefined;
let terminals: TerminalWatcher | undefined;
/** Materials that completed in this file, so the hygiene part rotates only what is missing. */
const completedMaterials = new Set<Material>();

const CORE: Material[] = ['AUDIT_HMAC_KEY', 'STREAMS_HMAC_KEY', 'GATEWAY_STS_HMAC_KEY', 'CARACAL_ADMIN_TOKEN', 'CARACAL_COORDINATOR_TOKEN', 'ROTATION_BUS_KEY'];
/** The replica's zones: the first three rotate as a batch behind the streams key, the last in the hygiene run (a zone rotated twice within 24 h is refused). */
const ZONES = 4;

beforeAll(async () => {
  rs = await startReliabilityStack({ name: 'secrets', zones: ZONES });
  terminals = new TerminalWatcher(rs.redis, rs.streams);
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

const request = async (spec: Parameters<typeof requestWithRetry>[2]) => (await requestWithRetry(rs!.operator, rs!.streams, spec)).rotationId;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One self-rotation: the key, what was queued behind it, the dry runs requested during it, and how each ended. */
interface SelfRun {
  key: Material;
  id: string;
  behind: { id: string; label: string }[];
  dryRuns: string[];
  ends: Map<string, TerminalEvent | undefined>;
  startedAt: number;
  endedAt: number;
}

/**
 * Requests `key`, then, once it holds the class lock, `behind` (queued behind it), then dry runs
 * one every 700 ms, so requests are signed, verified and planned across
 * every switch of the key; waits until everything has ended.
 */
async function selfRotate(key: Material, behind: { spec: Parameters<typeof requestWithRetry>[2]; label: string; members?: string[] }[], dryRunCount: number): Promise<SelfRun> {
  const startedAt = Date.now();
  const id = await request({ material: key, reason: `reliability: self-rotation of ${key}` });
  // Planned means it holds the class lock: what follows queues behind it (two planner replicas would otherwise race for the lock).
  if (!(await terminals!.until(() => terminals!.timeline.get(id)?.find((t) => t.event === 'planned'), minutes(1)))) throw new Error(`${key} was not planned within a minute`);
  const queued: { id: string; label: string }[] = [];
  for (const b of behind) {
    const rid = await request(b.spec);
    if (b.members) for (const m of b.members) queued.push({ id: childRotationId(rid, m), label: `${b.label} ${m}` });
    else queued.push({ id: rid, label: b.label });
  }
  const dryMaterials: Material[] = ['AUDIT_HMAC_KEY', 'GATEWAY_STS_HMAC_KEY', 'CARACAL_ADMIN_TOKEN', 'CARACAL_COORDINATOR_TOKEN', 'STREAMS_HMAC_KEY', 'ZONE_KEK', 'ROTATION_BUS_KEY'];
  const dryRuns: string[] = [];
  for (let i = 0; i < dryRunCount; i++) {
    dryRuns.push(await request({ material: dryMaterials[i % dryMaterials.length]!, dry_run: true, reason: `reliability: dry run during the ${key} rotation` }));
    await pause(700);
  }
  const ends = new Map<string, TerminalEvent | undefined>();
  for (const x of [id, ...queued.map((q) => q.id), ...dryRuns]) ends.set(x, await terminals!.wait(x, minutes(4)));
  return { key, id, behind: queued, dryRuns, ends, startedAt, endedAt: Date.now() };
}

/** Records one self-rotation in the report: outcomes, requests during the switch, signing kids, and what the lifecycle says of each. */
function reportSelfRun(run: SelfRun, entries: Awaited<ReturnType<typeof rotationEntries>>): void {
  const mine = byRotation(entries);
  const own = (mine.get(run.id) ?? []).sort((a, b) => a.fields.occurred_at!.localeCompare(b.fields.occurred_at!));
  const switchStart = Date.parse(own.find((x) => x.name === 'written')?.fields.occurred_at ?? '0');
  const switchEnd = Date.parse([...own].reverse().find((x) => x.name === 'verified')?.fields.occurred_at ?? '0');
  const requestsDuringSwitch = entries.filter((x) => x.name === 'requested' && Date.parse(x.fields.occurred_at!) >= switchStart && Date.parse(x.fields.occurred_at!) <= switchEnd).length;
  const end = run.ends.get(run.id);
  selfRotation
    .figure(`${run.key}: outcome`, `${end?.name ?? 'no end (wedged)'} after ${seconds((end?.at ?? run.endedAt) - run.startedAt)}`)
    .figure(`${run.key}: other rotations in flight`, `${run.behind.length + run.dryRuns.length} (${run.behind.length} queued behind it, ${run.dryRuns.length} dry runs)`)
    .figure(`${run.key}: requests published between its first write and its last verification`, requestsDuringSwitch)
    .figure(`${run.key}: everything ended after`, seconds(run.endedAt - run.startedAt))
    .figure(`${run.key}: rotations without an end (wedged)`, [...run.ends.values()].filter((t) => !t).length)
    .figure(`${run.key}: dry runs ended planned`, `${run.dryRuns.filter((d) => run.ends.get(d)?.name === 'planned').length} of ${run.dryRuns.length}`);
  selfRotation.table(
    `Rotations behind ${run.key}`,
    ['rotation', 'outcome', 'ended after', 'detail'],
    [{ id: run.id, label: run.key }, ...run.behind].map(({ id, label }) => {
      const t = run.ends.get(id);
      return [label, t ? t.name : 'no end (wedged)', t ? seconds(t.at - run.startedAt) : '—', t?.name === 'failed' ? String(t.data.error ?? '').slice(0, 160) : t?.name === 'rejected' ? String(t.data.reason_code ?? '') : ''];
    }),
  );
  for (const { id, label } of run.behind) {
    const t = run.ends.get(id);
    if (t?.name !== 'completed') selfRotation.finding(`${label} behind ${run.key} ended ${t?.name ?? 'without an end'}${t?.name === 'failed' ? `: ${String(t.data.error ?? '').slice(0, 200)}` : ''}`);
  }
}

describe('6. STREAMS_HMAC_KEY and ROTATION_BUS_KEY rotated while other rotations are in flight', () => {
  it(
    'wedges nothing and dead-letters nothing',
    () =>
      selfRotation.run(async () => {
        const e = rs!;
        const streams = e.streams;
        const batchZones = e.sandbox.zones.slice(0, 3);
        const streamsBehind = [
          { spec: { material: 'ZONE_SIGNING_KEY', zone_ids: batchZones, reason: 'reliability: zone batch behind the streams key' }, label: 'ZONE_SIGNING_KEY', members: batchZones },
          ...(['CARACAL_ADMIN_TOKEN', 'CARACAL_COORDINATOR_TOKEN', 'GATEWAY_STS_HMAC_KEY'] as Material[]).map((material) => ({ spec: { material, reason: 'reliability: queued behind the streams key' }, label: material })),
        ];
        const busBehind = (['CARACAL_ADMIN_TOKEN', 'CARACAL_COORDINATOR_TOKEN'] as Material[]).map((material) => ({ spec: { material, reason: 'reliability: queued behind the bus key' }, label: material }));
        const streamsDry = Math.max(0, PROFILE.inFlight - 3 - batchZones.length);
        const busDry = Math.max(0, PROFILE.inFlight - busBehind.length);
        selfRotation
          .tried(
            "Requested a STREAMS_HMAC_KEY rotation on a stack with 2 replicas of each service: Caracal's key, which signs the verifier's probes on Caracal's streams and the `completed` announcements the verifier publishes there.",
          )
          .tried(
            `Right behind it, queued behind the class lock: a ZONE_SIGNING_KEY batch over ${batchZones.length} zones, CARACAL_ADMIN_TOKEN, CARACAL_COORDINATOR_TOKEN and GATEWAY_STS_HMAC_KEY; then ${streamsDry} dry runs, one every 700 ms.`,
          )
          .tried(
            `Then a ROTATION_BUS_KEY rotation (the orchestrator's own key, which signs every event of the bus, the rotation's own included; the services reload it without a restart) with CARACAL_ADMIN_TOKEN and CARACAL_COORDINATOR_TOKEN queued behind it and ${busDry} dry runs, one every 700 ms, so requests were signed, verified and planned across every switch of each key.`,
          )
          .tried("Requests are signed with the operator's key, never the bus key; a worker thread read every file of Caracal's secrets directory every 5 ms throughout.");

        const watch = watchSecrets(e.secretsDir, 5);
        const runs: SelfRun[] = [];
        let watched: WatchResult;
        try {
          runs.push(await selfRotate('STREAMS_HMAC_KEY', streamsBehind, streamsDry));
          runs.push(await selfRotate('ROTATION_BUS_KEY', busBehind, busDry));
        } finally {
          watched = await watch.stop();
        }
        for (const run of runs) {
          for (const [id, t] of run.ends) {
            const material = id === run.id ? run.key : run.behind.find((b) => b.id === id)?.label;
            if (t?.name === 'completed' && (CORE as string[]).includes(material ?? '')) completedMaterials.add(material as Material);
          }
        }

        const entries = await rotationEntries(e.redis, streams);
        for (const run of runs) reportSelfRun(run, entries);
        const dead = await deadLetters(e.redis, streams);
        const kids = new Map<string, number>();
        for (const x of entries) kids.set(x.fields.kid ?? '', (kids.get(x.fields.kid ?? '') ?? 0) + 1);
        const announced = await announcements(e.caracalRedis, streams);
        const announcedKids = new Map<string, number>();
        for (const x of announced) announcedKids.set(x.fields.kid ?? '', (announcedKids.get(x.fields.kid ?? '') ?? 0) + 1);
        const caracalDead: Record<string, number> = {};
        for (const k of [...(await keysMatching(e.caracalRedis, '*.dead')), ...(await keysMatching(e.caracalRedis, '*dlq*'))]) caracalDead[k] = await e.caracalRedis.xlen(k);
        const streamsRun = runs[0]!;
        // Requested in this order: the key, the zone batch, then the queued classes. The class queue is first-in, first-out.
        const label = (id: string) => [{ id: streamsRun.id, label: streamsRun.key }, ...streamsRun.behind].find((x) => x.id === id)?.label ?? id;
        const inversions = queueInversions(entries, [streamsRun.id, ...streamsRun.behind.map((b) => b.id)]);
        selfRotation
          .figure('events on the bus by signing kid (operator key, then each bus key)', [...kids.entries()].map(([k, n]) => `${k || '(none)'}: ${n}`).join(', '))
          .figure("`completed` announcements on Caracal's Redis by signing kid (each STREAMS_HMAC_KEY)", [...announcedKids.entries()].map(([k, n]) => `${k}: ${n}`).join(', ') || 'none')
          .figure('dead-lettered entries (every <prefix>.*.dead stream)', dead.length)
          .figure(
            "entries left on Caracal's dead-letter streams (the verifier's probes delete their own)",
            Object.entries(caracalDead).map(([k, n]) => `${k} ${n}`).join(', ') || 'none',
          )
          .figure('secret-file samples during the run / bad reads', `${watched.reads} / ${watched.violationCount}`)
          .figure('queue order inversions behind STREAMS_HMAC_KEY (a later request planned before an earlier one)', inversions.length ? inversions.map(([a, b]) => `${label(b)} before ${label(a)}`).join('; ') : 'none');
        if (inversions.length > 0) {
          selfRotation.finding(
            `the class queue was not first-in, first-out: ${inversions.map(([a, b]) => `${label(b)} was planned before ${label(a)}, requested earlier`).join('; ')}. They were requested milliseconds apart while the lock was held, and joined the queue in the order the two planner replicas reached the lock script; as docs/architecture.md (section 5) says requests published milliseconds apart to two replicas may.`,
          );
        }
        const problems = failureDetails(entries, runs.flatMap((r) => [...r.ends.keys()]));
        if (problems.length > 0) selfRotation.table('What went wrong', ['rotation', 'material', 'event', 'detail'], problems);

        for (const run of runs) {
          expect([...run.ends.entries()].filter(([, t]) => !t).map(([id]) => id), `${run.key}: wedged`).toEqual([]);
          expect(run.ends.get(run.id)?.name, run.key).toBe('completed');
          for (const b of run.behind) expect(run.ends.get(b.id)?.name, `${b.label} behind ${run.key}`).toBe('completed');
          expect(run.dryRuns.map((d) => run.ends.get(d)?.name), `${run.key}: dry runs`).toEqual(run.dryRuns.map(() => 'planned'));
        }
        // Two bus keys signed events (before and after the switch), and the operator's key signed the requests.
        expect(kids.has(e.operator.kid)).toBe(true);
        expect(kids.size).toBeGreaterThanOrEqual(3);
        // Everything here completed after the streams key switched: Caracal's services, restarted with the new key, accept only that.
        const streamsKid = keyIdOf((await readFile(join(e.secretsDir, 'streamsHmacKey'), 'utf8')).trim());
        expect([...announcedKids.keys()]).toEqual([streamsKid]);
        expect(dead).toEqual([]);
        expect(watched.violations).toEqual([]);
      }),
    minutes(8),
  );
});

describe('5. secret hygiene', () => {
  it(
    'rotates every material, then finds no secret value in logs, events, Postgres, metrics or error messages, and keeps the stores private',
    () =>
      hygiene.run(async () => {
        const e = rs!;
        const hygieneZone = e.sandbox.zones[ZONES - 1]!;
        const optional: { material: Material; role?: string; zone_id?: string }[] = [
          { material: 'ZONE_KEK' },
          { material: 'ZONE_SIGNING_KEY', zone_id: hygieneZone },
          { material: 'POSTGRES_PASSWORD', role: 'api' },
          { material: 'REDIS_PASSWORD' },
        ];
        const missing = CORE.filter((m) => !completedMaterials.has(m));
        hygiene
          .tried(
            `Rotated every material the catalog lists against the sandbox replica (zones with signing keys in its STS, sealed secrets in its Postgres, per-service roles, a Redis with requirepass): ${CORE.filter((m) => completedMaterials.has(m)).join(', ') || 'none'} (and a ZONE_SIGNING_KEY batch) in the self-rotation run, then ${[...missing, ...optional.map((o) => o.material)].join(', ')} here.`,
          )
          .tried(
            "Collected every secret value of the run: every version in the secret-writer's histories (Caracal's secrets and the orchestrator's own directory, old and new) and every current file of both; searched each in lowercase, uppercase and as base64 of its bytes.",
          )
          .tried(
            "Searched every service log, every key of this stack on the bus (streams, dead letters, plans, locks, de-duplication marks), every key of Caracal's Redis (its streams with the verifier's probes and the `completed` announcements), every row of every projection table (row::text, failure messages included) and /metrics of every service and of the replica's services.",
          )
          .tried('Checked modes (files 0444, directory 0700, .history and its folders 0700, versions 0400; the orchestrator\'s directory 0700); then made the secrets directory 0755 and requested a rotation.');

        const outcomes: [string, string, string][] = [];
        for (const spec of [...missing.map((material) => ({ material }) as (typeof optional)[number]), ...optional]) {
          const id = await request({ ...spec, reason: 'reliability: secret hygiene' });
          const end = await terminals!.wait(id, minutes(3));
          await terminals!.until(() => (end?.name === 'failed' ? terminals!.failed.get(id)?.[0] : true), minutes(1));
          outcomes.push([spec.material + (spec.role ? ` (role ${spec.role})` : '') + (spec.zone_id ? ` (zone ${spec.zone_id})` : ''), end?.name ?? 'no end', String(end?.data.reason_code ?? end?.data.error ?? '').slice(0, 200)]);
          if (end?.name === 'completed') completedMaterials.add(spec.material);
        }
        hygiene.table('Rotations of the hygiene run', ['material', 'outcome', 'detail'], outcomes);
        for (const [material, outcome, detail] of outcomes) {
          if (outcome !== 'completed') hygiene.finding(`${material} ended ${outcome}${detail ? ` (${detail})` : ''} in the hygiene run; its generated values (if any) are searched like the others.`);
        }
        hygiene.note('Zone signing keys are generated and kept by the STS (sealed in its Postgres), never by this system, so they are not among the searched values; the STS admin token that drives them is.');

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
        const rotationDirMode = (await stat(e.rotationDir)).mode & 0o777;
        const rotationFiles = await secretFiles(e.rotationDir);
        const rotationFileModes: string[] = [];
        for (const f of Object.keys(rotationFiles).sort()) rotationFileModes.push(`${f} ${((await stat(join(e.rotationDir, f))).mode & 0o777).toString(8)}`);
        hygiene
          .figure('secrets directory mode', dirMode.toString(8))
          .figure('secret file modes', [...new Set(Object.values(fileModes))].join(', ') + ` (${Object.keys(fileModes).length} files)`)
          .figure('.history mode / its folders', `${historyMode.toString(8)} / ${[...new Set(Object.values(historyDirs))].join(', ')}`)
          .figure('version file modes', [...versionModes].join(', '))
          .figure("the orchestrator's directory mode / its files", `${rotationDirMode.toString(8)} / ${rotationFileModes.join(', ')}`);

        // --- an unsafe directory is refused ---------------------------------------
        const beforeUnsafe = { files: await secretFiles(e.secretsDir), history: (await readHistory(e.secretsDir)).map((h) => `${h.file}/${h.seq}`).sort() };
        await chmod(e.secretsDir, 0o755);
        let unsafe: TerminalEvent | undefined;
        let writerReady: number[] = [];
        try {
          const id = await request({ material: 'CARACAL_ADMIN_TOKEN', reason: 'reliability: unsafe store' });
          unsafe = await terminals!.wait(id, minutes(2));
          if (unsafe?.name === 'failed') unsafe = (await terminals!.until(() => terminals!.failed.get(id)?.[0], minutes(1))) ?? unsafe;
          writerReady = await Promise.all(e.instances('secret-writer').map((s) => statusOf(`${s.url}/ready`)));
        } finally {
          await chmod(e.secretsDir, 0o700);
        }
        const afterUnsafe = { files: await secretFiles(e.secretsDir), history: (await readHistory(e.secretsDir)).map((h) => `${h.file}/${h.seq}`).sort() };
        hygiene
          .figure('rotation requested with the directory at 0755', `${unsafe?.name ?? 'no end'} ${String(unsafe?.data.reason_code ?? unsafe?.data.error ?? '').slice(0, 160)}`)
          .figure('secret-writer /ready with the directory at 0755', writerReady.join(', '))
          .figure(
            'files or history versions written meanwhile',
            Object.keys(afterUnsafe.files).filter((f) => afterUnsafe.files[f] !== beforeUnsafe.files[f]).length + afterUnsafe.history.length - beforeUnsafe.history.length,
          );

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
        for (const dir of [e.secretsDir, e.rotationDir]) {
          for (const v of await readHistory(dir)) add(v.value);
          for (const v of Object.values(await secretFiles(dir))) add(v);
        }
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
        const busKeys = await keysMatching(e.redis, `*${prefixName}*`);
        for (const k of busKeys) {
          const { type, text } = await keyText(e.redis, k);
          haystacks.push({ where: `bus ${type} ${k}`, kind: 'redis', text });
        }
        // Caracal's Redis with its password as the file says now (REDIS_PASSWORD was rotated).
        const caracalRedis = createRedis((await readFile(e.sandbox.redis_url_file, 'utf8')).trim(), { connectionName: 'reliability-hygiene' });
        caracalRedis.on('error', () => undefined);
        let caracalKeys: string[] = [];
        try {
          caracalKeys = await keysMatching(caracalRedis, '*');
          for (const k of caracalKeys) {
            const { type, text } = await keyText(caracalRedis, k);
            haystacks.push({ where: `caracal ${type} ${k}`, kind: 'redis', text });
          }
        } finally {
          caracalRedis.disconnect();
        }
        const tables = await dumpSchema(e.pool, e.schema!);
        for (const t of tables) haystacks.push({ where: `postgres ${t.table}`, kind: 'postgres', text: t.text });
        for (const s of e.services) haystacks.push({ where: `metrics ${s.instance}`, kind: 'metrics', text: (await fetchText(`${s.url}/metrics`)) ?? '' });
        const bearer = (await readFile(join(e.secretsDir, 'metricsBearer'), 'utf8')).trim();
        for (const [name, url] of Object.entries(e.sandbox.services)) {
          const text = await fetchText(`${url}/metrics`, 5000, { authorization: `Bearer ${bearer}` });
          if (text !== undefined) haystacks.push({ where: `metrics replica ${name}`, kind: 'metrics', text });
        }
        const size = (kind: string) => haystacks.filter((h) => h.kind === kind).reduce((n, h) => n + Buffer.byteLength(h.text), 0);
        const hits: string[] = [];
        for (const h of haystacks) for (const n of needles) if (h.text.includes(n.text)) hits.push(`${h.where}: a ${n.kind} secret value (${n.ref})`);
        const streamsSearched = haystacks.filter((h) => / stream /.test(h.where));
        const deadSearched = streamsSearched.filter((h) => h.where.endsWith('.dead') || h.where.includes('dlq'));
        const failureRows = await e.pool.query<{ n: string }>('SELECT count(*) AS n FROM rotations WHERE failure IS NOT NULL');

        hygiene
          .figure('secret values collected (old and new, every material)', values.size)
          .figure('search strings (lowercase, uppercase, base64)', needles.length)
          .figure('log files searched', `${haystacks.filter((h) => h.kind === 'logs').length} (${(size('logs') / 1024).toFixed(0)} KiB)`)
          .figure('Redis keys searched', `${busKeys.length} on the bus, ${caracalKeys.length} on Caracal's Redis; ${streamsSearched.length} of them streams (${deadSearched.length} dead-letter), ${(size('redis') / 1024).toFixed(0)} KiB`)
          .figure('Postgres tables dumped', `${tables.length} (${tables.reduce((n, t) => n + t.rows, 0)} rows, ${Number(failureRows.rows[0]!.n)} with a failure message, ${(size('postgres') / 1024).toFixed(0)} KiB)`)
          .figure('/metrics outputs searched', `${haystacks.filter((h) => h.kind === 'metrics').length} (${(size('metrics') / 1024).toFixed(0)} KiB)`)
          .figure('hits', hits.length);
        if (hits.length > 0) hygiene.table('Hits (values shown by their first four characters only)', ['where'], hits.slice(0, 50).map((h) => [h]));

        expect(outcomes.filter(([, outcome]) => outcome !== 'completed')).toEqual([]);
        expect(CORE.filter((m) => !completedMaterials.has(m))).toEqual([]);
        expect(dirMode).toBe(0o700);
        expect(new Set(Object.values(fileModes))).toEqual(new Set(['444']));
        expect(historyMode).toBe(0o700);
        expect(new Set(Object.values(historyDirs))).toEqual(new Set(['700']));
        expect(rotationDirMode).toBe(0o700);
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
