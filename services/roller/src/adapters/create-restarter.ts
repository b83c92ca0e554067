import type { RestartAdapter } from '@caracal-rotation/contracts';
import { dockerRestarter } from './docker-restarter.js';
import { execRestarter } from './exec-restarter.js';
import { kubernetesRestarter } from './kubernetes-restarter.js';
import type { Restarter } from './restarter.js';

export interface RestarterOptions {
  /** Interval between the platform reads that wait for a restart; default per adapter (250 ms to 1 s). */
  pollMs?: number;
  /** Where the kubernetes adapter reads KUBERNETES_SERVICE_HOST/PORT; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** A holder that re-reads its material on every use: nothing to restart, and the proof says why. */
function noRestart(why: string): Restarter {
  return {
    adapter: 'none',
    target: 'no restart',
    restartAndProve: async () => ({ restartedAt: null, proof: { before: null, after: null, detail: `no restart needed: ${why}` } }),
  };
}

/** The restarter for one service's `restart` entry of the holders file. */
export function createRestarter(restart: RestartAdapter, options: RestarterOptions = {}): Restarter {
  const poll = options.pollMs === undefined ? {} : { pollMs: options.pollMs };
  switch (restart.adapter) {
    case 'docker':
      return dockerRestarter(restart, poll);
    case 'kubernetes':
      return kubernetesRestarter(restart, { ...poll, env: options.env });
    case 'exec':
      return execRestarter(restart, poll);
    case 'none':
      return noRestart(restart.why);
  }
}
