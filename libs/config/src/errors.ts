/** One problem with one environment variable. Never carries the variable's value. */
export interface ConfigIssue {
  variable: string;
  problem: string;
}

/**
 * Thrown by `loadConfig` when the environment does not satisfy a schema. The
 * message lists every bad variable at once, one per line, by name and problem
 * only: values may be secrets, so they never appear.
 */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    const lines = issues.map((i) => `  ${i.variable}: ${i.problem}`);
    super([`Invalid configuration (${count}):`, ...lines].join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
