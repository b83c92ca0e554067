#!/usr/bin/env node
import path from 'node:path';
import { parseArgs } from 'node:util';
import { up } from '../up/up.js';

/**
 * caracal-sandbox up --home DIR [--secrets-dir DIR] --run-dir DIR [--zones N] [--json]
 *
 * Runs a replica of a `caracal up` deployment in the foreground until SIGINT
 * or SIGTERM, then stops everything it started and exits 0. When ready it
 * prints, with --json, one JSON line `{"state":"ready",…}` on stdout (without, a
 * summary for people); progress goes to stderr.
 */
const USAGE = 'usage: caracal-sandbox up --home DIR [--secrets-dir DIR] --run-dir DIR [--zones N] [--json]';

function fail(message: string): never {
  process.stderr.write(`caracal-sandbox: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command !== 'up') fail(command ? `unknown command ${command}` : 'a command is required');
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { home: { type: 'string' }, 'secrets-dir': { type: 'string' }, 'run-dir': { type: 'string' }, zones: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (!values.home) fail('--home is required');
  if (!values['run-dir']) fail('--run-dir is required');
  const zones = Number(values.zones);
  if (!Number.isInteger(zones) || zones < 0 || zones > 100_000) fail('--zones must be a whole number from 0 to 100000');
  const home = path.resolve(values.home);
  const secretsDir = path.resolve(values['secrets-dir'] ?? path.join(home, 'secrets'));
  const progress = (line: string) => process.stderr.write(`caracal-sandbox: ${line}\n`);

  let stopRequested: () => void = () => undefined;
  const stopSignal = new Promise<void>((resolve) => (stopRequested = resolve));
  process.on('SIGINT', () => stopRequested());
  process.on('SIGTERM', () => stopRequested());

  let sandbox: Awaited<ReturnType<typeof up>>;
  try {
    sandbox = await up({ home, secretsDir, runDir: path.resolve(values['run-dir']), zones, progress });
  } catch (err) {
    process.stderr.write(`caracal-sandbox: start failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  const { ready } = sandbox;
  if (values.json) {
    process.stdout.write(`${JSON.stringify(ready)}\n`);
  } else {
    const lines = [
      'caracal sandbox ready',
      ...Object.entries(ready.services).map(([name, base]) => `  ${name.padEnd(12)}${base}`),
      `  secrets     ${ready.secrets_dir}`,
      `  holders     ${ready.holders}`,
      `  docker      unix://${ready.docker_socket}`,
      `  zones       ${ready.zones.join(', ') || 'none'}`,
      'stop with Ctrl-C',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  // A signal during start-up is honoured as soon as the sandbox is up.
  await stopSignal;
  progress('stopping');
  await sandbox.stop();
  progress('stopped');
  process.exit(0);
}

void main();
