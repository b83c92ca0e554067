/**
 * Errors of the secret store.
 *
 * Rule for everything in this library: an error may name a secret (its file
 * name or environment variable), a path, a key id or a length, but never the
 * value. Errors travel into logs, `caracal.rotation.failed` events and the
 * Postgres projection, none of which may hold secret material. For that reason
 * no error here carries a `cause` that could have seen a value (for instance a
 * JSON.parse error, whose message quotes its input).
 */

export type SecretsErrorCode =
  | 'invalid_name'
  | 'invalid_value'
  | 'invalid_hex'
  | 'invalid_argument'
  | 'env_conflict'
  | 'secret_file_missing'
  | 'secret_file_unreadable'
  | 'secret_file_empty'
  | 'history_conflict'
  | 'history_corrupt'
  | 'history_busy'
  | 'history_full'
  | 'record_conflict'
  | 'record_corrupt'
  | 'unsafe_store'
  | 'invalid_config'
  | 'store_unauthorized'
  | 'store_forbidden'
  | 'store_not_found'
  | 'store_conflict'
  | 'store_unreachable'
  | 'store_api';

export class SecretsError extends Error {
  override readonly name: string = 'SecretsError';

  constructor(
    readonly code: SecretsErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Why a store was refused; lets callers react without parsing messages.
 * `foreign_history`: the Kubernetes history Secret exists but is not ours;
 * `managed_elsewhere`: another controller owns the runtime Secret and would
 * undo what the orchestrator writes.
 */
export type UnsafeReason =
  | 'missing'
  | 'not_directory'
  | 'permissions'
  | 'owner'
  | 'inside_workspace'
  | 'foreign_history'
  | 'managed_elsewhere';

/**
 * The store must not be written. The planner answers a request with
 * `reason_code: unsafe_store` when it sees this, so the message is written for
 * an operator: what is wrong and what fixes it.
 */
export class UnsafeStoreError extends SecretsError {
  override readonly name: string = 'UnsafeStoreError';
  declare readonly code: 'unsafe_store';

  constructor(
    readonly reason: UnsafeReason,
    /** The directory, or `secret/<namespace>/<name>`. */
    readonly location: string,
    message: string,
  ) {
    super('unsafe_store', message);
  }
}

/** The secrets directory (or its history subdirectory) must not be used. */
export class UnsafeSecretsDirError extends UnsafeStoreError {
  override readonly name: string = 'UnsafeSecretsDirError';

  constructor(
    reason: UnsafeReason,
    readonly path: string,
    message: string,
  ) {
    super(reason, path, message);
  }
}
