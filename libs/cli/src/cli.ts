import { runDemo } from './commands/demo.js';
import { UsageError } from './environment.js';
import { createOutput } from './output.js';

const HELP = `caracal-rotate: rotate Caracal's keys and secrets through the rotation pipeline

Usage:
  caracal-rotate demo              start the sandbox fleet and the five services, rotate
                                   every demo material end to end, print the recorded history

Environment:
  REDIS_URL             Redis of the rotation streams (default redis://127.0.0.1:6379)
  DATABASE_URL          Postgres of the projection, created if missing
                        (default postgres://postgres@127.0.0.1:5432/caracal_rotation)
  CARACAL_SECRETS_DIR   secrets directory (default $CARACAL_HOME/secrets, else
                        $XDG_DATA_HOME/caracal/secrets, else ~/.local/share/caracal/secrets)
  CARACAL_CATALOG       catalog override file (JSON)

Exit codes:
  0 success   1 a rotation failed or was rejected   2 usage error   69 Redis or Postgres unavailable
`;

export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const json = rest.includes('--json');
  const out = createOutput(json);
  try {
    switch (command) {
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(HELP);
        return 0;
      case 'demo':
        return await runDemo(out);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}; see caracal-rotate --help`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      out.error(err.message);
      return err.exitCode;
    }
    throw err;
  }
}
