import { loadConfig } from '@caracal-rotation/config';
import { replayGuardFor } from '@caracal-rotation/projection';
import { createServiceRuntime, loadHoldersConfig, runMain, SHUTDOWN } from '@caracal-rotation/runtime';
import { createSecretStore, FileSecretStore } from '@caracal-rotation/secrets';
import { completedAnnouncer } from './announcer.js';
import { verifierConfigSchema } from './config.js';
import { MaterialValues } from './material-values.js';
import { createVerifier } from './verifier.js';

runMain('verifier', async () => {
  const config = loadConfig(verifierConfigSchema);
  const holders = await loadHoldersConfig(config.CARACAL_HOLDERS);

  const runtime = await createServiceRuntime('verifier', config, { caracalStreamsKey: true, failsRotationsOnDeadLetter: true });
  const replays = replayGuardFor(config.DATABASE_URL, runtime.logger);
  runtime.shutdown.register('projection', SHUTDOWN.closeConnections, () => replays.close());
  // Read-only: the verifier presents values, it never writes them.
  const material = new MaterialValues({ caracal: createSecretStore(config, { logger: runtime.logger }), rotation: new FileSecretStore({ dir: runtime.rotationDir }) });
  const subscriptions = createVerifier({
    runtime,
    holders,
    material,
    announce: completedAnnouncer(runtime),
    checkTimeoutMs: config.CHECK_TIMEOUT_MS,
    longCheckTimeoutMs: config.LONG_CHECK_TIMEOUT_MS,
    pollMs: config.CHECK_POLL_MS,
    zoneConcurrency: config.ZONE_SWEEP_CONCURRENCY,
    baselineShareMs: config.BASELINE_SHARE_MS,
    replays,
  });

  await runtime.startConsumer(subscriptions);
  await runtime.serveHttp();
  runtime.shutdown.installSignalHandlers();
});
