import { loadConfig } from '@caracal-rotation/config';
import { createServiceRuntime, runMain } from '@caracal-rotation/runtime';
import { SecretStore } from '@caracal-rotation/secrets';
import { secretWriterConfigSchema } from './config.js';
import { createSecretWriter } from './secret-writer.js';
import { FileWriter } from './writers/file-writer.js';

runMain('secret-writer', async () => {
  const config = loadConfig(secretWriterConfigSchema);

  const runtime = await createServiceRuntime('secret-writer', config);
  const store = new SecretStore({ dir: runtime.secretsDir, workspaceRoots: config.CARACAL_WORKSPACE_ROOTS });
  await store.assertSafe();

  await runtime.startConsumer(createSecretWriter(runtime, { file: new FileWriter(store) }));
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
