import { decodeHexKey, keyIdOf, signFields, signatureMatches, KID_FIELD, SIGNATURE_FIELD, type StreamFields } from './signature.js';

export interface StreamKey {
  readonly kid: string;
  readonly key: Buffer;
}

export function streamKeyFromHex(hex: string): StreamKey {
  const key = decodeHexKey(hex);
  return { kid: keyIdOf(key), key };
}

export type VerifyOutcome = { ok: true; kid: string } | { ok: false; reason: 'unknown_kid' | 'invalid_signature'; kid: string | undefined };

/**
 * The bus keyring: sign with the current key, verify with whichever of
 * {current, previous} the message's `kid` names.
 */
export class Keyring {
  constructor(
    readonly current: StreamKey,
    readonly previous?: StreamKey,
  ) {}

  static fromHex(currentHex: string, previousHex?: string): Keyring {
    return new Keyring(streamKeyFromHex(currentHex), previousHex ? streamKeyFromHex(previousHex) : undefined);
  }

  get kids(): string[] {
    return this.previous ? [this.current.kid, this.previous.kid] : [this.current.kid];
  }

  find(kid: string | undefined): StreamKey | undefined {
    if (!kid) return undefined;
    if (kid === this.current.kid) return this.current;
    if (this.previous && kid === this.previous.kid) return this.previous;
    return undefined;
  }

  /** Returns the fields with `kid` and `_sig` set by the current key. */
  sign(stream: string, fields: StreamFields): StreamFields {
    const withKid: StreamFields = { ...fields, [KID_FIELD]: this.current.kid };
    delete withKid[SIGNATURE_FIELD];
    return { ...withKid, [SIGNATURE_FIELD]: signFields(stream, withKid, this.current.key) };
  }

  verify(stream: string, fields: StreamFields): VerifyOutcome {
    const kid = fields[KID_FIELD];
    const key = this.find(kid);
    if (!key) return { ok: false, reason: 'unknown_kid', kid };
    return signatureMatches(stream, fields, key.key) ? { ok: true, kid: key.kid } : { ok: false, reason: 'invalid_signature', kid };
  }
}
