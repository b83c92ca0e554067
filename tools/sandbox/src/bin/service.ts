import { runApi } from '../api/main.js';
import { runAudit } from '../audit/main.js';
import { runCoordinator } from '../coordinator/main.js';
import { runGateway } from '../gateway/main.js';
import { runSts } from '../sts/main.js';

/**
 * One Caracal service of the sandbox, as its container runs it:
 * `node service.js <api|sts|gateway|audit|coordinator>`, configured only by
 * the environment the compose file gives that service.
 */
const services: Record<string, () => Promise<number>> = { api: runApi, sts: runSts, gateway: runGateway, audit: runAudit, coordinator: runCoordinator };
const name = process.argv[2] ?? '';
const run = services[name];
if (!run) {
  process.stderr.write(`usage: service.js <${Object.keys(services).join('|')}>\n`);
  process.exit(2);
}
run().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // An exception at start-up ends a Node service with status 1, as an uncaught one ends Caracal's.
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
