export { createServiceRuntime, SHUTDOWN, type ServiceRuntime } from './runtime.js';
export { loadCatalog, loadHoldersConfig } from './catalog.js';
export { runMain } from './main.js';
