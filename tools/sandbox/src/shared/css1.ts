import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Caracal's sealed-value envelope "CSS1", as both of its implementations
 * build it (packages/serverCore/ts/src/secretStore/envelope.ts,
 * packages/core/go/secretstore/envelope.go):
 *
 *   "CSS1" | kekId (8) | DEK nonce (12) | ChaCha20-Poly1305(KEK, DEK, aad "caracal.css1.dek") (48)
 *          | value nonce (12) | ChaCha20-Poly1305(DEK, value, aad) (n + 16)
 *
 * kekId is the first 8 bytes of SHA-256 over the raw KEK. The error texts are
 * Caracal's own, because the re-seal job prints them.
 */

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEK_ID_BYTES = 8;
const MAGIC = Buffer.from('CSS1', 'ascii');
const DEK_AAD = Buffer.from('caracal.css1.dek', 'utf8');
const MIN_ENVELOPE_BYTES = MAGIC.length + KEK_ID_BYTES + NONCE_BYTES + KEY_BYTES + TAG_BYTES + NONCE_BYTES + TAG_BYTES;

/** AADs of the sealed columns (packages/serverCore/ts/src/secretStore/backend.ts, packages/core/go/secretstore/backend.go). */
export const AAD = {
  zoneSigningKey: 'caracal/secrets/zoneSigningKey',
  connectionAccessToken: 'caracal/providerConnections/accessToken',
  connectionRefreshToken: 'caracal/providerConnections/refreshToken',
  notificationSinkSecret: 'caracal/notificationSinks/secret',
  operatorPlanSecrets: 'caracal/operatorPlanSecrets/values',
} as const;

export const ERR_DIFFERENT_KEK = 'secret envelope was sealed under a different KEK';

export function kekId(kek: Buffer): Buffer {
  return createHash('sha256').update(kek).digest().subarray(0, KEK_ID_BYTES);
}

