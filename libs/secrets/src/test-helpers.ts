import { expect } from 'vitest';

/**
 * How the no-leak tests look for secret values: everything an error carries
 * (message, stack, enumerable properties, what JSON.stringify and loggers
 * serialize, any other own property, causes) and every log line, checked for
 * 8-character windows of each value, so a truncated quote (as in JSON.parse
 * messages) counts as a leak too.
 */
const WINDOW = 8;

function everythingIn(err: unknown, depth = 0): string {
  if (err === null || err === undefined || depth > 5) return '';
  if (typeof err !== 'object') return String(err);
  const e = err as Record<string, unknown>;
  const parts = [JSON.stringify(err), String(e.message), String(e.stack), String(err)];
  for (const key of Object.getOwnPropertyNames(err)) {
    const v = e[key];
    parts.push(key, typeof v === 'object' ? everythingIn(v, depth + 1) : String(v));
  }
  if ('cause' in e) parts.push(everythingIn(e.cause, depth + 1));
  return parts.join('\n');
}

/** Throws naming the offset when `text` holds any 8-character window of a secret. */
export function expectNoSecretIn(text: string, secrets: readonly string[], what: string): void {
  const haystack = text.toLowerCase();
  for (const secret of secrets) {
    for (let i = 0; i + WINDOW <= secret.length; i++) {
      if (haystack.includes(secret.slice(i, i + WINDOW).toLowerCase())) {
        throw new Error(`${what} leaks part of a secret (offset ${i}): ${text.slice(0, 500)}`);
      }
    }
  }
}

export function expectNoLeak(err: unknown, secrets: readonly string[]): void {
  expect(err, 'expected an error').toBeInstanceOf(Error);
  expectNoSecretIn(everythingIn(err), secrets, `error "${(err as Error).message}"`);
}

export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

export async function rejected(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  return undefined;
}
