import { abandonCommand } from './abandon.js';
import { catalogCommand } from './catalog.js';
import type { Command } from './command.js';
import { completionCommand } from './completion.js';
import { drainCommand } from './drain.js';
import { initCommand } from './init.js';
import { listCommand } from './list.js';
import { planCommand } from './plan.js';
import { requestCommand } from './request.js';
import { rollbackCommand } from './rollback.js';
import { statusCommand } from './status.js';
import { upCommand } from './up.js';
import { watchCommand } from './watch.js';

/** Every subcommand, in the order `--help` lists them (their names and flags are a contract). */
export const COMMANDS: readonly Command[] = [
  initCommand,
  requestCommand,
  planCommand,
  statusCommand,
  watchCommand,
  listCommand,
  rollbackCommand,
  abandonCommand,
  catalogCommand,
  drainCommand,
  upCommand,
  completionCommand(() => COMMANDS),
];

export const commandNamed = (name: string): Command | undefined => COMMANDS.find((c) => c.name === name);
