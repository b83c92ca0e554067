import { loadConfig } from '@caracal-rotation/config';
import { createServiceRuntime, loadHoldersConfig, runMain } from '@caracal-rotation/runtime';
import { rollerConfigSchema } from './config.js';
import { createRoller } from './roller.js';

runMain('roller', async () => {
  const config = loadConfig(rollerConfigSchema);
  const holders = await loadHoldersConfig(config.CARACAL_HOLDERS);

  const runtime = await createServiceRuntime('roller', config);
  const subscriptions = createRoller(runtime, holders, { pollMs: config.ROLL_POLL_MS, restartAttempts: config.ROLL_RESTART_ATTEMPTS });

  await runtime.startConsumer(subscriptions);
  await runtime.serveHttp();
  runtime.shutdown.installSignalHandlers();
});
