import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  auditBacklog,
  auditDeadLettersSince,
  auditKeyProbe,
  countRowsNotOnKek,
  countSealedRows,
  fetchPolicyStatus,
  groupHasProcessed,
  postgresLogin,
  probeId,
  publishPolicyInvalidation,
  publishRevocationProbe,
  readMetrics,
  redisAuth,
  runKekReseal,
  SEALED_COLUMNS,
} from '@caracal-rotation/caracal-client';
import { caracalStreams } from '@caracal-rotation/contracts';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { contract, startContractFleet, type ContractFleet } from './support/contract.js';

/**
 * The requests of CARACAL_PROBES against the sandbox: entries on Caracal's
 * streams, reads of its groups, logins to its Postgres and Redis, SQL as
 * its admin role and its KEK re-seal job; and what each leaves behind.
 */
let fleet: ContractFleet;
const streams = caracalStreams('');
beforeAll(async () => {
  fleet = await startContractFleet(2);
});
afterAll(async () => fleet?.close());

const wrong = () => randomBytes(32).toString('hex');
const soon = () => Date.now() + 15_000;
const counter = async (service: 'gateway' | 'audit', name: string) => (await readMetrics(fleet.sandbox.services[service], await fleet.secret('metricsBearer'))).get(name)!;

contract('auditKeyProbe', () => {
  // services/audit/internal/consumer.go processOnce (HMAC, then required fields), toDLQ (reason, src_<field>)
  it('is accepted with the Audit key (json_parse_error) and refused with another (hmac_verify_failed); its DLQ entry goes, no audit row is written', async () => {
    const dlqBefore = await fleet.redis.xlen(streams.auditDlq);
    const hmacBefore = await counter('audit', 'caracal_audit_hmac_failures_total');
    expect(await auditKeyProbe(fleet.redis, streams, await fleet.secret('auditHmacKey'), { deadline: soon() })).toEqual({
      verdict: 'accepted',
      reason: 'json_parse_error:required fields missing (id, zone_id, occurred_at)',
    });
    expect(await auditKeyProbe(fleet.redis, streams, wrong(), { deadline: soon() })).toEqual({ verdict: 'refused', reason: 'hmac_verify_failed' });
    expect(await fleet.redis.xlen(streams.auditDlq)).toBe(dlqBefore);
    // The trace it leaves: Caracal's counters, which cannot be reset.
    expect(await counter('audit', 'caracal_audit_hmac_failures_total')).toBe(hmacBefore + 1);
    const admin = new pg.Client({ connectionString: await fleet.secret('databaseUrl') });
    await admin.connect();
    const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM audit_events WHERE id LIKE 'rotprobe-%'`);
    await admin.end();
    expect(Number(rows[0]!.n)).toBe(0);
  });
});

contract('auditBacklog', () => {
  // services/audit/internal/consumer.go (group audit-ingestor, DLQ caracal.audit.events.dlq)
  it('reads the group\'s pending count and the DLQ entries that no probe made', async () => {
    const start = await auditBacklog(fleet.redis, streams);
    const data = JSON.stringify({ id: 'real-event', zone_id: 'z', occurred_at: new Date().toISOString() });
    await fleet.redis.xadd(streams.auditEvents, '*', 'id', 'real-event', 'data', data, 'sig', createHash('sha256').update('not an hmac').digest('hex'));
    await auditKeyProbe(fleet.redis, streams, wrong(), { deadline: soon() });
    await expect.poll(async () => auditDeadLettersSince(fleet.redis, streams, start.dlqLastId), { timeout: 10_000 }).toEqual(['hmac_verify_failed']);
    await expect.poll(async () => (await auditBacklog(fleet.redis, streams)).pending, { timeout: 10_000 }).toBe(0);
  });
});

contract('revocationProbe', () => {
  // services/gateway/internal/revocations.go processRevocationMessage; services/sts/internal/consumer.go handleRevocation
  it('is counted as applied by the gateway with the streams key and as an invalid signature with another; the STS handles it without revoking anything', async () => {
    const applied = await counter('gateway', 'caracal_gateway_revocation_messages_total');
    const invalid = await counter('gateway', 'caracal_gateway_revocation_invalid_signatures_total');
    const { entryId } = await publishRevocationProbe(fleet.redis, streams, await fleet.secret('streamsHmacKey'));
    await expect.poll(() => counter('gateway', 'caracal_gateway_revocation_messages_total'), { timeout: 10_000 }).toBe(applied + 1);
    await expect.poll(() => groupHasProcessed(fleet.redis, streams.sessionsRevoke, 'sts-revocation', entryId), { timeout: 10_000 }).toBe(true);
    await publishRevocationProbe(fleet.redis, streams, wrong());
    await expect.poll(() => counter('gateway', 'caracal_gateway_revocation_invalid_signatures_total'), { timeout: 10_000 }).toBe(invalid + 1);
    expect(await counter('gateway', 'caracal_gateway_revocation_messages_total')).toBe(applied + 1);
    // Nothing is left pending for the stream's drain.
    expect(((await fleet.redis.xpending(streams.sessionsRevoke, 'sts-revocation')) as unknown[])[0]).toBe(0);
  });
});

contract('policyInvalidationProbe', () => {
  // services/sts/internal/consumer.go handlePolicyInvalidation; services/sts/internal/opa.go loadZone, storeFallback
  it('loads the probe zone in the STS with the streams key, and is dropped with another', async () => {
    const sts = fleet.sandbox.services.sts;
    const gatewayKey = await fleet.secret('gatewayStsHmacKey');
    const good = probeId();
    await publishPolicyInvalidation(fleet.redis, streams, await fleet.secret('streamsHmacKey'), good);
    await expect.poll(async () => (await fetchPolicyStatus(sts, gatewayKey, good)).loaded, { timeout: 10_000 }).toBe(true);
    const bad = probeId();
    const entryId = await publishPolicyInvalidation(fleet.redis, streams, wrong(), bad);
    await expect.poll(() => groupHasProcessed(fleet.redis, streams.policyInvalidate, 'opa-engine', entryId), { timeout: 10_000 }).toBe(true);
    expect(await fetchPolicyStatus(sts, gatewayKey, bad)).toEqual({ status: 200, loaded: false });
  });
});

contract('streamGroupProgress', () => {
  // services/sts/internal/consumer.go processMessage: every handled message is acknowledged
  it('tells a handled entry from one a group has not reached, and a missing group from both', async () => {
    const entryId = await publishPolicyInvalidation(fleet.redis, streams, wrong(), probeId());
    await expect.poll(() => groupHasProcessed(fleet.redis, streams.policyInvalidate, 'opa-engine', entryId), { timeout: 10_000 }).toBe(true);
    expect(await groupHasProcessed(fleet.redis, streams.policyInvalidate, 'opa-engine', `${Date.now() + 60_000}-0`)).toBe(false);
    expect(await groupHasProcessed(fleet.redis, streams.policyInvalidate, 'no-such-group', entryId)).toBeUndefined();
  });
});

contract('postgresLogin', () => {
  // infra/postgres/scripts/migrate.sh (ALTER ROLE caracal<svc> WITH LOGIN PASSWORD); infra/postgres/Dockerfile (scram-sha-256)
  it('logs in with the role\'s password and is refused with 28P01 with another', async () => {
    const url = await fleet.secret('apiDatabaseUrl');
    expect(await postgresLogin(url, await fleet.secret('apiDbPassword'))).toEqual({ ok: true, detail: 'logged in' });
    expect(await postgresLogin(url, wrong())).toEqual({ ok: false, code: '28P01' });
  });
});

contract('kekRowsNotOnKek', () => {
  // apps/api/scripts/rotate-secret-store-kek.mjs (tables, columns, filters); packages/serverCore/ts/src/secretStore/envelope.ts (kekId in bytes 5–12)
  it('counts, as the admin role, the sealed rows under another KEK than the one named', async () => {
    const admin = await fleet.secret('databaseUrl');
    const kekId = createHash('sha256').update(Buffer.from(await fleet.secret('secretStoreKek'), 'hex')).digest().subarray(0, 8);
    expect((await countRowsNotOnKek(admin, kekId)).every((c) => c.rows === 0)).toBe(true);
    const sealed = await countSealedRows(admin);
    expect(sealed.map((c) => c.label)).toEqual(SEALED_COLUMNS.map((c) => c.label));
    expect(await countRowsNotOnKek(admin, randomBytes(8))).toEqual(sealed.map((c) => ({ ...c })));
  });

  it('sees nothing of the row-level-security tables as the API role', async () => {
    const sealed = await countSealedRows(await fleet.secret('apiDatabaseUrl'));
    expect(sealed.find((c) => c.label === 'secret_store')!.rows).toBe(0);
    expect(sealed.find((c) => c.label === 'secrets (zone signing keys)')!.rows).toBe(0);
  });
});

contract('redisAuth', () => {
  // infra/redis/entrypoint.sh (requirepass, no ACL users)
  it('answers OK to the password and WRONGPASS to another', async () => {
    const url = await fleet.secret('redisUrl');
    expect(await redisAuth(url, await fleet.secret('redisPassword'))).toEqual({ ok: true });
    expect(await redisAuth(url, wrong())).toEqual({ ok: false, code: 'WRONGPASS' });
  });
});

contract('kekReseal', () => {
  // apps/api/scripts/rotate-secret-store-kek.mjs
  it('prints one examined line per sealed column and the summary, as the admin role', async () => {
    const holders = JSON.parse(await readFile(fleet.sandbox.holders, 'utf8')) as { kek_reseal: { command: string[] } };
    const dir = fleet.sandbox.secrets_dir;
    const env = { PATH: process.env.PATH, DATABASE_URL_FILE: `${dir}/databaseUrl`, SECRET_STORE_KEK_FILE: `${dir}/secretStoreKek`, SECRET_STORE_KEK_PREVIOUS_FILE: `${dir}/secretStoreKekPrevious` };
    const outcome = await runKekReseal({ command: holders.kek_reseal.command, env, timeoutMs: 60_000, attempts: 1 });
    expect(outcome).toMatchObject({ runs: ['exit 0'], exitCode: 0, report: { failed: 0, resealed: 0, rewrittenByLive: 0 } });
    expect(outcome.report!.tables.map((t) => t.label)).toEqual(SEALED_COLUMNS.map((c) => c.label));
    expect(outcome.report!.alreadyCurrent).toBe(outcome.report!.examined);

    const asApi = await runKekReseal({ command: holders.kek_reseal.command, env: { ...env, DATABASE_URL_FILE: `${dir}/apiDatabaseUrl` }, timeoutMs: 60_000, attempts: 1 });
    expect(asApi.exitCode).toBe(0);
    expect(asApi.report!.tables.find((t) => t.label === 'secret_store')!.examined).toBe(0);
  });
});
