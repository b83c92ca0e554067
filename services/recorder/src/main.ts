import { loadConfig } from '@caracal-rotation/config';
import { createDatabaseIfMissing, migrate } from '@caracal-rotation/projection';
import { SHUTDOWN, createServiceRuntime, runMain } from '@caracal-rotation/runtime';
import { recorderConfigSchema } from './config.js';
import { createPool } from './database.js';
import { projectionReadiness } from './readiness.js';
import { startRecorder } from './recorder.js';

runMain('recorder', async () => {
  // Configuration, validated as a whole (a bad variable exits 78).
  const config = loadConfig(recorderConfigSchema);

  // Infrastructure: Redis, keyring and publisher; then the projection database.
  const runtime = await createServiceRuntime('recorder', config);
  await createDatabaseIfMissing(config.DATABASE_URL);
  const pool = createPool(config.DATABASE_URL, config.PG_POOL_MAX, runtime.logger);
  await migrate(pool);

  // Start: project every rotation stream, run the retirement timer and the
  // rotation policies, serve probes, metrics and the status page.
  const recorder = await startRecorder(runtime, config, pool);
  await runtime.serveHttp(() => projectionReadiness(pool), recorder.httpRoutes);

  // Shutdown: stop taking work, then close Postgres after Redis work is done.
  runtime.shutdown.register('recorder', SHUTDOWN.stopTimers, () => recorder.stop());
  runtime.shutdown.register('postgres', SHUTDOWN.closeConnections, () => pool.end());
  runtime.shutdown.installSignalHandlers();
});
