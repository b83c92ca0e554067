import { parseArgs } from 'node:util';
import { COMMANDS, commandNamed } from './commands/index.js';
import type { Command } from './commands/command.js';
import { describeConfig } from '@caracal-rotation/config';
import { EXIT, UsageError, cliConfigSchema, cliEnvironment } from './environment.js';
import { createOutput } from './output.js';
import pkg from '../package.json' with { type: 'json' };

/** The variables, from the schema that parses them (each also as NAME_FILE). */
function environmentHelp(): string {
  const vars = describeConfig(cliConfigSchema);
  const width = Math.max(...vars.map((v) => v.name.length));
  const lines = vars.map((v) => wrap(`${v.description}${v.default && v.default !== '(empty)' ? ` Default ${v.default}.` : ''}`, 96 - width).map((l, i) => `  ${(i === 0 ? v.name : '').padEnd(width)}  ${l}`).join('\n'));
  return `Environment (each also as NAME_FILE, a file holding the value):\n${lines.join('\n')}`;
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return line ? [...out, line] : out;
}

const EXIT_CODES = `Exit codes:
  0   success
  1   a rotation failed, was rejected, abandoned or dead-lettered, or the command was refused
      (e.g. rollback outside the rollback window, unknown rotation id)
  2   usage or configuration error (unknown command or flag, missing --reason, no secrets directory)
  3   timeout (request --wait, watch)
  69  Redis or PostgreSQL unavailable`;

const JSON_NOTE = `Output: human text by default. With --json (any command) stdout carries exactly one JSON
document, the command's result; errors go to stderr as one line {"error": "...", "code": <exit code>}.`;

function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `caracal-rotate: rotate Caracal's keys and secrets through the rotation pipeline

Usage: caracal-rotate <command> [options] [--json]
       caracal-rotate <command> --help
       caracal-rotate --version

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Examples:
  caracal-rotate up --sandbox
  caracal-rotate plan AUDIT_HMAC_KEY
  caracal-rotate request AUDIT_HMAC_KEY --reason "quarterly rotation" --wait
  caracal-rotate status
  caracal-rotate rollback <ROTATION_ID> --reason "errors after deploy"

${environmentHelp()}

${EXIT_CODES}

${JSON_NOTE}
`;
}

const commandHelp = (c: Command): string => `Usage: caracal-rotate ${c.usage} [--json]

${c.summary}.

${c.details}

Run caracal-rotate --help for the environment variables and exit codes.
`;

/** The command's flags and arguments, or a usage error that points at its help. */
function parse(command: Command, args: string[]) {
  try {
    const { values, positionals } = parseArgs({ args, options: command.options, allowPositionals: true, strict: true });
    if (positionals.length < command.required) {
      throw new UsageError(`${command.name} needs ${command.positionals.slice(0, command.required).join(' ')}`);
    }
    if (positionals.length > command.positionals.length) {
      throw new UsageError(`unexpected argument ${JSON.stringify(positionals[command.positionals.length])}`);
    }
    return { values, positionals };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new UsageError(`${message}; usage: caracal-rotate ${command.usage} (see caracal-rotate ${command.name} --help)`, EXIT.usage);
  }
}

export async function runCli(argv: string[]): Promise<number> {
  // --json is global: accepted anywhere, before or after the command.
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  const out = createOutput(json);
  const [name, ...rest] = args;
  try {
    if (name === '--version' || name === '-V' || name === 'version') {
      out.line(`caracal-rotate ${pkg.version}`);
      out.result({ version: pkg.version });
      return EXIT.ok;
    }
    if (name === undefined || name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
      process.stdout.write(globalHelp());
      return EXIT.ok;
    }
    const command = commandNamed(name === 'help' ? rest[0]! : name);
    if (!command) {
      throw new UsageError(`unknown command ${JSON.stringify(name === 'help' ? rest[0] : name)}; commands: ${COMMANDS.map((c) => c.name).join(', ')} (see caracal-rotate --help)`);
    }
    if (name === 'help' || rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    const { values, positionals } = parse(command, rest);
    return await command.run({ out, env: cliEnvironment(), values, positionals });
  } catch (err) {
    if (err instanceof UsageError) {
      out.error(err.message, err.exitCode);
      return err.exitCode;
    }
    // Anything else is unexpected: say so plainly, without a stack trace.
    out.error(err instanceof Error ? err.message : String(err), EXIT.failed);
    return EXIT.failed;
  }
}
