import { randomBytes } from 'node:crypto';
import { GATEWAY_EXCHANGE_PATH, signGatewayExchange } from '@caracal-rotation/caracal-protocol';
import { httpJson, memberUrl, type CheckContext, type CheckRegistry } from './context.js';
import { otherValue } from './old-material.js';

/** Presents a gateway exchange signed with `keyHex` straight to the STS. */
async function exchangeStatus(ctx: CheckContext, keyHex: string): Promise<number> {
  const body = JSON.stringify({ grant_type: 'urn:caracal:rotation-check' });
  const headers = signGatewayExchange(keyHex, { method: 'POST', path: GATEWAY_EXCHANGE_PATH, body });
  const res = await httpJson(`${memberUrl(ctx, 'sts')}${GATEWAY_EXCHANGE_PATH}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body });
  return res.status;
}

export const gatewayChecks: CheckRegistry = {
  async gateway_bad_hmac_denied(ctx) {
    const status = await exchangeStatus(ctx, randomBytes(32).toString('hex'));
    return { ok: status === 401, detail: `exchange with a wrong key answered ${status}` };
  },
  async gateway_old_key_refused(ctx) {
    const status = await exchangeStatus(ctx, await otherValue(ctx, 'GATEWAY_STS_HMAC_KEY'));
    return { ok: status === 401, detail: `exchange signed with the old key answered ${status}` };
  },
};
