import { formatDuration } from '@caracal-rotation/contracts';
import { html, raw, type SafeHtml } from './html.js';
import type { FailureView, MaterialView, RotationView, StatusSnapshot, TimelineStep } from './snapshot.js';

/** `350 ms`, `4.2 s`, `3 m 20 s`, `5 h 3 m`, `12 d 4 h`; `—` when unknown. */
export function formatSeconds(seconds: number | null): string {
  return seconds === null || !Number.isFinite(seconds) ? '—' : formatDuration(seconds * 1000, { spaced: true });
}

/** `2025-06-01 12:00:01Z` (UTC, as stored). */
const dateTime = (iso: string | null): SafeHtml => (iso ? html`<time datetime="${iso}" title="${iso}">${iso.slice(0, 19).replace('T', ' ')}Z</time>` : html`—`);
/** `12:00:01.123` for the steps of a timeline. */
const timeOfDay = (iso: string | null): SafeHtml => (iso ? html`<time datetime="${iso}" title="${iso}">${iso.slice(11, 23)}</time>` : html``);

const dash = (value: string | null | undefined): string => (value === null || value === undefined || value === '' ? '—' : value);
const scopeOf = (v: { zone_id: string | null; role: string | null }): string => (v.zone_id ? `zone ${v.zone_id}` : v.role ? `role ${v.role}` : '—');
const rotationId = (id: string | null): SafeHtml => (id ? html`<code class="id" title="${id}">${id.slice(0, 8)}…${id.slice(-4)}</code>` : html`—`);
const state = (value: string | null): SafeHtml => (value ? html`<span class="state state-${value}">${value.replaceAll('_', ' ')}</span>` : html`—`);

const CSS = raw(`
:root { color-scheme: light; --fg: #1d2733; --muted: #5f6b7a; --line: #d9dee5; --bg: #f6f7f9; --ok: #1f7a3f; --bad: #b42318; --warn: #b54708; --run: #175cd3; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header.page { padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px 24px; }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 16px; margin: 0 0 8px; }
.meta, .empty, .muted { color: var(--muted); }
.summary { display: flex; gap: 8px; flex-wrap: wrap; margin-left: auto; }
.pill { border: 1px solid var(--line); border-radius: 999px; padding: 1px 10px; background: var(--bg); }
.pill strong { font-variant-numeric: tabular-nums; }
main { padding: 16px 24px 32px; display: grid; gap: 20px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 10px 5px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code.id, details summary { white-space: nowrap; }
.reason { max-width: 32em; overflow-wrap: anywhere; }
.state { display: inline-block; padding: 0 8px; border-radius: 4px; font-size: 12px; font-weight: 600; background: #e8f0fe; color: var(--run); white-space: nowrap; }
.state-completed { background: #e6f4ea; color: var(--ok); }
.state-failed, .state-rolling_back { background: #fdecea; color: var(--bad); }
.state-rejected, .state-abandoned { background: #fff4e5; color: var(--warn); }
.flag { font-size: 12px; font-weight: 600; white-space: nowrap; }
.flag-overdue, .flag-emergency { color: var(--bad); }
.flag-ok { color: var(--ok); }
.flag-rotating { color: var(--run); }
.flag-never { color: var(--muted); }
.rotation { border-top: 1px solid var(--line); padding: 10px 0; }
.rotation:first-of-type { border-top: 0; padding-top: 0; }
.rotation-head { display: flex; flex-wrap: wrap; gap: 4px 14px; align-items: baseline; }
.rotation-head .material { font-weight: 600; }
ol.timeline { list-style: none; margin: 8px 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: 6px; }
ol.timeline li { border: 1px solid var(--line); border-radius: 6px; padding: 3px 8px; min-width: 7.5em; background: #fff; }
ol.timeline li .step-name { display: block; font-weight: 600; font-size: 12px; }
ol.timeline li > time, ol.timeline li .step-duration, ol.timeline li .step-note { display: block; font-size: 11px; color: var(--muted); font-variant-numeric: tabular-nums; }
ol.timeline li.step-done { border-color: #a6d8b8; background: #f3faf5; }
ol.timeline li.step-failed { border-color: #f0a9a3; background: #fdf1f0; }
ol.timeline li.step-current { border-color: var(--run); background: #eef4ff; box-shadow: 0 0 0 1px var(--run) inset; }
ol.timeline li.step-pending { border-style: dashed; color: var(--muted); }
details summary { cursor: pointer; color: var(--run); }
ul.checks { margin: 0; padding-left: 16px; }
`);

