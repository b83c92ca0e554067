import { loadConfig } from '@caracal-rotation/config';
import { createDatabaseIfMissing, migrate } from '@caracal-rotation/projection';
import { SHUTDOWN, createServiceRuntime, loadCatalog, runMain } from '@caracal-rotation/runtime';
import { recorderConfigSchema } from './config.js';
import { createPool } from './database.js';
import { projectionReadiness } from './readiness.js';
import { startRecorder } from './recorder.js';

runMain('recorder', async () => {
  const config = loadConfig(recorderConfigSchema);
  const catalog = await loadCatalog(config.CARACAL_CATALOG);

  // It verifies operators' requests and intents, and Caracal's `completed`; its own dead letters end no rotation.
  const runtime = await createServiceRuntime('recorder', config, { operators: true, caracalStreamsKey: true });
  await createDatabaseIfMissing(config.DATABASE_URL);
  const pool = createPool(config.DATABASE_URL, config.PG_POOL_MAX, runtime.logger);
  await migrate(pool);

  const recorder = await startRecorder(runtime, config, pool, catalog);
  await runtime.serveHttp(() => projectionReadiness(pool), recorder.httpRoutes);
  runtime.shutdown.register('recorder', SHUTDOWN.stopTimers, () => recorder.stop());
  runtime.shutdown.register('postgres', SHUTDOWN.closeConnections, () => pool.end());
  runtime.shutdown.installSignalHandlers();
});
