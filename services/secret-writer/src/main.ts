import { loadConfig } from '@caracal-rotation/config';
import { createServiceRuntime, loadCatalog, loadHoldersConfig, runMain } from '@caracal-rotation/runtime';
import { createSecretStore, FileSecretStore } from '@caracal-rotation/secrets';
import { secretWriterConfigSchema } from './config.js';
import { createSecretWriter } from './secret-writer.js';
import { buildWriters } from './writers/registry.js';

runMain('secret-writer', async () => {
  const config = loadConfig(secretWriterConfigSchema);
  const catalog = await loadCatalog(config.CARACAL_CATALOG);
  const holders = await loadHoldersConfig(config.CARACAL_HOLDERS);

  const runtime = await createServiceRuntime('secret-writer', config, { failsRotationsOnDeadLetter: true });
  // Caracal's secrets: its secrets directory, or the Secret its Helm chart mounts.
  const caracal = createSecretStore(config, { logger: runtime.logger });
  const rotation = new FileSecretStore({ dir: runtime.rotationDir, workspaceRoots: config.CARACAL_WORKSPACE_ROOTS });
  await caracal.assertSafe();
  await rotation.assertSafe();
  const writers = { caracal: buildWriters(caracal, holders), rotation: buildWriters(rotation, holders) };

  await runtime.startConsumer(createSecretWriter({ runtime, catalog, writers, stores: { caracal, rotation } }));
  await runtime.serveHttp(async () => {
    try {
      await caracal.assertSafe();
      await rotation.assertSafe();
      return { ok: true };
    } catch (err) {
      return { ok: false, error: (err as Error).message, dependency: 'secret_store' };
    }
  });
  runtime.shutdown.installSignalHandlers();
});
