import { parser as promql } from '@prometheus-io/lezer-promql';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SERVICES, repoFile } from './support.js';

// The alert rules as operators meet them: every rule leads to a runbook that exists, every
// service is watched, the two rule files agree, and every metric a rule or a panel reads is
// documented.

interface AlertRule {
  alert: string;
  expr: string;
  labels: { severity?: string };
  annotations: { runbook_url?: string; summary?: string };
}

interface Group {
  name: string;
  rules: AlertRule[];
}

const OPERATIONS = 'docs/operations.md';
const { groups } = parse(repoFile('deploy/prometheus/alerts.yaml')) as { groups: Group[] };
const rules = groups.flatMap((g) => g.rules);
const docs = repoFile(OPERATIONS);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const [, heading] of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    out.add(
      heading!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    );
  }
  return out;
}

/** Every metric name an expression reads: `caracal_rotation_*` families and Prometheus's `up`. */
function metricsOf(expr: string): string[] {
  const names = [...expr.matchAll(/\bcaracal_rotation_[a-z_]+/g)].map(([n]) => n.replace(/_(bucket|sum|count)$/, ''));
  if (/\bup\{/.test(expr)) names.push('up');
  return names;
}

describe('deploy/prometheus', () => {
  it('has rules whose PromQL parses', () => {
    for (const r of rules) {
      const errors: number[] = [];
      promql.parse(r.expr).iterate({ enter: (node) => void (node.type.isError && errors.push(node.from)) });
      expect(errors, `${r.alert}: ${r.expr}`).toEqual([]);
    }
    const broken: number[] = [];
    promql.parse('absent(up{job="x"} == ').iterate({ enter: (node) => void (node.type.isError && broken.push(node.from)) });
    expect(broken).not.toEqual([]);
  });

  it('links every rule to a section of docs/operations.md that exists', () => {
    const known = anchors(docs);
    for (const r of rules) {
      const url = r.annotations.runbook_url ?? '';
      expect(url, r.alert).toMatch(new RegExp(`^${OPERATIONS.replace('.', '\\.')}#[a-z0-9-]+$`));
      expect(known.has(url.split('#')[1]!), `${r.alert}: ${url}`).toBe(true);
    }
  });

  it('links only to sections that exist, across docs/operations.md', () => {
    const known = anchors(docs);
    const links = [...docs.matchAll(/\]\(#([^)]+)\)/g)].map(([, a]) => a!);
    expect(links.length).toBeGreaterThan(10);
    expect(links.filter((a) => !known.has(a))).toEqual([]);
  });

  it('watches every service: one replica down, and no replica at all', () => {
    const jobs = SERVICES.map((s) => `caracal-rotation-${s}`);
    const down = rules.filter((r) => /\bup\{job=~"caracal-rotation-\(([a-z|-]+)\)"\} == 0$/.test(r.expr));
    expect(down).toHaveLength(1);
    const covered = /\(([a-z|-]+)\)/.exec(down[0]!.expr)![1]!.split('|').map((s) => `caracal-rotation-${s}`);
    expect(covered.sort()).toEqual([...jobs].sort());
    for (const job of jobs) {
      const absent = rules.filter((r) => r.expr === `absent(up{job="${job}"} == 1)`);
      expect(absent, job).toHaveLength(1);
      expect(absent[0]!.labels.severity, job).toBe('critical');
    }
    // The jobs the rules name are the ones the docs' scrape config gives (compose) and the
    // ServiceMonitor makes of the Services (Kubernetes; see kubernetes.test.ts).
    for (const job of jobs) expect(docs, job).toContain(`job_name: ${job}`);
  });

  it('keeps the PrometheusRule identical to alerts.yaml', () => {
    const rule = parse(repoFile('deploy/prometheus/prometheusrule.yaml')) as { kind: string; spec: { groups: Group[] } };
    expect(rule.kind).toBe('PrometheusRule');
    expect(rule.spec.groups).toEqual(groups);
  });

  it('documents every metric that a rule or a dashboard panel reads, in the metrics table', () => {
    const dashboard = JSON.parse(repoFile('deploy/grafana/rotation-dashboard.json')) as { panels: { targets?: { expr?: string }[] }[] };
    const exprs = [...rules.map((r) => r.expr), ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''))];
    const used = new Set(exprs.flatMap(metricsOf));
    expect(used.size).toBeGreaterThan(10);
    const documented = new Set([...docs.matchAll(/^\| `([a-z_]+)` \| (counter|gauge|histogram) \|/gm)].map(([, name]) => name!));
    expect([...used].filter((m) => !documented.has(m))).toEqual([]);
  });
});
