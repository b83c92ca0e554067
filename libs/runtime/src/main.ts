import { ConfigError } from '@caracal-rotation/config';

/**
 * Runs a service entry point: a configuration error is printed as the list it
 * is and exits 78 (EX_CONFIG) so supervisors do not crash-loop on it; any
 * other start-up failure exits 1.
 */
export function runMain(service: string, start: () => Promise<void>): void {
  start().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${service}: invalid configuration\n${err.message}\n`);
      process.exit(78);
    }
    process.stderr.write(`${service}: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
