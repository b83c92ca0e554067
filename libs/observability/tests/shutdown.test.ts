import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ShutdownCoordinator, createLogger, type SignalTarget } from '../src/index.js';
import { captureLines } from './capture.js';

function coordinator(handlerTimeoutMs?: number) {
  const capture = captureLines();
  const logger = createLogger({ service: 'test', instance: 'i', level: 'info', destination: capture.stream });
  return { shutdown: new ShutdownCoordinator({ logger, handlerTimeoutMs }), lines: capture.lines };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('ShutdownCoordinator', () => {
  it('runs groups by descending priority, a group together', async () => {
    const { shutdown } = coordinator();
    const events: string[] = [];
    const step = (name: string, ms: number) => async () => {
      events.push(`${name}:start`);
      await sleep(ms);
      events.push(`${name}:end`);
    };
    shutdown.register('redis', 10, step('redis', 1));
    shutdown.register('consumer-a', 100, step('consumer-a', 30));
    shutdown.register('http', 50, step('http', 1));
    shutdown.register('consumer-b', 100, step('consumer-b', 5));

    expect(await shutdown.shutdown('test')).toEqual({ ok: true, failed: [] });
    expect(events.slice(0, 2).sort()).toEqual(['consumer-a:start', 'consumer-b:start']);
    expect(events.slice(2, 4)).toEqual(['consumer-b:end', 'consumer-a:end']);
    expect(events.slice(4)).toEqual(['http:start', 'http:end', 'redis:start', 'redis:end']);
  });

  it('keeps going when a handler throws, and reports and logs it', async () => {
    const { shutdown, lines } = coordinator();
    const ran: string[] = [];
    shutdown.register('bad', 20, async () => {
      throw Object.assign(new Error('close failed'), { code: 'ECLOSE' });
    });
    shutdown.register('sync-bad', 20, () => {
      throw new Error('threw synchronously');
    });
    shutdown.register('peer', 20, async () => void ran.push('peer'));
    shutdown.register('later', 1, async () => void ran.push('later'));

    const result = await shutdown.shutdown('test');
    expect(result.ok).toBe(false);
    expect(result.failed.sort()).toEqual(['bad', 'sync-bad']);
    expect(ran).toEqual(['peer', 'later']);
    const failures = lines().filter((l) => l.msg === 'shutdown handler failed');
    expect(failures.map((l) => l.handler).sort()).toEqual(['bad', 'sync-bad']);
    expect(failures.find((l) => l.handler === 'bad')?.err).toMatchObject({ message: 'close failed', code: 'ECLOSE' });
  });

  it('gives up on a handler after its timeout', async () => {
    const { shutdown, lines } = coordinator(50);
    const ran: string[] = [];
    shutdown.register('stuck', 5, () => new Promise<void>(() => {}));
    shutdown.register('after', 1, async () => void ran.push('after'));
    const started = Date.now();
    const result = await shutdown.shutdown('test');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(result).toEqual({ ok: false, failed: ['stuck'] });
    expect(ran).toEqual(['after']);
    const failure = lines().find((l) => l.msg === 'shutdown handler failed');
    expect((failure?.err as { message: string }).message).toMatch(/timed out after 50 ms/);
  });

  it('is idempotent: a second call returns the same promise and runs nothing again', async () => {
    const { shutdown } = coordinator();
    let calls = 0;
    shutdown.register('once', 1, async () => {
      calls += 1;
      await sleep(5);
    });
    const first = shutdown.shutdown('SIGTERM');
    const second = shutdown.shutdown('SIGINT');
    expect(second).toBe(first);
    await first;
    expect(shutdown.shutdown('again')).toBe(first);
    expect(calls).toBe(1);
    expect(() => shutdown.register('late', 1, async () => {})).toThrow(/shutdown has begun/);
  });

  it('exits 0 after a clean shutdown on SIGTERM, 1 after a failed one, and 1 at once on a second signal', async () => {
    const run = async (handler: () => Promise<void>, signals: NodeJS.Signals[]) => {
      const { shutdown } = coordinator();
      shutdown.register('h', 1, handler);
      const emitter = new EventEmitter();
      const codes: number[] = [];
      let exited!: () => void;
      const done = new Promise<void>((resolve) => (exited = resolve));
      const target: SignalTarget = Object.assign(emitter, {
        exit: (code: number) => {
          codes.push(code);
          exited();
        },
      });
      const uninstall = shutdown.installSignalHandlers(target);
      for (const signal of signals) emitter.emit(signal, signal);
      await done;
      await shutdown.shutdown('wait');
      uninstall();
      expect(emitter.listenerCount('SIGTERM')).toBe(0);
      return codes;
    };
    expect(await run(async () => {}, ['SIGTERM'])).toEqual([0]);
    expect(
      await run(async () => {
        throw new Error('x');
      }, ['SIGINT']),
    ).toEqual([1]);
    expect(await run(() => sleep(20), ['SIGTERM', 'SIGINT'])).toEqual([1, 0]);
  });
});
