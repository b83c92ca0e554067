import { assertHexKey } from './hex.js';

/**
 * Patterns Caracal refuses as a key-encryption key (weakKEKReason in
 * packages/core/go/secretstore/envelope.go): all zeros, one repeated byte,
 * sequential bytes (ascending or descending, with wrap-around past
 * 0xff/0x00), or two bytes alternating. They are the shapes a
 * placeholder or a test fixture takes, never what a random generator yields.
 *
 * Throws (without the value) when `hex` is not clean hex, since "weak" is
 * meaningless for a value that is not a key at all.
 */
export function isWeakKek(hex: string): boolean {
  const b = assertHexKey(hex, { minBytes: 1, label: 'KEK' });
  if (b.length < 2) return true;
  const first = b[0] ?? 0;
  const second = b[1] ?? 0;
  // All zeros is the repeated-byte case with first = 0.
  return (
    every(b, (v) => v === first) ||
    every(b, (v, i) => v === ((first + i) & 0xff)) ||
    every(b, (v, i) => v === ((first - i) & 0xff)) ||
    every(b, (v, i) => v === (i % 2 === 0 ? first : second))
  );
}

function every(bytes: Buffer, pred: (value: number, index: number) => boolean): boolean {
  for (let i = 0; i < bytes.length; i++) {
    if (!pred(bytes[i] ?? 0, i)) return false;
  }
  return true;
}
