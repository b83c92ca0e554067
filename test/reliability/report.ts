import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { knobs, PROFILE } from './profile.js';

/**
 * The reliability report. Each scenario opens a section, records what it
 * tried and what it saw (figures, tables, notes) and writes it when it ends;
 * every write regenerates test/reliability/REPORT.md from the sections of the
 * current run. Test files run in separate worker processes, so each section
 * is kept as a JSON file under .runs/<run>/sections and the report is rebuilt
 * from all of them under a lock.
 */

const HERE = import.meta.dirname;
export const REPORT_PATH = join(HERE, 'REPORT.md');
export const RUNS_DIR = join(HERE, '.runs');

/** The scenarios of the suite, in report order. */
export const SCENARIOS = [
  { id: 'crashes', title: '1. Crashes: SIGKILL of random service processes during many rotations' },
  { id: 'postgres-outage', title: '2. Projection Postgres outage' },
  { id: 'redis-restart', title: '3. Bus Redis restart' },
  { id: 'hostile-input', title: '4. Hostile input' },
  { id: 'secret-hygiene', title: '5. Secret hygiene' },
  { id: 'self-rotation', title: '6. Self-rotation: STREAMS_HMAC_KEY and ROTATION_BUS_KEY with other rotations in flight' },
  { id: 'caracal-outages', title: "7. Caracal's Postgres down during a POSTGRES_PASSWORD deploy, its STS down during a zone batch" },
  { id: 'foreign-signer', title: "8. Rotation events signed with Caracal's STREAMS_HMAC_KEY" },
  { id: 'replay', title: '9. Replay of a completed rotation with the de-duplication marks deleted' },
  { id: 'operator-rights', title: '10. Operator keys without the right' },
  { id: 'abandon', title: '11. Abandoning a queued and a stuck rotation' },
  { id: 'ghost-group', title: '12. A ghost consumer group on a Caracal stream' },
  { id: 'rollback-edge', title: '13. Rollback at the edge of the window, the recorder lagging' },
  { id: 'scale', title: '14. A request for every zone of a 100,000-zone deployment' },
] as const;
export type ScenarioId = (typeof SCENARIOS)[number]['id'];

type Cell = string | number | boolean | null | undefined;

interface Table {
  title: string;
  headers: string[];
  rows: Cell[][];
}

interface SectionData {
  id: ScenarioId;
  title: string;
  status: 'passed' | 'failed';
  error?: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  tried: string[];
  figures: [string, Cell][];
  tables: Table[];
  notes: string[];
  findings: string[];
}

/**
 * Identifies this vitest run: every worker is a child of the same vitest
 * process, so its pid and start time name the run.
 */
function runKey(): string {
  const ppid = process.ppid;
  try {
    const fields = readFileSync(`/proc/${ppid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return `${ppid}-${fields[19]}`;
  } catch {
    return `${ppid}`;
  }
}
export const RUN_KEY = runKey();
export const RUN_DIR = join(RUNS_DIR, RUN_KEY);

export class Section {
  private readonly started = Date.now();
  private readonly data: Omit<SectionData, 'status' | 'endedAt' | 'durationMs'> & { status?: 'failed'; error?: string };

  constructor(id: ScenarioId) {
    const scenario = SCENARIOS.find((s) => s.id === id)!;
    this.data = { id, title: scenario.title, startedAt: new Date().toISOString(), tried: [], figures: [], tables: [], notes: [], findings: [] };
  }

  /** What the scenario does, one step per call. */
  tried(text: string): this {
    this.data.tried.push(text);
    return this;
  }

  /** One figure; recording the same label again replaces it. */
  figure(label: string, value: Cell): this {
    const at = this.data.figures.findIndex(([l]) => l === label);
    if (at >= 0) this.data.figures[at] = [label, value];
    else this.data.figures.push([label, value]);
    return this;
  }

  table(title: string, headers: string[], rows: Cell[][]): this {
    this.data.tables = this.data.tables.filter((t) => t.title !== title);
    this.data.tables.push({ title, headers, rows });
    return this;
  }

  note(text: string): this {
    this.data.notes.push(text);
    return this;
  }

  /** Something the scenario found that looks wrong or is worth a maintainer's look. */
  finding(text: string): this {
    if (!this.data.findings.includes(text)) this.data.findings.push(text);
    return this;
  }

  /** Runs a test body; a failure is recorded in the section (and rethrown). */
  async run<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      this.fail(err);
      throw err;
    }
  }

  fail(err: unknown): this {
    const text = err instanceof Error ? `${err.message}` : String(err);
    this.data.status = 'failed';
    this.data.error = [this.data.error, text.slice(0, 3000)].filter(Boolean).join('\n\n');
    return this;
  }

  get failed(): boolean {
    return this.data.status === 'failed';
  }

  /** Stores the section and regenerates REPORT.md. */
  async write(): Promise<void> {
    const ended = Date.now();
    const data: SectionData = {
      ...this.data,
      status: this.data.status ?? 'passed',
      endedAt: new Date(ended).toISOString(),
      durationMs: ended - this.started,
    };
    const dir = join(RUN_DIR, 'sections');
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${data.id}.json`);
    await writeFile(`${file}.tmp`, JSON.stringify(data, null, 2));
    await rename(`${file}.tmp`, file);
    await withLock(regenerate);
  }
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = join(RUNS_DIR, '.report.lock');
  await mkdir(RUNS_DIR, { recursive: true });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > 60_000 || Date.now() > deadline) await rmdir(lock).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    await rmdir(lock).catch(() => undefined);
  }
}

