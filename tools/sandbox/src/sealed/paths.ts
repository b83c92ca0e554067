import { sandboxProgram } from '../programs.js';

/** The API's sealed-secret endpoints (Bearer CARACAL_ADMIN_TOKEN; the STS serves the check with STS_ADMIN_TOKEN). */
export const SEALED_PATH = '/internal/sealed';
export const SEALED_CHECK_PATH = '/internal/sealed/check';
export const SEALED_RESEAL_PATH = '/internal/sealed/reseal';

/** The standalone re-seal job, compiled. */
export const resealProgram = (): string => sandboxProgram('reseal');
