import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Caracal's sealed-value envelope "CSS1" (CARACAL-INTEROP.md "KEK envelope"):
 *
 *   "CSS1" | kekId (8) | DEK nonce (12) | ChaCha20-Poly1305(KEK, DEK, aad "caracal.css1.dek") (32 + 16)
 *          | value nonce (12) | ChaCha20-Poly1305(DEK, value, aad purpose + "/" + ref) (n + 16)
 *
 * A fresh data-encryption key per value means the KEK only ever encrypts
 * random keys; binding purpose/ref as AAD stops a sealed value from being
 * copied to another row and opened there.
 */

const MAGIC = Buffer.from('CSS1', 'latin1');
const KEK_ID_BYTES = 8;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const DEK_AAD = Buffer.from('caracal.css1.dek', 'utf8');
const CIPHER = 'chacha20-poly1305';

const KEK_ID_AT = MAGIC.length;
const DEK_NONCE_AT = KEK_ID_AT + KEK_ID_BYTES;
const SEALED_DEK_AT = DEK_NONCE_AT + NONCE_BYTES;
const VALUE_NONCE_AT = SEALED_DEK_AT + KEY_BYTES + TAG_BYTES;
const SEALED_VALUE_AT = VALUE_NONCE_AT + NONCE_BYTES;
/** Shortest envelope: an empty value still carries its tag. */
export const CSS1_MIN_BYTES = SEALED_VALUE_AT + TAG_BYTES;

export type Css1ErrorCode = 'malformed' | 'unknown_kek' | 'auth_failed' | 'bad_kek';

/** Errors name what went wrong and at most a kekId, never key or value bytes. */
export class Css1Error extends Error {
  constructor(
    readonly code: Css1ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'Css1Error';
  }
}

/** The KEKs a reader holds, found by the kekId an envelope names. */
export interface KekKeyring {
  /** Seals new values, and the id a re-seal moves every row to. */
  readonly current: Buffer;
  readonly currentId: string;
  readonly byId: ReadonlyMap<string, Buffer>;
}

/** kekId: the first 8 bytes of SHA-256 over the raw KEK, as lowercase hex. */
export function kekIdOf(kek: Buffer): string {
  assertKek(kek);
  return createHash('sha256').update(kek).digest().subarray(0, KEK_ID_BYTES).toString('hex');
}

/** The current KEK first, then older ones (SECRET_STORE_KEK_PREVIOUS). */
export function kekKeyring(current: Buffer, ...older: Buffer[]): KekKeyring {
  const byId = new Map<string, Buffer>();
  for (const kek of [current, ...older]) {
    const id = kekIdOf(kek);
    if (!byId.has(id)) byId.set(id, kek);
  }
  return { current, currentId: kekIdOf(current), byId };
}

export function seal(kek: Buffer, purpose: string, ref: string, value: Buffer | string): Buffer {
  const dek = randomBytes(KEY_BYTES);
  const dekNonce = randomBytes(NONCE_BYTES);
  const valueNonce = randomBytes(NONCE_BYTES);
  const plain = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  try {
    return Buffer.concat([
      MAGIC,
      Buffer.from(kekIdOf(kek), 'hex'),
      dekNonce,
      encrypt(kek, dekNonce, DEK_AAD, dek),
      valueNonce,
      encrypt(dek, valueNonce, valueAad(purpose, ref), plain),
    ]);
  } finally {
    dek.fill(0);
  }
}

/** The kekId an envelope names, or throws `malformed`. */
export function sealedKekId(sealed: Buffer): string {
  assertShape(sealed);
  return sealed.subarray(KEK_ID_AT, DEK_NONCE_AT).toString('hex');
}

/** Opens an envelope with the keyring's KEK of the kekId it names. */
export function open(keyring: KekKeyring, purpose: string, ref: string, sealed: Buffer): Buffer {
  const kekId = sealedKekId(sealed);
  const kek = keyring.byId.get(kekId);
  if (!kek) throw new Css1Error('unknown_kek', `sealed under kek ${kekId}, which this keyring does not hold`);
  const dek = decrypt(kek, sealed.subarray(DEK_NONCE_AT, SEALED_DEK_AT), DEK_AAD, sealed.subarray(SEALED_DEK_AT, VALUE_NONCE_AT), 'data key');
  try {
    return decrypt(dek, sealed.subarray(VALUE_NONCE_AT, SEALED_VALUE_AT), valueAad(purpose, ref), sealed.subarray(SEALED_VALUE_AT), 'value');
  } finally {
    dek.fill(0);
  }
}

function valueAad(purpose: string, ref: string): Buffer {
  return Buffer.from(`${purpose}/${ref}`, 'utf8');
}

function encrypt(key: Buffer, nonce: Buffer, aad: Buffer, plain: Buffer): Buffer {
  const cipher = createCipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad, { plaintextLength: plain.length });
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

function decrypt(key: Buffer, nonce: Buffer, aad: Buffer, sealedWithTag: Buffer, what: string): Buffer {
  const body = sealedWithTag.subarray(0, sealedWithTag.length - TAG_BYTES);
  const decipher = createDecipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(sealedWithTag.subarray(sealedWithTag.length - TAG_BYTES));
  decipher.setAAD(aad, { plaintextLength: body.length });
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    // Node's message says only "unsupported state or unable to authenticate data".
    throw new Css1Error('auth_failed', `the sealed ${what} does not authenticate`);
  }
}

function assertShape(sealed: Buffer): void {
  if (sealed.length < CSS1_MIN_BYTES || !sealed.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Css1Error('malformed', 'not a CSS1 envelope');
  }
}

function assertKek(kek: Buffer): void {
  if (kek.length !== KEY_BYTES) throw new Css1Error('bad_kek', `a KEK has ${KEY_BYTES} bytes; got ${kek.length}`);
}
