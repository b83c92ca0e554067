/**
 * One sandbox fleet member as its own process:
 *   node tools/sandbox/dist/member.js <api|sts|gateway|audit|coordinator|console>
 * Configured by environment (see src/member/config.ts). Exits on SIGTERM/SIGINT
 * within a second, as the roller expects of a restartable holder.
 */
import { memberConfigFromEnv } from '../member/config.js';
import { startMember } from '../member/run.js';

const SHUTDOWN_DEADLINE_MS = 900;

function fail(message: string): never {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: message })}\n`);
  process.exit(1);
}

let config;
try {
  config = memberConfigFromEnv(process.argv[2], process.env);
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}

const member = await startMember(config, process.env).catch((err: unknown) => fail(`member failed to start: ${err instanceof Error ? err.message : String(err)}`));

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), SHUTDOWN_DEADLINE_MS).unref();
  member.close().then(
    () => process.exit(0),
    () => process.exit(0),
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

// Under the fleet supervisor, a member must not outlive it (a crashed test
// run would otherwise leave consumers reading Redis): reparenting means the
// supervisor is gone.
if (process.env.SANDBOX_EXIT_WITH_PARENT === '1') {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown();
  }, 1000).unref();
}
