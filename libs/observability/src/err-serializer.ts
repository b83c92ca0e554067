export interface SerializedError {
  type: string;
  message: string;
  code?: string | number;
  stack?: string;
  cause?: SerializedError | string;
}

const MAX_CAUSE_DEPTH = 3;

/**
 * Keeps only type, message, code, stack (and the cause chain, likewise) of an
 * error. Other own properties are dropped on purpose: client libraries attach
 * the failed command to errors, and an AUTH command carries a password.
 */
export function serializeError(value: unknown, depth = 0): unknown {
  if (!(value instanceof Error)) return typeof value === 'object' && value !== null ? String(value) : value;
  const out: SerializedError = { type: value.name || value.constructor.name, message: value.message };
  const { code } = value as { code?: unknown };
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (value.stack !== undefined) out.stack = value.stack;
  if (value.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
    out.cause = serializeError(value.cause, depth + 1) as SerializedError | string;
  }
  return out;
}
