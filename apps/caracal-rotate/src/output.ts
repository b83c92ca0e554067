/**
 * Where a command writes: human lines and tables, or one JSON document with
 * --json. With --json, stdout carries only the command's result document and
 * every error goes to stderr as one JSON line `{"error": …, "code": <exit code>}`,
 * so a script can parse stdout without filtering.
 */
export interface Output {
  readonly json: boolean;
  line(text: string): void;
  table(headers: string[], rows: string[][]): void;
  result(value: unknown): void;
  error(text: string, code?: number): void;
}

/** `rotationId` → `rotation_id`: the wire contract's casing. Keys already snake (or UPPER_SNAKE) stay. */
const snake = (key: string): string => (/^[a-z][a-zA-Z0-9]*$/.test(key) ? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : key);

/**
 * The JSON document in one casing. The projection's read side speaks
 * camelCase inside the code; what a script reads is snake_case everywhere,
 * like the events themselves.
 */
export function snakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [snake(k), snakeKeys(v)]));
}

export function createOutput(json: boolean, stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): Output {
  return {
    json,
    line(text) {
      if (!json) stdout.write(`${text}\n`);
    },
    table(headers, rows) {
      if (json) return;
      const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
      const fmt = (cells: string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd();
      stdout.write(`${fmt(headers)}\n${fmt(widths.map((w) => '-'.repeat(w)))}\n`);
      for (const row of rows) stdout.write(`${fmt(row)}\n`);
    },
    result(value) {
      if (json) stdout.write(`${JSON.stringify(snakeKeys(value), null, 2)}\n`);
    },
    error(text, code = 1) {
      if (json) stderr.write(`${JSON.stringify({ error: text, code })}\n`);
      else stderr.write(`caracal-rotate: ${text}\n`);
    },
  };
}