function aeadSeal(key: Buffer, nonce: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function aeadOpen(key: Buffer, nonce: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  const body = sealed.subarray(0, sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad, { plaintextLength: body.length });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  return Buffer.concat([decipher.update(body), decipher.final()]);
}

export function sealEnvelope(kek: Buffer, plaintext: Buffer, aad: string): Buffer {
  if (kek.length !== KEY_BYTES) throw new Error(`kek must be ${KEY_BYTES} bytes`);
  const dek = randomBytes(KEY_BYTES);
  try {
    const dekNonce = randomBytes(NONCE_BYTES);
    const valNonce = randomBytes(NONCE_BYTES);
    return Buffer.concat([MAGIC, kekId(kek), dekNonce, aeadSeal(kek, dekNonce, dek, DEK_AAD), valNonce, aeadSeal(dek, valNonce, plaintext, Buffer.from(aad, 'utf8'))]);
  } finally {
    dek.fill(0);
  }
}

/** The kekId an envelope names, without opening it. */
export function envelopeKekId(envelope: Buffer): Buffer {
  if (envelope.length < MIN_ENVELOPE_BYTES) throw new Error('secret envelope too short');
  if (!envelope.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('secret envelope has unknown format');
  return envelope.subarray(MAGIC.length, MAGIC.length + KEK_ID_BYTES);
}

/**
 * Opens with one KEK. `flavour` picks whose error texts a failed
 * authentication gives: Go names the block that failed, Node's crypto says
 * "Unsupported state or unable to authenticate data".
 */
export function openEnvelope(kek: Buffer, envelope: Buffer, aad: string, flavour: 'go' | 'ts'): Buffer {
  if (kek.length !== KEY_BYTES) throw new Error(`kek must be ${KEY_BYTES} bytes`);
  if (!envelopeKekId(envelope).equals(kekId(kek))) throw new Error(ERR_DIFFERENT_KEK);
  let offset = MAGIC.length + KEK_ID_BYTES;
  const dekNonce = envelope.subarray(offset, (offset += NONCE_BYTES));
  const dekCt = envelope.subarray(offset, (offset += KEY_BYTES + TAG_BYTES));
  const valNonce = envelope.subarray(offset, (offset += NONCE_BYTES));
  const valCt = envelope.subarray(offset);
  let dek: Buffer;
  try {
    dek = aeadOpen(kek, dekNonce, dekCt, DEK_AAD);
  } catch (err) {
    if (flavour === 'go') throw new Error('secret envelope data key rejected');
    throw err;
  }
  try {
    return aeadOpen(dek, valNonce, valCt, Buffer.from(aad, 'utf8'));
  } catch (err) {
    if (flavour === 'go') throw new Error('secret envelope value rejected');
    throw err;
  } finally {
    dek.fill(0);
  }
}

/**
 * The keyring of SECRET_STORE_KEK (current, seals) and
 * SECRET_STORE_KEK_PREVIOUS (opens only): an envelope is routed to the key
 * its kekId names. Duplicates are harmless, as in Go's NewKeyring.
 */
export class Keyring {
  constructor(
    readonly keys: readonly Buffer[],
    private readonly flavour: 'go' | 'ts',
  ) {
    if (keys.length === 0) throw new Error('keyring requires at least one key');
  }

  get current(): Buffer {
    return this.keys[0]!;
  }

  seal(plaintext: Buffer, aad: string): Buffer {
    return sealEnvelope(this.current, plaintext, aad);
  }

  open(envelope: Buffer, aad: string): Buffer {
    const id = envelopeKekId(envelope);
    for (const kek of this.keys) {
      if (id.equals(kekId(kek))) return openEnvelope(kek, envelope, aad, this.flavour);
    }
    throw new Error(ERR_DIFFERENT_KEK);
  }
}

function weakKekReason(key: Buffer): string {
  let allSame = true;
  let ascending = true;
  let descending = true;
  let alternating = true;
  for (let i = 1; i < key.length; i++) {
    if (key[i] !== key[0]) allSame = false;
    if (key[i] !== key[i - 1]! + 1) ascending = false;
    if (key[i] !== key[i - 1]! - 1) descending = false;
    if (i >= 2 && key[i] !== key[i % 2]) alternating = false;
  }
  if (allSame && key[0] === 0) return 'must not be all zeros';
  if (allSame) return 'must not repeat the same byte';
  if (ascending || descending) return 'must not use a sequential byte pattern';
  if (alternating) return 'must not use a repeating byte pattern';
  return '';
}

/** Go's hex.DecodeString, with its error texts. */
export function goHexDecode(raw: string): Buffer {
  for (let i = 0; i < raw.length; i++) {
    if (!/[0-9a-fA-F]/.test(raw[i]!)) {
      const code = raw.codePointAt(i)!;
      throw new Error(`encoding/hex: invalid byte: U+${code.toString(16).toUpperCase().padStart(4, '0')} '${String.fromCodePoint(code)}'`);
    }
  }
  if (raw.length % 2 !== 0) throw new Error('encoding/hex: odd length hex string');
  return Buffer.from(raw, 'hex');
}

/** A KEK from the environment as Go's secretstore.loadKEK reads it. */
export function goLoadKek(name: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  const raw = env[name] ?? '';
  if (raw === '') throw new Error(`${name} is required`);
  let key: Buffer;
  try {
    key = goHexDecode(raw);
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}`);
  }
  if (key.length !== KEY_BYTES) throw new Error(`${name} must be ${KEY_BYTES} bytes, got ${key.length}`);
  const reason = weakKekReason(key);
  if (reason) throw new Error(`${name} ${reason}`);
  return key;
}

/** secretstore.LoadKeyring: current, then previous when set. */
export function goLoadKeyring(env: NodeJS.ProcessEnv = process.env): Keyring {
  const keys = [goLoadKek('SECRET_STORE_KEK', env)];
  if (env.SECRET_STORE_KEK_PREVIOUS) keys.push(goLoadKek('SECRET_STORE_KEK_PREVIOUS', env));
  return new Keyring(keys, 'go');
}

/** A KEK as serverCore's parseKek reads it (Buffer.from stops at the first non-hex character). */
function tsParseKek(name: string, raw: string): Buffer {
  const key = Buffer.from(raw, 'hex');
  if (key.length !== KEY_BYTES) throw new Error(`${name} must be ${KEY_BYTES} bytes, got ${key.length}`);
  const reason = weakKekReason(key);
  if (reason) throw new Error(`${name} ${reason}`);
  return key;
}

/** serverCore's loadSecretStoreKeks: the active keyring, current key first. */
export function tsLoadKeyring(env: NodeJS.ProcessEnv = process.env): Keyring {
  const raw = env.SECRET_STORE_KEK;
  if (!raw) throw new Error('SECRET_STORE_KEK is required');
  const keys = [tsParseKek('SECRET_STORE_KEK', raw)];
  if (env.SECRET_STORE_KEK_PREVIOUS) keys.push(tsParseKek('SECRET_STORE_KEK_PREVIOUS', env.SECRET_STORE_KEK_PREVIOUS));
  return new Keyring(keys, 'ts');
}
