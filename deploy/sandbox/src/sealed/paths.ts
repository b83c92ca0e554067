import { fileURLToPath } from 'node:url';

/** The API's sealed-secret endpoints (Bearer CARACAL_ADMIN_TOKEN; the STS serves the check with STS_ADMIN_TOKEN). */
export const SEALED_PATH = '/internal/sealed';
export const SEALED_CHECK_PATH = '/internal/sealed/check';
export const SEALED_RESEAL_PATH = '/internal/sealed/reseal';

/** The standalone re-seal job; run it with `node --import tsx`. */
export const RESEAL_BIN = fileURLToPath(new URL('../bin/reseal.ts', import.meta.url));
