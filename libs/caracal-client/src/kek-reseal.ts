import { spawn } from 'node:child_process';
import { noteCaracalRequest } from './observe.js';

/** What Caracal's re-seal job printed (apps/api/scripts/rotate-secret-store-kek.mjs). */
export interface ResealReport {
  /** `<label>: N rows examined`, one per sealed column. */
  tables: { label: string; examined: number }[];
  examined: number;
  resealed: number;
  alreadyCurrent: number;
  rewrittenByLive: number;
  failed: number;
}

const SUMMARY = /^re-seal complete: (\d+) resealed, (\d+) already current, (\d+) rewritten by live services, (\d+) failed$/;
const EXAMINED = /^(.+): (\d+) rows examined$/;

/** Parses the job's stdout; undefined when the summary line is missing (the job did not finish). */
export function parseResealOutput(stdout: string): ResealReport | undefined {
  const tables: ResealReport['tables'] = [];
  let summary: RegExpExecArray | null = null;
  for (const line of stdout.split('\n').map((l) => l.trim())) {
    const examined = EXAMINED.exec(line);
    if (examined) tables.push({ label: examined[1]!, examined: Number(examined[2]) });
    summary ??= SUMMARY.exec(line);
  }
  if (!summary) return undefined;
  return {
    tables,
    examined: tables.reduce((n, t) => n + t.examined, 0),
    resealed: Number(summary[1]),
    alreadyCurrent: Number(summary[2]),
    rewrittenByLive: Number(summary[3]),
    failed: Number(summary[4]),
  };
}

export interface ResealJob {
  /** argv, run without a shell. */
  command: readonly string[];
  /** The job's whole environment. */
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** A run killed by a signal is run again (the job is idempotent), up to this many runs. */
  attempts: number;
  signal?: AbortSignal;
}

export interface ResealOutcome {
  /** One line per run: `exit 0`, `killed by SIGKILL`, `timed out`. */
  runs: string[];
  /** The exit code of the last run; null when no run exited on its own. */
  exitCode: number | null;
  report: ResealReport | undefined;
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
}

function runOnce(job: ResealJob): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = job.command;
    const child = spawn(file!, args, { env: job.env, stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      // The summary is the last line; the per-row lines before it are bounded by the tables.
      stdout = `${stdout}${chunk}`.slice(-1_000_000);
    });
    const kill = () => child.kill('SIGKILL');
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, job.timeoutMs);
    job.signal?.addEventListener('abort', kill, { once: true });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`the re-seal job could not start (${(err as NodeJS.ErrnoException).code ?? 'error'}): is kek_reseal.command right?`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      job.signal?.removeEventListener('abort', kill);
      resolve({ code, signal, timedOut, stdout });
    });
  });
}

/**
 * Runs Caracal's KEK re-seal job (apps/api/scripts/rotate-secret-store-kek.mjs).
 * It is idempotent and compare-and-swap per row, so a run killed by a
 * signal (an OOM kill, a node drain) is simply run again; a run that exits is
 * final. Its stderr is not read: it names rows, and the caller reports
 * counts only.
 */
export async function runKekReseal(job: ResealJob): Promise<ResealOutcome> {
  noteCaracalRequest('kekReseal');
  const runs: string[] = [];
  for (let attempt = 1; attempt <= job.attempts; attempt++) {
    const run = await runOnce(job);
    if (run.timedOut) {
      runs.push(`timed out after ${job.timeoutMs} ms`);
      return { runs, exitCode: null, report: undefined };
    }
    if (job.signal?.aborted) {
      runs.push('stopped: the check ran out of time');
      return { runs, exitCode: null, report: undefined };
    }
    if (run.signal) {
      runs.push(`killed by ${run.signal}`);
      continue;
    }
    runs.push(`exit ${run.code}`);
    return { runs, exitCode: run.code, report: parseResealOutput(run.stdout) };
  }
  return { runs, exitCode: null, report: undefined };
}
