import { decodeHexKey, keyIdOf, signFields, SIGNATURE_FIELD, type StreamFields } from '@caracal-rotation/bus';

/** One message on `caracal.sessions.revoke`. */
export interface SessionRevocation {
  zone_id: string;
  session_id: string;
  reason: string;
}

/**
 * The signed fields of a revocation as Caracal's API publishes it: the
 * payload, the `kid` of the streams key (covered by the signature like any
 * field) and `_sig`. `stream` must be the namespaced stream name, because the
 * stream name is part of what is signed.
 */
export function revocationFields(stream: string, streamsKeyHex: string, revocation: SessionRevocation): StreamFields {
  const key = decodeHexKey(streamsKeyHex);
  const fields: StreamFields = {
    zone_id: revocation.zone_id,
    session_id: revocation.session_id,
    reason: revocation.reason,
    kid: keyIdOf(key),
  };
  return { ...fields, [SIGNATURE_FIELD]: signFields(stream, fields, key) };
}

/** Flattens fields into XADD's `name value …` argument list. */
export function fieldArgs(fields: Record<string, string>): string[] {
  return Object.entries(fields).flat();
}
