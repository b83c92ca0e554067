import { randomUUID } from 'node:crypto';
import type { RedisClient } from '@caracal-rotation/bus';
import { GATEWAY_EXCHANGE_PATH, auditEventFields, fieldArgs, revocationFields, signGatewayExchange } from '@caracal-rotation/caracal-protocol';
import { caracalStreams, type Material } from '@caracal-rotation/contracts';
import type { Fleet } from '@caracal-rotation/sandbox';

/**
 * Independent probes of the sandbox fleet, for tests to check with their own
 * eyes what the verifier claims: does the fleet accept this value?
 */
async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 8000): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const getJson = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
};

export async function fleetAccepts(fleet: Fleet, redis: RedisClient, material: Material, value: string): Promise<boolean> {
  const ns = caracalStreams(fleet.namespace);
  switch (material) {
    case 'AUDIT_HMAC_KEY': {
      const id = `probe-${randomUUID()}`;
      await redis.xadd(ns.auditEvents, '*', ...fieldArgs(auditEventFields(value, id, JSON.stringify({ probe: id }))));
      const verdict = await until(async () => {
        const { body } = await getJson(`${fleet.url('audit')}/internal/audit/events/${id}`);
        return body.ingested ? true : body.dead_lettered ? false : undefined;
      });
      return verdict === true;
    }
    case 'STREAMS_HMAC_KEY': {
      const session = { zone_id: 'probe', session_id: randomUUID(), reason: 'probe' };
      const entry = String(await redis.xadd(ns.sessionsRevoke, '*', ...fieldArgs(revocationFields(ns.sessionsRevoke, value, session))));
      const applied = async (member: 'sts' | 'gateway') =>
        (await getJson(`${fleet.url(member)}/internal/sessions/revoked?zone_id=probe&session_id=${session.session_id}`)).body.revoked === true;
      const verdict = await until(async () => {
        if ((await applied('sts')) && (await applied('gateway'))) return true;
        const dead = await redis.xrange(`${ns.sessionsRevoke}.dead`, entry, '+');
        return dead.filter(([, f]) => f.includes(entry)).length >= 2 ? false : undefined;
      });
      return verdict === true;
    }
    case 'GATEWAY_STS_HMAC_KEY': {
      const body = '{}';
      const headers = signGatewayExchange(value, { method: 'POST', path: GATEWAY_EXCHANGE_PATH, body });
      return (await fetch(`${fleet.url('sts')}${GATEWAY_EXCHANGE_PATH}`, { method: 'POST', headers, body })).status === 200;
    }
    case 'CARACAL_ADMIN_TOKEN':
      return (await fetch(`${fleet.url('api')}/v1/admin/whoami`, { headers: { authorization: `Bearer ${value}` } })).status === 200;
    case 'CARACAL_COORDINATOR_TOKEN':
      return (await fetch(`${fleet.url('coordinator')}/v1/agents`, { headers: { authorization: `Bearer ${value}` } })).status === 200;
    default:
      throw new Error(`no probe for ${material}`);
  }
}