const fmt = (v: Cell): string => (v === null || v === undefined ? '—' : typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v)).replace(/\|/g, '\\|').replace(/\n/g, ' ');
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function regenerate(): Promise<void> {
  const dir = join(RUN_DIR, 'sections');
  const sections: SectionData[] = [];
  for (const f of (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json'))) {
    sections.push(JSON.parse(await readFile(join(dir, f), 'utf8')) as SectionData);
  }
  const order = (id: string) => SCENARIOS.findIndex((s) => s.id === id);
  sections.sort((a, b) => order(a.id) - order(b.id));
  const first = Math.min(...sections.map((s) => Date.parse(s.startedAt)));
  const last = Math.max(...sections.map((s) => Date.parse(s.endedAt)));

  const out: string[] = [];
  out.push('# Reliability and security report', '');
  out.push('_Generated by the reliability suite (`test/reliability/`) on every run; do not edit by hand._', '');
  out.push(`- Run: ${new Date(last).toISOString()} (${PROFILE.name} profile${PROFILE.name === 'ci' ? ', part of `npm test`' : ', `npm run test:reliability`'})`);
  out.push(`- Machine: ${cpus().length} CPU cores, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`);
  out.push(
    "- Every scenario runs the orchestrator's five services as separate processes, two replicas of each, against a sandbox replica of Caracal (its own Redis, PostgreSQL and services behind a Docker Engine API socket), on real Redis and PostgreSQL.",
  );
  out.push(
    `- Wall time of the scenarios in this run: ${seconds(last - first)}, first start to last end (the sum of the scenario times is ${seconds(sections.reduce((n, s) => n + s.durationMs, 0))}: test files run side by side, and scenarios sharing a file share its time).`,
  );
  out.push('');
  out.push('| scenario | result | duration |', '|---|---|---|');
  for (const s of SCENARIOS) {
    const got = sections.find((x) => x.id === s.id);
    out.push(`| ${s.title} | ${got ? (got.status === 'passed' ? 'passed' : '**FAILED**') : 'not run in this run'} | ${got ? seconds(got.durationMs) : '—'} |`);
  }
  out.push('');
  const findings = sections.flatMap((s) => s.findings.map((f) => `- (${s.title.split('.')[0]}) ${f}`));
  if (findings.length > 0) out.push('## Findings', '', ...findings, '');

  for (const s of sections) {
    out.push(`## ${s.title}`, '');
    out.push(`Result: ${s.status === 'passed' ? 'passed' : '**FAILED**'} in ${seconds(s.durationMs)} (started ${s.startedAt}).`, '');
    if (s.error) out.push('```', s.error, '```', '');
    if (s.tried.length > 0) out.push('What it tried:', '', ...s.tried.map((t) => `- ${t}`), '');
    if (s.figures.length > 0) {
      out.push('What it saw:', '', '| figure | value |', '|---|---|');
      for (const [label, value] of s.figures) out.push(`| ${fmt(label)} | ${fmt(value)} |`);
      out.push('');
    }
    for (const t of s.tables) {
      out.push(`${t.title}:`, '', `| ${t.headers.map(fmt).join(' | ')} |`, `|${t.headers.map(() => '---').join('|')}|`);
      for (const row of t.rows) out.push(`| ${row.map(fmt).join(' | ')} |`);
      out.push('');
    }
    if (s.notes.length > 0) out.push('Notes:', '', ...s.notes.map((n) => `- ${n}`), '');
    if (s.findings.length > 0) out.push('Findings:', '', ...s.findings.map((n) => `- ${n}`), '');
  }

  out.push('## Knobs', '', '| variable | value | meaning |', '|---|---|---|');
  for (const k of knobs()) out.push(`| ${k.name} | ${k.value} | ${k.doc} |`);
  out.push('', '`npm run test:reliability` runs the release profile (`RELIABILITY_PROFILE=release`); any variable above overrides its default.', '');

  await writeFile(`${REPORT_PATH}.tmp-${process.pid}`, out.join('\n'));
  await rename(`${REPORT_PATH}.tmp-${process.pid}`, REPORT_PATH);
  await pruneOldRuns();
}

/** Run directories of earlier runs (sections and any logs kept from failures) older than a day. */
async function pruneOldRuns(): Promise<void> {
  for (const name of await readdir(RUNS_DIR).catch(() => [] as string[])) {
    if (name === RUN_KEY || name.startsWith('.')) continue;
    const age = await stat(join(RUNS_DIR, name)).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > 24 * 3600_000) await rm(join(RUNS_DIR, name), { recursive: true, force: true });
  }
}
