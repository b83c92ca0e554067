export { createServiceRuntime, SHUTDOWN, BUS_KEY_FILE, CARACAL_STREAMS_KEY_FILE, type ServiceRuntime, type RuntimeOptions } from './runtime.js';
export { loadCatalog, loadHoldersConfig } from './catalog.js';
export { deadLetterEndsRotation } from './dead-letters.js';
export { readKeyringReports, type KeyringReport } from './keyring-report.js';
export { runMain } from './main.js';
export { initRotationDir, defaultOperatorName, RotationDirError, BUS_KEY, OPERATOR_KEY, ZONE_READER_TOKEN, type InitResult } from './rotation-dir.js';
