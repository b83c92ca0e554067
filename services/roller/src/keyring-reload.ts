import type { RedisClient } from '@caracal-rotation/bus';
import type { HolderRoll, Phase, WrittenData } from '@caracal-rotation/contracts';
import { readKeyringReports, type KeyringReport } from '@caracal-rotation/runtime';
import type { RollOptions } from './roll-holder.js';

/**
 * The orchestrator's services re-read their bus keyring when its files
 * change and report the keys they hold every few seconds (libs/runtime
 * keyring-report.ts). Rolling them means waiting until every live instance
 * reports what the phase wrote: the new key accepted (stage, deploy), the
 * restored one (rollback), the old one gone (retire).
 */
export function keyringReloads(redis: RedisClient, prefix: string, opts: RollOptions & { reloadTimeoutMs?: number }) {
  return {
    async wait(services: string[], phase: Phase, written: WrittenData): Promise<HolderRoll[]> {
      const wanted = phase === 'retire' ? written.previous?.kid : written.new.kid;
      const holds = (r: KeyringReport) => (phase === 'retire' ? !r.kids.includes(wanted ?? '') : r.kids.includes(wanted ?? ''));
      const started = new Date();
      const deadline = Date.now() + (opts.reloadTimeoutMs ?? 120_000);
      for (;;) {
        const live = [...(await readKeyringReports(redis, prefix)).entries()].filter(([instance]) => services.includes(instance.split('/')[0]!));
        const lagging = live.filter(([, r]) => !holds(r)).map(([instance]) => instance);
        const missing = services.filter((s) => !live.some(([instance]) => instance.startsWith(`${s}/`)));
        if (lagging.length === 0 && missing.length === 0) {
          const at = new Date().toISOString();
          return services.map((service) => ({
            service,
            ok: true,
            restarted_at: null,
            ready_at: at,
            attempts: 1,
            proof: { before: null, after: live.filter(([i]) => i.startsWith(`${service}/`)).map(([i]) => i).join(','), detail: `every instance reloaded its bus keyring (${phase === 'retire' ? `kid ${wanted} gone` : `holds kid ${wanted}`}); no restart needed` },
          }));
        }
        if (Date.now() > deadline) {
          return services.map((service) => ({
            service,
            ok: false,
            restarted_at: null,
            ready_at: null,
            attempts: 1,
            error: `not reloaded within ${Math.round((Date.now() - started.getTime()) / 1000)} s: ${[...lagging.filter((i) => i.startsWith(`${service}/`)), ...(missing.includes(service) ? [`no live ${service} instance reports its keyring`] : [])].join(', ') || 'waiting on other services'}`,
          }));
        }
        await new Promise((r) => setTimeout(r, opts.pollMs));
      }
    },
  };
}
