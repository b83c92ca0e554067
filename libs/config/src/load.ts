import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from './errors.js';
import { resolveFileEnv, type Env } from './file-env.js';

/** Shortest value that is masked if a problem text ever quotes it. */
const MIN_MASKED_LENGTH = 8;

function problemOf(issue: z.core.$ZodIssue, value: string | undefined): string {
  if (value === undefined && issue.code === 'invalid_type') return 'is required but not set';
  const problem = issue.message;
  // Defence in depth: messages are written not to quote values, but a custom
  // schema's message might; a secret must never reach an error message or log.
  if (value !== undefined && value.length >= MIN_MASKED_LENGTH && problem.includes(value)) {
    return problem.split(value).join('[redacted]');
  }
  return problem;
}

/**
 * Reads the variables named by the schema's keys from `env` (each also from
 * `NAME_FILE`), validates them, and returns the typed configuration. Throws one
 * `ConfigError` listing every bad variable.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, env: Env = process.env): z.infer<S> {
  const names = Object.keys(schema.shape);
  const { values, issues } = resolveFileEnv(names, env);
  const fileProblems = new Set(issues.map((i) => i.variable.replace(/_FILE$/, '')));

  const result = schema.safeParse(values);
  const all: ConfigIssue[] = [...issues];
  if (!result.success) {
    for (const issue of result.error.issues) {
      const variable = issue.path.length > 0 ? issue.path.map(String).join('.') : '(configuration)';
      const name = String(issue.path[0] ?? '');
      if (fileProblems.has(name)) continue;
      all.push({ variable, problem: problemOf(issue, values[name]) });
    }
  }
  if (all.length > 0 || !result.success) throw new ConfigError(all);
  return result.data;
}
