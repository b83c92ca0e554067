import { kekKeyring, type KekKeyring } from '../css1.js';
import type { Material } from '../member/material.js';

/**
 * The KEK keyring of a holder: SECRET_STORE_KEK (alias ZONE_KEK) and, during
 * a rotation, SECRET_STORE_KEK_PREVIOUS. Material has already checked both are
 * clean 32-byte hex, so decoding cannot truncate.
 */
export function kekKeyringOf(material: Material): KekKeyring | undefined {
  const [current, ...previous] = material.accepted('SECRET_STORE_KEK').map((hex) => Buffer.from(hex, 'hex'));
  return current ? kekKeyring(current, ...previous) : undefined;
}
