import { goLoadKeyring } from '../shared/css1.js';
import { exitLikeGoPanic, GoPanic } from '../shared/file-secrets.js';
import { listenGo } from '../shared/go-http.js';
import { connectRedis, createLog, errorMessage, goPool, untilSignal } from '../shared/runtime.js';
import { loadStsConfig } from './config.js';
import { startStsConsumers } from './consumers.js';
import { PolicyEngine } from './policy-engine.js';
import { stsMux } from './server.js';

/** services/sts/cmd/sts/main.go + internal.New/Run: config, keyring, consumers, HTTP. */
export async function runSts(): Promise<number> {
  const log = createLog('sts');
  let cfg;
  let keyring;
  try {
    cfg = loadStsConfig();
    keyring = goLoadKeyring();
  } catch (err) {
    if (err instanceof GoPanic) exitLikeGoPanic(err);
    log('error', 'init failed', { error: errorMessage(err) });
    return 1;
  }
  const db = goPool(cfg.databaseUrl);
  const redis = connectRedis(cfg.redisUrl);
  const policy = new PolicyEngine(db);
  let stopped = false;
  let consumersReady = false;
  const consumersStarting = startStsConsumers(
    { redis, duplicate: () => redis.duplicate(), db, policy, streamsKey: cfg.streamsKey, published: cfg.published, log },
    () => stopped,
  ).then((c) => {
    consumersReady = true;
    return c;
  });
  void policy.seedZones().catch((err: unknown) => log('error', 'opa seed: list bound zones', { error: errorMessage(err) }));
  const server = await listenGo(stsMux({ cfg, db, redis, keyring, policy, consumersReady: () => consumersReady, log }), cfg.port, (err) =>
    log('error', 'recovered panic in http handler', { error: errorMessage(err) }),
  );
  log('info', 'listening', { port: String(server.port) });
  await untilSignal();
  stopped = true;
  await server.close();
  (await consumersStarting).close();
  redis.disconnect();
  await db.end().catch(() => undefined);
  return 0;
}
