/**
 * A writer's refusal that retrying cannot change (an unsupported phase, a
 * target that is not configured, a precondition that does not hold). The
 * secret-writer ends the rotation on `failed` with this message.
 */
export class WriteRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WriteRefused';
  }
}
