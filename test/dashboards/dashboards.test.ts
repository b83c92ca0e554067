import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { migrate } from '@caracal-rotation/projection';
import { dropSchema, testSchemaUrl } from '@caracal-rotation/testing';
import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startE2E, type E2E } from '../support/e2e-stack.js';

// The Grafana dashboard and the Prometheus alert rules are checked against
// the real thing: their PromQL must parse and name only metrics that the
// running services export on /metrics, and their SQL must run on the real
// projection schema.

const REPO = join(import.meta.dirname, '..', '..');
const DASHBOARD_PATH = join(REPO, 'deploy', 'grafana', 'rotation-dashboard.json');
const ALERTS_PATH = join(REPO, 'deploy', 'prometheus', 'alerts.yaml');

interface Target {
  refId: string;
  datasource?: { type: string; uid: string };
  expr?: string;
  rawSql?: string;
  format?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string }[] };
}
interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity?: string };
  annotations: { summary?: string; description?: string };
}

const PROMETHEUS = 'prometheus';
const POSTGRES = 'grafana-postgresql-datasource';

let dashboard: Dashboard;
let rules: AlertRule[];

/** Grafana's macros in PromQL, replaced by what Grafana would substitute. */
const withoutGrafanaMacros = (expr: string): string => expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m');

/** Every `caracal_rotation_*` metric family an expression names (`_bucket`, `_sum`, `_count` name the histogram). */
function metricNames(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\bcaracal_rotation_[a-z_]+/g)].map(([name]) => name.replace(/_(bucket|sum|count)$/, '')))];
}

function promqlErrors(expr: string): string[] {
  const source = withoutGrafanaMacros(expr);
  const errors: string[] = [];
  promqlParser.parse(source).iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(`syntax error at ${node.from}: …${source.slice(Math.max(0, node.from - 20), node.from + 20)}…`);
    },
  });
  return errors;
}

const promExprs = (): { where: string; expr: string }[] => [
  ...dashboard.panels.flatMap((p) => (p.targets ?? []).filter((t) => t.expr !== undefined).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr! }))),
  ...rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
];

beforeAll(async () => {
  dashboard = JSON.parse(await readFile(DASHBOARD_PATH, 'utf8')) as Dashboard;
  const file = parseYaml(await readFile(ALERTS_PATH, 'utf8')) as { groups: { name: string; rules: AlertRule[] }[] };
  expect(file.groups.length).toBeGreaterThan(0);
  rules = file.groups.flatMap((g) => g.rules);
});

describe('Grafana dashboard', () => {
  it('is a dashboard of a recent schema, with its datasources as variables', () => {
    expect(dashboard.uid).toBe('caracal-rotation');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(38);
    expect(dashboard.templating.list.map((v) => [v.name, v.type, v.query])).toEqual([
      ['prometheus', 'datasource', PROMETHEUS],
      ['postgres', 'datasource', POSTGRES],
    ]);
  });

  it('gives every panel a datasource and targets of that datasource, on a grid without overlap', () => {
    expect(dashboard.panels.length).toBeGreaterThan(10);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    for (const p of dashboard.panels) {
      expect(p.datasource, p.title).toBeDefined();
      expect([PROMETHEUS, POSTGRES], p.title).toContain(p.datasource!.type);
      expect(p.datasource!.uid, p.title).toBe(p.datasource!.type === PROMETHEUS ? '${prometheus}' : '${postgres}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) {
        expect(t.datasource ?? p.datasource, `${p.title} ${t.refId}`).toEqual(p.datasource);
        if (p.datasource!.type === PROMETHEUS) expect(t.expr, `${p.title} ${t.refId}`).toMatch(/\S/);
        else expect(t.rawSql, `${p.title} ${t.refId}`).toMatch(/\S/);
      }
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    }
    const cells = new Map<string, string>();
    for (const p of dashboard.panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x += 1) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y += 1) {
          expect(cells.get(`${x},${y}`), `"${p.title}" overlaps`).toBeUndefined();
          cells.set(`${x},${y}`, p.title);
        }
      }
    }
  });

  it('covers the projection and every family of metrics the design asks for', () => {
    const sql = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.rawSql ?? '')).join('\n');
    for (const relation of ['rotation_status', 'rotation_stage_durations', 'FROM rotations']) expect(sql).toContain(relation);
    expect(sql).toMatch(/state IN \('failed', 'rejected'\)/);
    const named = new Set(promExprs().flatMap((e) => metricNames(e.expr)));
    for (const metric of [
      'caracal_rotation_stage_duration_seconds',
      'caracal_rotation_events_total',
      'caracal_rotation_dead_letters_total',
      'caracal_rotation_signature_failures_total',
      'caracal_rotation_pending_entries',
      'caracal_rotation_group_lag',
      'caracal_rotation_dlq_entries',
      'caracal_rotation_in_progress',
      'caracal_rotation_material_age_seconds',
    ]) {
      expect(named, metric).toContain(metric);
    }
  });

  it('has SQL that runs on the real projection schema', async () => {
    const { url, schema } = await testSchemaUrl('dashboards');
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      await migrate(pool);
      for (const p of dashboard.panels) {
        for (const t of (p.targets ?? []).filter((t) => t.rawSql)) {
          expect(t.format, p.title).toBe('table');
          // Grafana's time filter macro, as the datasource expands it.
          const sql = t.rawSql!.replace(/\$__timeFilter\(([a-z_.]+)\)/g, "$1 BETWEEN now() - interval '1 day' AND now()");
          expect(sql, p.title).not.toMatch(/\$__/);
          await expect(pool.query(sql), p.title).resolves.toBeDefined();
        }
      }
    } finally {
      await pool.end();
      await dropSchema(schema);
    }
  });
});

