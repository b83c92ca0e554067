import { loadConfig } from '@caracal-rotation/config';
import { createServiceRuntime, loadCatalog, runMain } from '@caracal-rotation/runtime';
import { SecretStore } from '@caracal-rotation/secrets';
import { plannerConfigSchema } from './config.js';
import { createPlanner } from './planner.js';

runMain('planner', async () => {
  const config = loadConfig(plannerConfigSchema);
  const catalog = await loadCatalog(config.CARACAL_CATALOG);

  const runtime = await createServiceRuntime('planner', config);
  const store = new SecretStore({ dir: runtime.secretsDir, workspaceRoots: config.CARACAL_WORKSPACE_ROOTS });
  const planner = createPlanner({ runtime, catalog, store, caracalNamespace: config.CARACAL_NAMESPACE });

  await runtime.startConsumer(planner.subscriptions);
  await runtime.serveHttp();
  runtime.shutdown.installSignalHandlers();
});
