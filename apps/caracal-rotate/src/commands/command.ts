import type { ParseArgsConfig } from 'node:util';
import { EXIT, UsageError, type CliEnvironment } from '../environment.js';
import type { Output } from '../output.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CommandContext {
  out: Output;
  env: CliEnvironment;
  values: Values;
  positionals: string[];
}

/** One subcommand: its contract (name, flags, help) next to what it does. */
export interface Command {
  name: string;
  /** One line for `caracal-rotate --help`. */
  summary: string;
  /** The synopsis, e.g. `request <MATERIAL> --reason TEXT [...]`. */
  usage: string;
  /** Options, behaviour and examples for `caracal-rotate <command> --help`. */
  details: string;
  options: OptionSpec;
  /** Names of the positional arguments; the first `required` of them must be given. */
  positionals: string[];
  required: number;
  run(ctx: CommandContext): Promise<number>;
}

export const str = (values: Values, name: string): string | undefined => {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
};

export const strs = (values: Values, name: string): string[] => {
  const v = values[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
};

export const flag = (values: Values, name: string): boolean => values[name] === true;

/** A positive number of seconds from a flag, in milliseconds; usage error otherwise. */
export function secondsFlag(values: Values, name: string, fallbackSeconds: number): number {
  const raw = str(values, name);
  if (raw === undefined) return fallbackSeconds * 1000;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} takes a positive number of seconds, not ${JSON.stringify(raw)}`, EXIT.usage);
  return n * 1000;
}

/** Options every rotation-selecting command shares (request and plan). */
export const SELECTOR_OPTIONS: OptionSpec = {
  zone: { type: 'string', multiple: true },
  role: { type: 'string' },
  reason: { type: 'string' },
  ticket: { type: 'string' },
  emergency: { type: 'boolean' },
};
