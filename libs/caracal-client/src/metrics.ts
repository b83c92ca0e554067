import { caracalRequest, unexpectedAnswer } from './http.js';

export type Counters = ReadonlyMap<string, number>;

/**
 * The counters and gauges of one Caracal service process, from `GET /metrics`
 * with METRICS_BEARER (services/gateway/internal/server.go handleMetrics,
 * services/audit/internal/server.go, services/sts/internal/server.go; the
 * text is packages/core/go/metrics Render: `name value` lines). The values
 * are the process's own: read them per replica.
 */
export async function readMetrics(baseUrl: string, bearer: string, opts: { signal?: AbortSignal } = {}): Promise<Counters> {
  const res = await caracalRequest('metrics', { baseUrl, headers: { authorization: `Bearer ${bearer}` }, signal: opts.signal });
  if (res.status === 401) throw new Error(`${baseUrl}/metrics refused the metrics bearer (401): is METRICS_BEARER the holders file's metrics_bearer_file?`);
  if (res.status !== 200) throw unexpectedAnswer('metrics', res);
  return parsePrometheusText(res.text);
}

/** `name value` and `name{labels} value` lines; comments skipped. A labelled sample keeps its labels in the name. */
export function parsePrometheusText(text: string): Counters {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    if (at <= 0) continue;
    const value = Number(line.slice(at + 1));
    if (Number.isFinite(value)) out.set(line.slice(0, at), value);
  }
  return out;
}

/** A counter's value, or an error naming the counter a service did not report. */
export function counterOf(counters: Counters, name: string): number {
  const value = counters.get(name);
  if (value === undefined) throw new Error(`the service reports no ${name}`);
  return value;
}
