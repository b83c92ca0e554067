import { readFileSync } from 'node:fs';
import type { ConfigIssue } from './errors.js';

export type Env = Record<string, string | undefined>;

export interface ResolvedEnv {
  /** The value of each requested variable, from NAME or NAME_FILE; unset or empty ones are absent. */
  values: Record<string, string>;
  issues: ConfigIssue[];
}

function isSet(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

function readValueFile(path: string): string {
  return readFileSync(path, 'utf8').replace(/(\r?\n)+$/, '');
}

/**
 * Resolves each variable from `NAME`, or from the contents of the file named by
 * `NAME_FILE` (trailing newlines stripped), as Caracal's services do. Setting
 * both is an error. An empty value counts as unset.
 */
export function resolveFileEnv(names: Iterable<string>, env: Env): ResolvedEnv {
  const values: Record<string, string> = {};
  const issues: ConfigIssue[] = [];
  for (const name of names) {
    const direct = env[name];
    const filePath = env[`${name}_FILE`];
    if (isSet(direct) && isSet(filePath)) {
      issues.push({ variable: name, problem: `both ${name} and ${name}_FILE are set; set only one` });
    } else if (isSet(filePath)) {
      try {
        values[name] = readValueFile(filePath);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
        issues.push({ variable: `${name}_FILE`, problem: `cannot read the file it names (${code})` });
      }
    } else if (isSet(direct)) {
      values[name] = direct;
    }
  }
  return { values, issues };
}
