import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_SECRET_BYTES, createSecretsApi, startKubernetesApiDouble, type KubernetesApiDouble, type SecretsApi } from '../index.js';

const NS = 'caracal';
const ITEM = `/api/v1/namespaces/${NS}/secrets/caracal-runtime`;
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** A Secret or a Status, as far as these tests read it. */
interface Answer {
  metadata: { resourceVersion: string };
  message?: string;
  stringData?: unknown;
  [field: string]: unknown;
}

describe('the Secrets handler of the Kubernetes API double', () => {
  let api: KubernetesApiDouble;
  let secrets: SecretsApi;

  async function send(method: string, path: string, body?: unknown, contentType = 'application/json') {
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${api.token}`, 'content-type': contentType },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Answer };
  }

  beforeAll(async () => {
    secrets = createSecretsApi();
    api = await startKubernetesApiDouble([secrets.handler]);
  });
  afterAll(async () => {
    await api.close();
  });
  beforeEach(() => {
    secrets.allowAll();
    secrets.seed(NS, { name: 'caracal-runtime', values: { streamsHmacKey: 'aa' } });
  });

  it('answers GET with the object and a 404 Status for a missing one', async () => {
    const got = await send('GET', ITEM);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ kind: 'Secret', type: 'Opaque', metadata: { name: 'caracal-runtime', namespace: NS }, data: { streamsHmacKey: b64('aa') } });
    const missing = await send('GET', `/api/v1/namespaces/${NS}/secrets/absent`);
    expect(missing).toMatchObject({ status: 404, body: { kind: 'Status', reason: 'NotFound', code: 404, message: 'secrets "absent" not found', details: { name: 'absent', kind: 'secrets' } } });
  });

  it('bumps resourceVersion on every change and refuses a stale one with 409, changing nothing', async () => {
    const first = (await send('GET', ITEM)).body;
    const put = await send('PUT', ITEM, { ...first, data: { streamsHmacKey: b64('bb') } });
    expect(put.status).toBe(200);
    expect(Number(put.body.metadata.resourceVersion)).toBeGreaterThan(Number(first.metadata.resourceVersion));

    const stalePut = await send('PUT', ITEM, { ...first, data: { streamsHmacKey: b64('cc') } });
    expect(stalePut).toMatchObject({ status: 409, body: { reason: 'Conflict', code: 409 } });
    const stalePatch = await send('PATCH', ITEM, { metadata: { resourceVersion: first.metadata.resourceVersion }, data: { x: b64('y') } }, 'application/merge-patch+json');
    expect(stalePatch.status).toBe(409);
    expect(secrets.values(NS, 'caracal-runtime')).toEqual({ streamsHmacKey: 'bb' });
  });

  it('merges a PATCH (null deletes a key) under the current resourceVersion', async () => {
    const current = (await send('GET', ITEM)).body;
    const patched = await send(
      'PATCH',
      ITEM,
      { metadata: { resourceVersion: current.metadata.resourceVersion }, data: { streamsHmacKey: null, auditHmacKey: b64('dd') } },
      'application/merge-patch+json',
    );
    expect(patched.status).toBe(200);
    expect(secrets.values(NS, 'caracal-runtime')).toEqual({ auditHmacKey: 'dd' });
    expect((await send('PATCH', ITEM, [{ op: 'remove', path: '/data' }], 'application/json-patch+json')).status).toBe(415);
  });

  it('creates with POST (201), refuses a second create with AlreadyExists, and merges stringData', async () => {
    const created = await send('POST', `/api/v1/namespaces/${NS}/secrets`, { metadata: { name: 'history', labels: { a: 'b' } }, stringData: { k: 'v' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ metadata: { name: 'history', labels: { a: 'b' } }, data: { k: b64('v') } });
    expect(created.body.stringData).toBeUndefined();
    const again = await send('POST', `/api/v1/namespaces/${NS}/secrets`, { metadata: { name: 'history' } });
    expect(again).toMatchObject({ status: 409, body: { reason: 'AlreadyExists' } });
    expect((await send('DELETE', `/api/v1/namespaces/${NS}/secrets/history`)).status).toBe(200);
  });

  it('answers a denied verb with 403 naming the user, verb and Secret', async () => {
    secrets.deny('patch', NS, 'caracal-runtime');
    const denied = await send('PATCH', ITEM, { data: {} }, 'application/merge-patch+json');
    expect(denied.status).toBe(403);
    expect(denied.body.message).toBe(`secrets "caracal-runtime" is forbidden: User "${secrets.user}" cannot patch resource "secrets" in API group "" in the namespace "${NS}"`);
    expect((await send('GET', ITEM)).status).toBe(200);
  });

  it('validates data as the API server does: base64, key names, 1 MiB in total', async () => {
    const current = (await send('GET', ITEM)).body;
    expect((await send('PUT', ITEM, { ...current, data: { k: 'not base64!' } })).status).toBe(400);
    expect((await send('PUT', ITEM, { ...current, data: { 'bad/key': b64('v') } })).status).toBe(422);
    const big = Buffer.alloc(MAX_SECRET_BYTES + 1).toString('base64');
    const tooBig = await send('PUT', ITEM, { ...current, data: { k: big } });
    expect(tooBig).toMatchObject({ status: 422, body: { reason: 'Invalid' } });
    expect(tooBig.body.message).toContain('Too long');
    expect((await send('PUT', `/api/v1/namespaces/${NS}/secrets/absent`, { metadata: { name: 'absent' } })).status).toBe(404);
  });
});
