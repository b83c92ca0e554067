/**
 * Minimal JSON-line logger on stderr. The workspace logger
 * (@caracal-rotation/observability) has no entry point yet; these lines carry
 * the same base fields so they read the same in a log file. Callers pass ids
 * and kids only, never secret values.
 */
export type LogLevel = 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

export function createLog(service: string, instance: string): Log {
  return (level, msg, fields = {}) => {
    const line = { time: new Date().toISOString(), level, service, instance, msg, ...fields };
    process.stderr.write(`${JSON.stringify(line)}\n`);
  };
}

/** An error's message without its stack or cause (which might quote inputs). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
