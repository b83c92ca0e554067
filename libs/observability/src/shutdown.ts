import type { Logger } from 'pino';
import { withTimeout } from './timeout.js';

export type ShutdownHandler = () => Promise<void>;

export interface ShutdownResult {
  /** True when every handler fulfilled within its timeout. */
  ok: boolean;
  /** Names of the handlers that threw, rejected or timed out. */
  failed: string[];
}

export interface ShutdownOptions {
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Time each handler gets before it counts as failed (default 10 s). */
  handlerTimeoutMs?: number;
}

/** What `installSignalHandlers` needs of `process`. */
export interface SignalTarget {
  on(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

interface Registration {
  name: string;
  priority: number;
  handler: ShutdownHandler;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Runs registered shutdown handlers once: highest priority first; handlers of
 * equal priority together, each bounded by a timeout, none stopping the others.
 * (Stop taking work at a high priority, close connections at a low one.)
 */
export class ShutdownCoordinator {
  private readonly registrations: Registration[] = [];
  private readonly logger: ShutdownOptions['logger'];
  private readonly handlerTimeoutMs: number;
  private running: Promise<ShutdownResult> | undefined;

  constructor({ logger, handlerTimeoutMs = 10_000 }: ShutdownOptions) {
    this.logger = logger;
    this.handlerTimeoutMs = handlerTimeoutMs;
  }

  get isShuttingDown(): boolean {
    return this.running !== undefined;
  }

  register(name: string, priority: number, handler: ShutdownHandler): void {
    if (this.running) throw new Error(`cannot register shutdown handler "${name}": shutdown has begun`);
    this.registrations.push({ name, priority, handler });
  }

  /** Runs the handlers; later calls return the first call's promise. Never rejects, never exits. */
  shutdown(reason: string): Promise<ShutdownResult> {
    this.running ??= this.run(reason);
    return this.running;
  }

  /** SIGINT/SIGTERM → shutdown, then exit 0 (all fulfilled) or 1; a second signal exits 1 at once. */
  installSignalHandlers(target: SignalTarget = process): () => void {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (this.running) {
        this.logger.warn({ signal }, 'second signal during shutdown: exiting now');
        target.exit(1);
        return;
      }
      void this.shutdown(signal).then((result) => target.exit(result.ok ? 0 : 1));
    };
    for (const signal of SIGNALS) target.on(signal, onSignal);
    return () => {
      for (const signal of SIGNALS) target.off(signal, onSignal);
    };
  }

  private async run(reason: string): Promise<ShutdownResult> {
    this.logger.info({ reason, handlers: this.registrations.length }, 'shutting down');
    const failed: string[] = [];
    for (const group of this.groupsByPriority()) {
      const results = await Promise.allSettled(
        group.map(({ name, handler }) => withTimeout(handler, this.handlerTimeoutMs, `shutdown handler "${name}"`)),
      );
      results.forEach((result, i) => {
        if (result.status === 'fulfilled') return;
        const { name, priority } = group[i] as Registration;
        failed.push(name);
        this.logger.error({ err: result.reason, handler: name, priority }, 'shutdown handler failed');
      });
    }
    this.logger.info({ reason, failed }, 'shutdown complete');
    return { ok: failed.length === 0, failed };
  }

  private groupsByPriority(): Registration[][] {
    const byPriority = new Map<number, Registration[]>();
    for (const r of this.registrations) byPriority.set(r.priority, [...(byPriority.get(r.priority) ?? []), r]);
    return [...byPriority.entries()].sort(([a], [b]) => b - a).map(([, group]) => group);
  }
}
