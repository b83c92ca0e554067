import { createRedisClient } from '@caracal-rotation/bus';
import { loadConfig } from '@caracal-rotation/config';
import { createServiceRuntime, loadHoldersConfig, runMain, SHUTDOWN } from '@caracal-rotation/runtime';
import { SecretStore } from '@caracal-rotation/secrets';
import { verifierConfigSchema } from './config.js';
import { MaterialReader } from './material-reader.js';
import { createVerifier } from './verifier.js';

runMain('verifier', async () => {
  const config = loadConfig(verifierConfigSchema);
  const holders = await loadHoldersConfig(config.CARACAL_HOLDERS);

  const runtime = await createServiceRuntime('verifier', config);
  // Checks publish onto Caracal's streams; they get a connection of their own.
  const checkRedis = createRedisClient({ url: config.REDIS_URL, clusterNodes: config.REDIS_CLUSTER_NODES }, { connectionName: 'verifier-checks' });
  runtime.shutdown.register('check-redis', SHUTDOWN.closeConnections, async () => void checkRedis.disconnect());
  const material = new MaterialReader(new SecretStore({ dir: runtime.secretsDir }));

  const subscriptions = createVerifier({ runtime, holders, material, checkRedis, timeoutMs: config.CHECK_TIMEOUT_MS, pollMs: config.CHECK_POLL_MS, baselineShareMs: config.BASELINE_SHARE_MS });
  await runtime.startConsumer(subscriptions);
  await runtime.serveHttp();
  runtime.shutdown.installSignalHandlers();
});
