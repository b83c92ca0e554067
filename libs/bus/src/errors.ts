/**
 * A handler throws this for a failure that retrying cannot fix: the entry
 * goes straight to the dead letter stream with `code` as its error.
 */
export class PermanentHandlerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PermanentHandlerError';
  }
}

/**
 * A fault that is expected to pass (a holder, Postgres or the STS
 * restarting): the consumer retries with backoff for minutes before it
 * counts as a failure.
 */
export class TransientError extends Error {
  readonly transient = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

// Network errors of Node and connection-class errors of Postgres (SQLSTATE 08xxx, 57P0x, 53300).
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', '57P01', '57P02', '57P03', '53300']);

/** Whether an error is worth retrying for minutes rather than a few times. */
export function isTransient(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { transient?: unknown }).transient === true) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (TRANSIENT_CODES.has(code) || /^08\d{3}$/.test(code))) return true;
    const message = e instanceof Error ? e.message : '';
    if (/Connection (is )?(closed|terminated)|connect ECONNREFUSED|socket hang up|fetch failed/i.test(message)) return true;
  }
  return false;
}
