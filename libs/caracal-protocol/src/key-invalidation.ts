import { decodeHexKey, keyIdOf, signFields, SIGNATURE_FIELD, type StreamFields } from '@caracal-rotation/bus';

/**
 * The signed fields of a `caracal.keys.invalidate` message, for whoever tells
 * the STS to drop its cached keys of a zone (e.g. after a rotation). `stream`
 * is the namespaced stream name, which the signature covers.
 */
export function keyInvalidationFields(stream: string, streamsKeyHex: string, zoneId: string): StreamFields {
  const key = decodeHexKey(streamsKeyHex);
  const fields: StreamFields = { zone_id: zoneId, kid: keyIdOf(key) };
  return { ...fields, [SIGNATURE_FIELD]: signFields(stream, fields, key) };
}
