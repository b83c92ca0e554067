import { loadConfig } from '@caracal-rotation/config';
import { replayGuardFor } from '@caracal-rotation/projection';
import { createServiceRuntime, loadHoldersConfig, runMain, SHUTDOWN } from '@caracal-rotation/runtime';
import { rollerConfigSchema } from './config.js';
import { createRoller } from './roller.js';

runMain('roller', async () => {
  const config = loadConfig(rollerConfigSchema);
  const holders = await loadHoldersConfig(config.CARACAL_HOLDERS);

  const runtime = await createServiceRuntime('roller', config);
  const replays = replayGuardFor(config.DATABASE_URL, runtime.logger);
  runtime.shutdown.register('projection', SHUTDOWN.closeConnections, () => replays.close());
  const subscriptions = createRoller(runtime, holders, {
      pollMs: config.ROLL_POLL_MS,
      restartAttempts: config.ROLL_RESTART_ATTEMPTS,
      switchDrain: { timeoutMs: config.SWITCH_DRAIN_TIMEOUT_MS, abandonAfterMs: config.SWITCH_DRAIN_ABANDON_AFTER_MS, pollMs: config.ROLL_POLL_MS },
    }, replays);

  await runtime.startConsumer(subscriptions);
  await runtime.serveHttp();
  runtime.shutdown.installSignalHandlers();
});
