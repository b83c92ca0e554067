import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Keyring, Publisher, StaticKeyringSource } from '@caracal-rotation/bus';
import { followRotation } from '@caracal-rotation/caracal-rotate';
import { newRotationId } from '@caracal-rotation/contracts';
import { getRotation } from '@caracal-rotation/projection';
import { keyIdOf } from '@caracal-rotation/secrets';
import { readStream } from '@caracal-rotation/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fleetAccepts } from '../support/fleet-probes.js';
import { startE2E, type E2E } from '../support/e2e-stack.js';

let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E('pipeline');
}, 120_000);
afterAll(async () => e2e?.stop(), 60_000);

const follow = (id: string) => followRotation(e2e.redis, e2e.operator.streams, id, () => undefined, { timeoutMs: 90_000 });
const request = (data: Record<string, unknown>) => e2e.operator.request({ reason: 'e2e', actor: 'e2e@test', ...data } as never);

async function snapshotFiles(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(e2e.secretsDir)) {
    if (name.startsWith('.')) continue;
    out[name] = await readFile(join(e2e.secretsDir, name), 'utf8');
  }
  return out;
}

describe('bad requests change nothing and are visible', () => {
  it('dead-letters a request with a bad signature and never plans it', async () => {
    const before = await snapshotFiles();
    // Signed with the real bus key, then one field changed: the signature no longer matches.
    const key = (await readFile(join(e2e.secretsDir, 'streamsHmacKey'), 'utf8')).trim();
    const signer = new Publisher(e2e.redis, new StaticKeyringSource(Keyring.fromHex(key)), 'operator/x');
    const id = newRotationId();
    const stream = e2e.operator.streams.requested;
    const fields = signer.envelope({ stream, name: 'requested', eventId: newRotationId(), rotationId: id, data: { material: 'AUDIT_HMAC_KEY', reason: 'x', actor: 'alice' } });
    fields.data = JSON.stringify({ material: 'AUDIT_HMAC_KEY', reason: 'x', actor: 'mallory' });
    await e2e.redis.xadd(stream, '*', ...Object.entries(fields).flat());
    const dead = await vi.waitFor(
      async () => {
        const entries = (await readStream(e2e.redis, `${e2e.operator.streams.requested}.dead`)).filter((d) => JSON.parse(d.fields.values!).rotation_id === id);
        expect(entries.length).toBeGreaterThan(0);
        return entries;
      },
      { timeout: 20_000, interval: 100 },
    );
    expect(new Set(dead.map((d) => d.fields.error))).toEqual(new Set(['invalid_signature']));
    expect((await readStream(e2e.redis, e2e.operator.streams.planned)).some((p) => p.fields.rotation_id === id)).toBe(false);
    expect(await snapshotFiles()).toEqual(before);
  }, 30_000);

  it.each([
    ['unknown_material', { material: 'MOON_KEY' }],
    ['invalid_request', { material: 'AUDIT_HMAC_KEY', reason: '' }],
  ])('answers %s on rejected and writes nothing', async (code, data) => {
    const before = await snapshotFiles();
    const id = await request(data);
    const result = await follow(id);
    expect(result.terminal.get(id)).toBe('rejected');
    const [rejected] = (await readStream(e2e.redis, e2e.operator.streams.rejected)).filter((r) => r.fields.rotation_id === id);
    expect(rejected!.data.reason_code).toBe(code);
    expect(await snapshotFiles()).toEqual(before);
    await vi.waitFor(async () => expect((await getRotation(e2e.pool, id))?.state).toBe('rejected'), { timeout: 10_000 });
  }, 30_000);
});

describe('one class of material at a time', () => {
  it('rejects a second request for the same material and queues another class until the first completes', async () => {
    const first = await request({ material: 'CARACAL_COORDINATOR_TOKEN' });
    const second = await request({ material: 'CARACAL_COORDINATOR_TOKEN' });
    const other = await request({ material: 'CARACAL_ADMIN_TOKEN' });

    expect((await follow(second)).terminal.get(second)).toBe('rejected');
    const [dup] = (await readStream(e2e.redis, e2e.operator.streams.rejected)).filter((r) => r.fields.rotation_id === second);
    expect(dup!.data.reason_code).toBe('duplicate_in_flight');

    await vi.waitFor(async () => expect((await getRotation(e2e.pool, other))?.state).toBe('queued'), { timeout: 10_000 });
    const [firstDone, otherDone] = await Promise.all([follow(first), follow(other)]);
    expect(firstDone.terminal.get(first)).toBe('completed');
    expect(otherDone.terminal.get(other)).toBe('completed');

    const events = async (id: string) => (await readStream(e2e.redis, e2e.operator.streams.planned)).find((p) => p.fields.rotation_id === id)!;
    const completedFirst = (await readStream(e2e.redis, e2e.operator.streams.completed)).find((c) => c.fields.rotation_id === first)!;
    expect((await events(other)).id > completedFirst.id).toBe(true);
  }, 180_000);
});

describe('a holder that cannot come ready with the new material', () => {
  it('fails verification with a diagnosis, rolls back, and the old material works again', async () => {
    const fleet = e2e.stack.fleet!;
    const before = await snapshotFiles();
    const oldKey = before.gatewayStsHmacKey!;
    fleet.setPins('gateway', { GATEWAY_STS_HMAC_KEY: keyIdOf(oldKey) });
    try {
      const id = await request({ material: 'GATEWAY_STS_HMAC_KEY' });
      const result = await follow(id);
      expect(result.terminal.get(id)).toBe('failed');

      const [failed] = (await readStream(e2e.redis, e2e.operator.streams.failed)).filter((f) => f.fields.rotation_id === id);
      expect(failed!.data).toMatchObject({ material: 'GATEWAY_STS_HMAC_KEY', rolled_back: true, phase: 'rollback' });
      const verified = (await readStream(e2e.redis, e2e.operator.streams.verified)).filter((v) => v.fields.rotation_id === id);
      const deploy = verified.find((v) => v.data.phase === 'deploy')!;
      expect(deploy.data.ok).toBe(false);
      expect(String(deploy.data.diagnosis)).toMatch(/gateway/i);

      // Exactly the files as they were; none half-written, no temporary file left.
      expect(await snapshotFiles()).toEqual(before);
      for (const value of Object.values(await snapshotFiles())) expect(value).toMatch(/^[0-9a-f]+$/);
      expect(await fleetAccepts(fleet, e2e.redis, 'GATEWAY_STS_HMAC_KEY', oldKey)).toBe(true);
      const ready = await fetch(`${fleet.url('gateway')}/ready`);
      expect(ready.status).toBe(200);

      await vi.waitFor(
        async () => {
          const row = await getRotation(e2e.pool, id);
          expect(row).toMatchObject({ state: 'failed', rolledBack: true });
          expect(row!.diagnosis ?? '').toMatch(/gateway/i);
        },
        { timeout: 10_000 },
      );
    } finally {
      fleet.setPins('gateway', {});
    }
  }, 180_000);
});
