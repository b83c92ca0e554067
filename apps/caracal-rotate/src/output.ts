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
      if (json) stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    error(text, code = 1) {
      if (json) stderr.write(`${JSON.stringify({ error: text, code })}\n`);
      else stderr.write(`caracal-rotate: ${text}\n`);
    },
  };
}
