/**
 * packages/core/go/metrics Render: the hand-rendered Prometheus text the Go
 * services answer /metrics with (no labels in the samples the replicas keep).
 */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface Sample {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  value: number;
}

/** strconv.FormatFloat(v, 'f', -1, 64): shortest form, never an exponent. */
function formatFloat(v: number): string {
  if (Number.isInteger(v)) return BigInt(v).toString();
  const s = String(v);
  if (!/e/i.test(s)) return s;
  return v.toFixed(20).replace(/0+$/, '');
}

export function renderMetrics(samples: readonly Sample[]): string {
  let out = '';
  for (const s of samples) {
    const help = s.help.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
    out += `# HELP ${s.name} ${help}\n# TYPE ${s.name} ${s.type}\n${s.name} ${formatFloat(s.value)}\n`;
  }
  return out;
}

/** A counter or gauge: one sample line of the render. */
export const counter = (name: string, help: string, value: number): Sample => ({ name, help, type: 'counter', value });
export const gauge = (name: string, help: string, value: number): Sample => ({ name, help, type: 'gauge', value });
