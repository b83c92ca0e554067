export const SECTIONS = ['bus', 'offered', 'pipeline', 'recorder', 'profile'] as const;
export type Section = (typeof SECTIONS)[number];
/** What `npm run bench` runs without `--only`. Opt-in: `profile` reruns the pipeline under the CPU profiler (a pipeline run's time more). */
export const DEFAULT_SECTIONS: readonly Section[] = ['bus', 'offered', 'recorder', 'pipeline'];

export interface BenchArgs {
  zones: number;
  only: Section[];
  quick: boolean;
  /** Extra environment for every service of the pipeline stack (`--env KEY=VALUE`, repeatable). */
  env: Record<string, string>;
  /** Events pre-filled for the bus hop. */
  busEvents: number;
  /** Rotations generated for the recorder section. */
  recorderRotations: number;
  /** Seconds of offered load at `offeredRate` events/s. */
  offeredSeconds: number;
  offeredRate: number;
  /** How long the pipeline may take before the harness gives up and reports what it has. */
  pipelineTimeoutS: number;
}

const usage = `usage: npm run bench -- [--zones N] [--only ${SECTIONS.join('|')}[,…]] [--quick] [--env KEY=VALUE]…
  --zones N        zone-signing-key rotations in the pipeline section (default 2000; 200 with --quick)
  --only S         run only these sections (comma-separated or repeated); default: ${DEFAULT_SECTIONS.join(', ')}
                   opt-in: 'profile' reruns the pipeline with every process under the CPU profiler and summarises the profiles
  --quick          small sizes everywhere (a smoke run of about a minute)
  --timeout S      how long the pipeline may run before the harness reports what it has (default 420 s; 180 s with --quick)
  --env KEY=VALUE  extra environment for every service of the pipeline stack (e.g. --env RETIREMENT_TICK_MS=200)`;

export function parseArgs(argv: readonly string[]): BenchArgs {
  let zones: number | undefined;
  let timeoutS: number | undefined;
  const only: Section[] = [];
  let quick = false;
  const env: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') && arg.startsWith('--') && !arg.startsWith('--env=') ? (arg.split(/=(.*)/s) as [string, string]) : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${usage}`);
      return v;
    };
    switch (flag) {
      case '--zones': {
        zones = Number(value());
        if (!Number.isInteger(zones) || zones < 1) throw new Error(`--zones must be a positive integer\n${usage}`);
        break;
      }
      case '--timeout': {
        timeoutS = Number(value());
        if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new Error(`--timeout takes a number of seconds\n${usage}`);
        break;
      }
      case '--only':
        for (const s of value().split(',')) {
          if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`unknown section ${s}\n${usage}`);
          only.push(s as Section);
        }
        break;
      case '--quick':
        quick = true;
        break;
      case '--env':
      case '--env=': {
        const kv = arg.startsWith('--env=') ? arg.slice(6) : value();
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new Error(`--env needs KEY=VALUE\n${usage}`);
        env[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      case '--help':
      case '-h':
        process.stdout.write(`${usage}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${arg}\n${usage}`);
    }
  }
  return {
    zones: zones ?? (quick ? 200 : 2000),
    only: only.length > 0 ? [...new Set(only)] : [...DEFAULT_SECTIONS],
    quick,
    env,
    busEvents: quick ? 5_000 : 20_000,
    recorderRotations: quick ? 100 : 400,
    offeredSeconds: quick ? 4 : 10,
    offeredRate: 500,
    pipelineTimeoutS: timeoutS ?? (quick ? 180 : 420),
  };
}
