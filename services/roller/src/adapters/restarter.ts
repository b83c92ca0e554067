import type { RestartAdapter } from '@caracal-rotation/contracts';

/**
 * The platform part of rolling one holder: restart its processes and prove,
 * from what the platform reports (not from Caracal, whose /health carries no
 * boot id, pid or start time), that they started after the write.
 * Readiness (`GET /ready`) is separate: see readiness.ts.
 */
export interface Restarter {
  readonly adapter: RestartAdapter['adapter'];
  /** What is restarted, for logs and errors: `docker container caracal-api-1`. */
  readonly target: string;
  restartAndProve(request: RestartRequest): Promise<RestartResult>;
}

export interface RestartRequest {
  /** When the new material was written: the new processes must have started after it. */
  writtenAt: Date;
  /** Epoch milliseconds by which the restart and its proof are done, or have failed. */
  deadline: number;
}

export interface RestartResult {
  /** When the platform says the (last) new process started, RFC 3339; null when the adapter restarts nothing. */
  restartedAt: string | null;
  proof: RestartProof;
}

export interface RestartProof {
  /** What the platform showed before the restart (start time and pid, pod UIDs, proof output); null when nothing was read. */
  before: string | null;
  after: string | null;
  /** Why `after` proves a restart after the write, in one line. */
  detail: string;
}

export type RestartErrorCode =
  /** The holders file or the roller's environment is wrong (no socket path, unreadable token, unsupported strategy). */
  | 'config'
  /** The platform could not be reached (socket missing, connection refused, API server down). */
  | 'unreachable'
  /** The platform refused (permission denied, 403, a restart that failed). */
  | 'refused'
  | 'not_found'
  /** The deadline passed before the restart was proven. */
  | 'timeout'
  /** The platform accepted the restart, but what it shows proves no restart after the write. */
  | 'not_restarted'
  /** The restart happened, but the new processes are not running. */
  | 'not_running';

/** A failed restart; the message says what the platform showed. Never carries a secret. */
export class RestartError extends Error {
  constructor(
    message: string,
    readonly code: RestartErrorCode,
    /** What was read before the failure, when anything was. */
    readonly proof?: { before: string | null; after: string | null },
  ) {
    super(message);
    this.name = 'RestartError';
  }
}

/** Milliseconds left before the deadline, never below zero. */
export const remainingMs = (deadline: number): number => Math.max(0, deadline - Date.now());

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
