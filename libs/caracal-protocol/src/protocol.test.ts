import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeHexKey, keyIdOf, signatureMatches } from '@caracal-rotation/bus';
import { auditEventFields, GATEWAY_HEADERS, revocationFields, signAuditEvent, signGatewayExchange } from './index.js';

const key = randomBytes(32).toString('hex');

describe('client signing helpers', () => {
  it('signs a gateway exchange over "{unix}\\n{nonce}\\n{METHOD}\\n{path}\\n{sha256(body)}"', () => {
    const nonce = 'ab'.repeat(32);
    const headers = signGatewayExchange(key, { method: 'post', path: '/oauth/2/token', body: 'x=1', now: 1_700_000_000_999, nonce });
    const base = `1700000000\n${nonce}\nPOST\n/oauth/2/token\n${createHash('sha256').update('x=1').digest('hex')}`;
    expect(headers).toEqual({
      [GATEWAY_HEADERS.timestamp]: '1700000000',
      [GATEWAY_HEADERS.nonce]: nonce,
      [GATEWAY_HEADERS.signature]: createHmac('sha256', Buffer.from(key, 'hex')).update(base).digest('hex'),
    });
    expect(signGatewayExchange(key, { method: 'POST', path: '/p' })[GATEWAY_HEADERS.nonce]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('signs audit data bytes exactly', () => {
    const data = '{"a":1}';
    expect(signAuditEvent(key, data)).toBe(createHmac('sha256', Buffer.from(key, 'hex')).update(data).digest('hex'));
    expect(auditEventFields(key, 'e1', data)).toEqual({ id: 'e1', data, sig: signAuditEvent(key, data) });
  });

  it('builds revocation fields with kid that verify under Caracal stream signature', () => {
    const stream = 'ns:caracal.sessions.revoke';
    const fields = revocationFields(stream, key, { zone_id: 'z', session_id: 's', reason: 'r' });
    expect(fields.kid).toBe(keyIdOf(decodeHexKey(key)));
    expect(signatureMatches(stream, fields, decodeHexKey(key))).toBe(true);
    expect(signatureMatches('caracal.sessions.revoke', fields, decodeHexKey(key))).toBe(false);
    expect(signatureMatches(stream, { ...fields, session_id: 'other' }, decodeHexKey(key))).toBe(false);
  });

  it('refuses a key that is not clean hex of at least 32 bytes', () => {
    expect(() => signAuditEvent('abc', 'x')).toThrow();
    expect(() => signAuditEvent('ab'.repeat(16), 'x')).toThrow();
  });
});
