import { loadConfig } from '@caracal-rotation/config';
import { createServiceRuntime, loadCatalog, runMain } from '@caracal-rotation/runtime';
import { SecretStore } from '@caracal-rotation/secrets';
import { plannerConfigSchema } from './config.js';
import { createPlanner } from './planner.js';
import { httpZoneDirectory } from './zone-directory.js';

runMain('planner', async () => {
  const config = loadConfig(plannerConfigSchema);
  const catalog = await loadCatalog(config.CARACAL_CATALOG);

  const runtime = await createServiceRuntime('planner', config);
  const store = new SecretStore({ dir: runtime.secretsDir, workspaceRoots: config.CARACAL_WORKSPACE_ROOTS });
  const zoneDirectory = config.ZONE_DIRECTORY_URL ? httpZoneDirectory(config.ZONE_DIRECTORY_URL, config.ZONE_DIRECTORY_TOKEN_FILE) : undefined;
  const planner = createPlanner({ runtime, catalog, store, caracalNamespace: config.CARACAL_NAMESPACE, zoneDirectory });

  await runtime.startConsumer(planner.subscriptions);
  await runtime.serveHttp();
  runtime.shutdown.installSignalHandlers();
});
