import { createHash } from 'node:crypto';
import type { SupervisedContainer } from './container.js';
import { formatRfc3339Nano } from './timestamps.js';

/** The Image the double reports for a container whose spec names none. */
export const DEFAULT_IMAGE = 'caracal-rotation/double:latest';

/** A stable image id per image name; nothing is pulled. */
const imageId = (image: string) => `sha256:${createHash('sha256').update(image).digest('hex')}`;

/** GET /containers/{id}/json: the ContainerInspectResponse fields a client reads. */
export function inspectView(c: SupervisedContainer): Record<string, unknown> {
  const [path, ...args] = c.spec.argv;
  const image = c.spec.image ?? DEFAULT_IMAGE;
  const policy = c.spec.restartPolicy ?? 'no';
  return {
    Id: c.id,
    Created: formatRfc3339Nano(c.createdNs),
    Path: path,
    Args: args,
    State: {
      Status: c.status,
      Running: c.status === 'running',
      Paused: false,
      Restarting: c.status === 'restarting',
      OOMKilled: false,
      Dead: false,
      Pid: c.pid,
      ExitCode: c.exitCode,
      Error: c.error,
      StartedAt: c.startedAt,
      FinishedAt: c.finishedAt,
    },
    Image: imageId(image),
    Name: `/${c.name}`,
    RestartCount: c.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    HostConfig: { RestartPolicy: { Name: policy, MaximumRetryCount: 0 }, NetworkMode: 'default' },
    Config: {
      Hostname: c.id.slice(0, 12),
      Env: Object.entries(c.spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
      Cmd: [...c.spec.argv],
      Image: image,
      Labels: { ...(c.spec.labels ?? {}) },
      StopSignal: 'SIGTERM',
      ...(c.spec.stopTimeoutS !== undefined ? { StopTimeout: c.spec.stopTimeoutS } : {}),
    },
    Mounts: [],
    NetworkSettings: { Networks: {} },
  };
}

/** Go's units.HumanDuration, which `docker ps` uses for "Up 3 seconds". */
function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(m / 60);
  return h === 1 ? 'About an hour' : `${h} hours`;
}

function sinceMs(rfc3339: string): number {
  return Math.max(0, Date.now() - Date.parse(rfc3339));
}

function statusLine(c: SupervisedContainer): string {
  switch (c.status) {
    case 'created':
      return 'Created';
    case 'running':
      return `Up ${humanDuration(sinceMs(c.startedAt))}`;
    case 'restarting':
      return `Restarting (${c.exitCode}) ${humanDuration(sinceMs(c.finishedAt))} ago`;
    case 'exited':
      return `Exited (${c.exitCode}) ${humanDuration(sinceMs(c.finishedAt))} ago`;
  }
}

/** One entry of GET /containers/json (ContainerSummary). */
export function summaryView(c: SupervisedContainer): Record<string, unknown> {
  const image = c.spec.image ?? DEFAULT_IMAGE;
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: image,
    ImageID: imageId(image),
    Command: c.spec.argv.join(' '),
    Created: Number(c.createdNs / 1_000_000_000n),
    Ports: [],
    Labels: { ...(c.spec.labels ?? {}) },
    State: c.status,
    Status: statusLine(c),
    HostConfig: { NetworkMode: 'default' },
    NetworkSettings: { Networks: {} },
    Mounts: [],
  };
}

/** The ?filters= of GET /containers/json that the double understands. */
const KNOWN_FILTERS = new Set(['id', 'name', 'label', 'status']);

/** Parses Docker's filters JSON: `{"label":["k=v"]}`, or the older `{"label":{"k=v":true}}`. */
export function parseFilters(raw: string | null): Map<string, string[]> {
  const filters = new Map<string, string[]>();
  if (!raw) return filters;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`invalid filter: ${raw}`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`invalid filter: ${raw}`);
  for (const [key, value] of Object.entries(parsed)) {
    if (!KNOWN_FILTERS.has(key)) throw new Error(`invalid filter '${key}'`);
    filters.set(key, Array.isArray(value) ? value.map(String) : Object.keys(value as object));
  }
  return filters;
}

/** Every filter key must match (any of its values), as the daemon combines them. */
export function matchesFilters(c: SupervisedContainer, filters: Map<string, string[]>): boolean {
  const labels = c.spec.labels ?? {};
  const tests: Record<string, (v: string) => boolean> = {
    id: (v) => c.id.startsWith(v),
    name: (v) => c.name.includes(v.replace(/^\//, '')),
    status: (v) => c.status === v,
    label: (v) => {
      const eq = v.indexOf('=');
      return eq < 0 ? v in labels : labels[v.slice(0, eq)] === v.slice(eq + 1);
    },
  };
  for (const [key, values] of filters) {
    // Labels must all match; the other keys match any of their values.
    const ok = key === 'label' ? values.every(tests.label!) : values.some(tests[key]!);
    if (!ok) return false;
  }
  return true;
}
