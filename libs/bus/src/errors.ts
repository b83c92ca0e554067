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
