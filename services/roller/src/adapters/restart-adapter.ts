import type { RestartAdapter } from '@caracal-rotation/contracts';
import { restartOverHttp } from './http-adapter.js';
import { restartByCommand } from './exec-adapter.js';
import { restartDeployment } from './kubernetes-adapter.js';

/** Asks the platform to restart one holder; resolves once the request was accepted. */
export async function requestRestart(service: string, adapter: RestartAdapter, timeoutMs: number): Promise<void> {
  switch (adapter.adapter) {
    case 'http':
      return restartOverHttp(adapter.url, adapter.headers ?? {}, timeoutMs);
    case 'exec':
      await restartByCommand(adapter.command, service, timeoutMs);
      if (adapter.wait) await restartByCommand(adapter.wait, service, timeoutMs);
      return;
    case 'kubernetes':
      // Resolves once the rollout is complete, within the holder's bounded time.
      await restartDeployment(adapter, { timeoutMs });
      return;
  }
}
