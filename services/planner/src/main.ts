import { join } from 'node:path';
import { loadConfig } from '@caracal-rotation/config';
import { replayGuardFor } from '@caracal-rotation/projection';
import { createServiceRuntime, loadCatalog, loadHoldersConfig, runMain, SHUTDOWN } from '@caracal-rotation/runtime';
import { plannerConfigSchema } from './config.js';
import { createPlanner } from './planner.js';
import { apiZoneLister } from './zone-lister.js';

runMain('planner', async () => {
  const config = loadConfig(plannerConfigSchema);
  const catalog = await loadCatalog(config.CARACAL_CATALOG);
  const holders = await loadHoldersConfig(config.CARACAL_HOLDERS);

  const runtime = await createServiceRuntime('planner', config, { operators: true, failsRotationsOnDeadLetter: true });
  const replays = replayGuardFor(config.DATABASE_URL, runtime.logger);
  runtime.shutdown.register('projection', SHUTDOWN.closeConnections, () => replays.close());
  const api = holders.services.api;
  const zoneLister = api ? apiZoneLister(api.url, config.CARACAL_ZONE_READER_TOKEN_FILE ?? join(runtime.rotationDir, 'zoneReaderToken')) : undefined;
  const planner = createPlanner({ runtime, catalog, holders, zoneLister, chunk: Math.min(config.BATCH_CHUNK, 500), replays });

  await runtime.startConsumer(planner.subscriptions);
  await runtime.serveHttp();
  runtime.shutdown.installSignalHandlers();
});
