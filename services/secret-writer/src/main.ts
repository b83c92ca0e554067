import { loadConfig } from '@caracal-rotation/config';
import { createServiceRuntime, loadHoldersConfig, runMain } from '@caracal-rotation/runtime';
import { SecretStore } from '@caracal-rotation/secrets';
import { secretWriterConfigSchema } from './config.js';
import { createSecretWriter } from './secret-writer.js';
import { buildWriters } from './writers/registry.js';

runMain('secret-writer', async () => {
  const config = loadConfig(secretWriterConfigSchema);
  const holders = config.CARACAL_HOLDERS ? await loadHoldersConfig(config.CARACAL_HOLDERS) : undefined;

  const runtime = await createServiceRuntime('secret-writer', config);
  const store = new SecretStore({ dir: runtime.secretsDir, workspaceRoots: config.CARACAL_WORKSPACE_ROOTS });
  await store.assertSafe();
  const writers = buildWriters(store, holders, runtime.redis, runtime.streams.prefix);

  await runtime.startConsumer(createSecretWriter(runtime, writers));
  await runtime.serveHttp(async () => {
    try {
      await store.assertSafe();
      return { ok: true };
    } catch (err) {
      return { ok: false, error: (err as Error).message, dependency: 'secrets_dir' };
    }
  });
  runtime.shutdown.installSignalHandlers();
});
