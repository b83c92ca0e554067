import { scanKeys, type KeyringSource, type RedisClient } from '@caracal-rotation/bus';
import { stateKeys } from '@caracal-rotation/contracts';

const EVERY_MS = 2_000;
const TTL_SECONDS = 10;

/**
 * Publishes, every two seconds, which bus keys this instance has loaded. A
 * rotation of the bus key restarts nothing: it waits until every live
 * instance reports the new key (the reports of dead instances expire).
 */
export function reportKeyring(redis: RedisClient, prefix: string, instance: string, keyring: KeyringSource): () => void {
  const key = stateKeys(prefix).keyringReport(instance);
  const report = () =>
    void redis
      .set(key, JSON.stringify({ kids: keyring.current().kids, at: new Date().toISOString() }), 'EX', TTL_SECONDS)
      .catch(() => undefined);
  report();
  const timer = setInterval(report, EVERY_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    void redis.del(key).catch(() => undefined);
  };
}

export interface KeyringReport {
  /** The bus key ids the instance holds: current first, then the previous one while it overlaps. */
  kids: string[];
  at: string;
}

/**
 * What every live instance of the orchestrator reports it holds, by
 * instance (`<service>/<instance id>`). Reports of stopped instances expire
 * within seconds, so the map lists the live ones.
 */
export async function readKeyringReports(redis: RedisClient, prefix: string): Promise<Map<string, KeyringReport>> {
  const keys = stateKeys(prefix);
  const out = new Map<string, KeyringReport>();
  for (const key of await scanKeys(redis, keys.keyringReports)) {
    const raw = await redis.get(key);
    if (!raw) continue;
    try {
      const report = JSON.parse(raw) as Partial<KeyringReport>;
      if (Array.isArray(report.kids)) out.set(key.slice(keys.keyringReport('').length), { kids: report.kids.map(String), at: String(report.at ?? '') });
    } catch {
      // A report that is not JSON was not written by an instance of ours.
    }
  }
  return out;
}