function step(s: TimelineStep): SafeHtml {
  const duration = s.seconds === null ? '' : s.status === 'current' ? `waiting ${formatSeconds(s.seconds)}` : `+${formatSeconds(s.seconds)}`;
  return html`<li class="step step-${s.status}" data-step="${s.key}" title="${s.by ?? ''}"><span class="step-name">${s.label}</span>${timeOfDay(s.at)}${
    duration ? html`<span class="step-duration">${duration}</span>` : ''
  }${s.note ? html`<span class="step-note">${s.note}${s.due_at ? html` <time datetime="${s.due_at}" title="${s.due_at}">${s.due_at.slice(11, 19)}Z</time>` : ''}</span>` : ''}</li>`;
}

const timeline = (steps: TimelineStep[]): SafeHtml => html`<ol class="timeline">${steps.map(step)}</ol>`;

function materialStatusFlag(m: MaterialView): SafeHtml {
  if (m.never_rotated && !m.in_flight) return html`<span class="flag flag-never" title="never rotated by this system: its age is unknown here">not rotated yet</span>`;
  if (m.in_flight) return html`<span class="flag flag-rotating">rotating</span>`;
  if (m.overdue) return html`<span class="flag flag-overdue">overdue</span>`;
  return html`<span class="flag flag-ok">ok</span>`;
}

function materialsTable(materials: MaterialView[], omitted: Record<string, number>): SafeHtml {
  const more = Object.entries(omitted).map(
    ([material, n]) => html`<tr class="omitted"><td>${material}</td><td colspan="8" class="muted">… and ${n} more not shown (those in flight, overdue or oldest come first; every row is in the rotation_status view)</td></tr>`,
  );
  const rows = materials.map(
    (m) => html`<tr data-material="${m.material}" data-scope="${m.zone_id ?? m.role ?? ''}">
<td>${m.material}</td><td>${scopeOf(m)}</td><td><code class="kid">${dash(m.current_kid)}</code></td><td class="num">${dateTime(m.current_since)}</td>
<td class="num age">${formatSeconds(m.age_seconds)}</td><td class="num">${formatSeconds(m.max_age_seconds)}</td><td class="num">${dateTime(m.rotation_due_at)}</td>
<td>${m.latest_rotation_id ? html`${state(m.latest_state)} ${rotationId(m.latest_rotation_id)}` : '—'}</td><td>${materialStatusFlag(m)}</td></tr>`,
  );
  return html`<table id="materials"><thead><tr><th>Material</th><th>Zone / role</th><th>Current kid</th><th>Since</th><th>Age</th><th>Max age</th><th>Rotation due</th><th>Latest rotation</th><th>Status</th></tr></thead>
<tbody>${rows}${more}</tbody></table>`;
}

function requestedBy(r: RotationView): SafeHtml {
  return html`<span class="actor">${dash(r.actor)}</span>${r.ticket ? html` · <span class="ticket">${r.ticket}</span>` : ''}`;
}

function inFlight(rotations: RotationView[]): SafeHtml {
  if (rotations.length === 0) return html`<div id="in-flight"><p class="empty">No rotation in flight.</p></div>`;
  const items = rotations.map(
    (r) => html`<article class="rotation" data-rotation-id="${r.rotation_id}">
<div class="rotation-head"><span class="material">${dash(r.material)}</span><span>${scopeOf(r)}</span>${state(r.state)}${
      r.emergency ? html`<span class="flag flag-emergency">emergency</span>` : ''
    }<span class="muted">requested by ${requestedBy(r)} ${dateTime(r.requested_at)} · running ${formatSeconds(r.duration_seconds)}</span>${rotationId(r.rotation_id)}</div>
<div class="reason">${dash(r.reason)}</div>
${timeline(r.timeline)}</article>`,
  );
  return html`<div id="in-flight">${items}</div>`;
}

function historyTable(rotations: RotationView[]): SafeHtml {
  const rows = rotations.map(
    (r) => html`<tr data-rotation-id="${r.rotation_id}" data-state="${r.state}">
<td class="num">${dateTime(r.ended_at ?? r.requested_at)}</td><td>${dash(r.material)}</td><td>${scopeOf(r)}</td><td>${state(r.state)}${r.dry_run ? html` <span class="muted">dry run</span>` : ''}${
      r.rolled_back ? html` <span class="muted">rolled back</span>` : ''
    }</td>
<td class="num">${formatSeconds(r.duration_seconds)}</td><td>${requestedBy(r)}</td><td class="reason">${dash(r.reason)}</td><td><code class="kid">${dash(r.new_kid)}</code></td>
<td>${rotationId(r.rotation_id)}</td><td><details><summary>${r.timeline.length} steps</summary>${timeline(r.timeline)}</details></td></tr>`,
  );
  return html`<table id="history"><thead><tr><th>Ended</th><th>Material</th><th>Zone / role</th><th>Outcome</th><th>Took</th><th>Requested by</th><th>Reason</th><th>New kid</th><th>Rotation</th><th>Timeline</th></tr></thead>
<tbody>${rows.length > 0 ? rows : html`<tr><td colspan="10" class="empty">No rotation has ended yet.</td></tr>`}</tbody></table>`;
}

