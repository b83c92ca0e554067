import { createHmac } from 'node:crypto';
import { decodeHexKey } from '@caracal-rotation/bus';

/**
 * Audit stream messages carry `id`, `data` (the JSON event) and `sig`, the hex
 * HMAC-SHA256 of AUDIT_HMAC_KEY over the exact `data` bytes
 * (CARACAL-INTEROP.md "Audit evidence").
 */
export function signAuditEvent(keyHex: string, data: string): string {
  return signAuditData(decodeHexKey(keyHex), data);
}

export function signAuditData(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('hex');
}

/** The stream fields of one audit event, ready for XADD. */
export function auditEventFields(keyHex: string, id: string, data: string): { id: string; data: string; sig: string } {
  return { id, data, sig: signAuditEvent(keyHex, data) };
}