describe('Prometheus alert rules', () => {
  it('gives every rule an expression, a duration, a severity and a summary', () => {
    expect(rules.length).toBeGreaterThanOrEqual(5);
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const r of rules) {
      expect(r.alert, JSON.stringify(r)).toMatch(/^[A-Z][A-Za-z0-9]+$/);
      expect(r.expr, r.alert).toMatch(/\S/);
      expect(r.for, r.alert).toMatch(/^\d+[smhd]$/);
      expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toMatch(/\S/);
    }
  });

  it('alerts on a failed rotation, a stuck stage, dead letters, signature failures and material past its max age', () => {
    const byMetric = (metric: string) => rules.filter((r) => metricNames(r.expr).includes(metric)).map((r) => r.alert);
    expect(rules.find((r) => r.alert === 'CaracalRotationFailed')?.expr).toMatch(/caracal_rotation_rotations_total\{outcome="failed"\}/);
    expect(byMetric('caracal_rotation_step_age_seconds')).toEqual(expect.arrayContaining(['CaracalRotationStageStuck']));
    expect(byMetric('caracal_rotation_dlq_entries')).toEqual(['CaracalRotationDeadLetters']);
    expect(byMetric('caracal_rotation_signature_failures_total')).toEqual(['CaracalRotationSignatureFailures']);
    const tooOld = rules.find((r) => r.alert === 'CaracalRotationMaterialTooOld')!;
    expect(metricNames(tooOld.expr)).toEqual(
      expect.arrayContaining(['caracal_rotation_material_age_seconds', 'caracal_rotation_material_max_age_seconds', 'caracal_rotation_in_progress']),
    );
  });
});

describe('PromQL of the dashboard and the alerts', () => {
  let e2e: E2E;
  const exported = new Map<string, Set<string>>();

  beforeAll(async () => {
    // A whole real stack: each service's own /metrics is the truth.
    e2e = await startE2E('dashboards');
    for (const service of e2e.stack.services) {
      const text = await (await fetch(`${service.url}/metrics`)).text();
      for (const [, name] of text.matchAll(/^# TYPE (\S+) \S+$/gm)) {
        if (!exported.has(name!)) exported.set(name!, new Set());
        exported.get(name!)!.add(service.name);
      }
    }
  }, 120_000);
  afterAll(async () => e2e?.stop(), 60_000);

  it('parses', () => {
    for (const { where, expr } of promExprs()) expect(promqlErrors(expr), where).toEqual([]);
    // The check itself catches a broken expression.
    expect(promqlErrors('sum by (a (rate(x[5m]))')).not.toEqual([]);
  });

  it('names only metrics that a running service exports', () => {
    const referenced = new Set(promExprs().flatMap((e) => metricNames(e.expr)));
    expect(referenced.size).toBeGreaterThan(10);
    const missing = [...referenced].filter((name) => !exported.has(name));
    expect(missing).toEqual([]);
    // The recorder's own families (outcomes, step age, policies) come from the recorder.
    for (const name of ['caracal_rotation_rotations_total', 'caracal_rotation_step_age_seconds', 'caracal_rotation_material_max_age_seconds']) {
      expect(exported.get(name), name).toEqual(new Set(['recorder']));
    }
  });
});