function failuresTable(failures: FailureView[]): SafeHtml {
  const rows = failures.map(
    (f) => html`<tr data-rotation-id="${f.rotation_id}" data-state="${f.state}">
<td class="num">${dateTime(f.ended_at)}</td><td>${dash(f.material)}</td><td>${scopeOf(f)}</td><td>${state(f.state)}${f.rolled_back ? html` <span class="muted">rolled back</span>` : ''}</td>
<td class="reason failure">${dash(f.failure)}</td><td class="reason diagnosis">${dash(f.diagnosis)}</td>
<td>${f.failed_checks.length > 0 ? html`<ul class="checks">${f.failed_checks.map((c) => html`<li><code>${c.phase}/${c.name}</code>: ${c.detail}</li>`)}</ul>` : '—'}</td>
<td>${requestedBy(f)}<div class="reason muted">${dash(f.reason)}</div></td><td>${rotationId(f.rotation_id)}</td></tr>`,
  );
  return html`<table id="failures"><thead><tr><th>When</th><th>Material</th><th>Zone / role</th><th>Outcome</th><th>Failure</th><th>Diagnosis</th><th>Failed checks</th><th>Requested by</th><th>Rotation</th></tr></thead>
<tbody>${rows.length > 0 ? rows : html`<tr><td colspan="9" class="empty">No failure recorded.</td></tr>`}</tbody></table>`;
}

/**
 * The status page: server-rendered, no script and no external asset (the
 * response's CSP forbids both), refreshed by `<meta http-equiv=refresh>`
 * every `refreshSeconds` (0: never). Every value goes through the escaping
 * `html` tag.
 */
export function renderStatusPage(snapshot: StatusSnapshot, refreshSeconds: number): string {
  const overdue = snapshot.materials.filter((m) => m.overdue && !m.in_flight).length;
  const page = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
${refreshSeconds > 0 ? html`<meta http-equiv="refresh" content="${refreshSeconds}">` : ''}
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Caracal rotation status</title>
<style>${CSS}</style></head>
<body>
<header class="page"><h1>Caracal rotation status</h1>
<span class="meta">from the recorder's projection at ${dateTime(snapshot.generated_at)}${refreshSeconds > 0 ? ` · refreshes every ${refreshSeconds} s` : ''} · <a href="status.json">JSON</a></span>
<div class="summary"><span class="pill"><strong>${snapshot.in_flight.length}</strong> in flight</span><span class="pill"><strong>${overdue}</strong> overdue</span><span class="pill"><strong>${snapshot.failures.length}</strong> recent failures</span></div>
</header>
<main>
<section aria-labelledby="h-materials"><h2 id="h-materials">Materials</h2>${materialsTable(snapshot.materials, snapshot.materials_omitted)}</section>
<section aria-labelledby="h-in-flight"><h2 id="h-in-flight">In flight</h2>${inFlight(snapshot.in_flight)}</section>
<section aria-labelledby="h-history"><h2 id="h-history">Recent history <span class="muted">(last ${snapshot.history.length})</span></h2>${historyTable(snapshot.history)}</section>
<section aria-labelledby="h-failures"><h2 id="h-failures">Failures</h2>${failuresTable(snapshot.failures)}</section>
</main>
</body></html>
`;
  return page.text;
}

/** Shown when the projection cannot be read; it keeps refreshing until it can. */
export function renderUnavailablePage(refreshSeconds: number): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8">${refreshSeconds > 0 ? html`<meta http-equiv="refresh" content="${refreshSeconds}">` : ''}
<link rel="icon" href="data:,"><title>Caracal rotation status: unavailable</title><style>${CSS}</style></head>
<body><header class="page"><h1>Caracal rotation status</h1></header>
<main><section><p id="unavailable">The projection cannot be read right now; this page retries${refreshSeconds > 0 ? ` every ${refreshSeconds} s` : ''}.</p></section></main>
</body></html>
`.text;
}
