import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const SERVICES = ['planner', 'secret-writer', 'roller', 'verifier', 'recorder'] as const;
export type ServiceName = (typeof SERVICES)[number];

export function repoFile(relative: string): string {
  return readFileSync(path.join(ROOT, relative), 'utf8');
}

export function repoHas(relative: string): boolean {
  return existsSync(path.join(ROOT, relative));
}

/** A compose file, YAML merge keys (`<<: *anchor`) resolved as compose resolves them. */
export function loadCompose(relative: string): Record<string, unknown> {
  return parse(repoFile(relative), { merge: true }) as Record<string, unknown>;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** Every document of a YAML stream, as the Kubernetes tooling reads it (YAML 1.1: `0444` is octal). */
export function parseManifests(text: string, source: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1' })) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as K8sObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

export function loadManifests(relative: string): K8sObject[] {
  return parseManifests(repoFile(relative), relative);
}

/**
 * Every object `kubectl kustomize` renders for a kustomization directory of
 * the repository: the real renderer, so what is tested is what `kubectl apply
 * -k` would send.
 */
export function kustomize(relativeDir: string): K8sObject[] {
  const result = spawnSync('kubectl', ['kustomize', path.join(ROOT, relativeDir)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(
      'kubectl is not installed: the deploy tests render the manifests with the real `kubectl kustomize` (kustomize v5.5). ' +
        'Install kubectl (https://kubernetes.io/docs/tasks/tools/) and run the tests again.',
    );
  }
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`kubectl kustomize ${relativeDir} failed (exit ${result.status}):\n${result.stderr}`);
  return parseManifests(result.stdout, `kubectl kustomize ${relativeDir}`);
}

export function listFiles(relativeDir: string, suffix: string): string[] {
  return readdirSync(path.join(ROOT, relativeDir))
    .filter((f) => f.endsWith(suffix))
    .sort();
}

// ---- secrets -----------------------------------------------------------------------------

/** Compose interpolations (`${VAR}`, `${VAR:-default}`, `${VAR:?message}`) come from the environment, not the file. */
function withoutInterpolations(value: string): string {
  return value.replace(/\$\{[^}]*\}/g, '');
}

const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|HMAC_KEY|_KEK)$/;
/** Variables that name (or say whether to create) the Kubernetes Secret a secret lives in, not what it holds. */
const SECRET_LOCATION_NAME = /^CARACAL_K8S_(CREATE_)?(HISTORY_)?SECRET$/;

/**
 * Why an environment value written in a deployment file looks like a secret,
 * or undefined. Values interpolated from the environment and `*_FILE` paths
 * are fine; literal key material, passwords in URLs and literal values of
 * secret-named variables are not.
 */
export function secretProblem(name: string, raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  const value = withoutInterpolations(String(raw));
  if (/[0-9a-fA-F]{32,}/.test(value)) return `${name} holds 32+ hex characters (key material?)`;
  const looksRandom = /[0-9]/.test(value) && /[a-z]/.test(value) && /[A-Z]/.test(value) && !value.startsWith('/');
  if (looksRandom && /^[A-Za-z0-9+/_-]{32,}={0,2}$/.test(value)) return `${name} holds a long random-looking string (a token?)`;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && URL.canParse(value) && new URL(value).password !== '') {
    return `${name} is a URL with a password in it`;
  }
  if (SECRET_NAME.test(name) && !SECRET_LOCATION_NAME.test(name) && !name.endsWith('_FILE') && value.trim() !== '') return `${name} is set to a literal value`;
  return undefined;
}

/** Environment of a compose service, as a map, whether written as a map or a list. */
export function composeEnv(service: Record<string, unknown>): Record<string, string> {
  const env = service.environment;
  if (!env) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const text = String(entry);
        const eq = text.indexOf('=');
        return eq < 0 ? [text, ''] : [text.slice(0, eq), text.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env as Record<string, unknown>).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

// ---- .dockerignore -----------------------------------------------------------------------

interface IgnorePattern {
  regex: RegExp;
  exception: boolean;
}

/** Docker's pattern syntax: `*`, `?`, `**`, leading `!` for an exception; relative to the context root. */
export function parseDockerignore(text: string): IgnorePattern[] {
  const patterns: IgnorePattern[] = [];
  for (const rawLine of text.split('\n')) {
    let line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exception = line.startsWith('!');
    if (exception) line = line.slice(1).trim();
    line = path.posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '');
    let regex = '';
    for (let i = 0; i < line.length; ) {
      if (line.startsWith('**/', i)) {
        regex += '(?:.*/)?';
        i += 3;
      } else if (line.startsWith('**', i)) {
        regex += '.*';
        i += 2;
      } else if (line[i] === '*') {
        regex += '[^/]*';
        i += 1;
      } else if (line[i] === '?') {
        regex += '[^/]';
        i += 1;
      } else {
        regex += line[i]!.replace(/[.+^${}()|[\]\\]/g, '\\$&');
        i += 1;
      }
    }
    patterns.push({ regex: new RegExp(`^${regex}$`), exception });
  }
  return patterns;
}

/** As Docker decides: the last pattern matching the path or one of its parents wins. */
export function isIgnored(patterns: readonly IgnorePattern[], relative: string): boolean {
  const parts = relative.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const p of patterns) {
    if (candidates.some((c) => p.regex.test(c))) ignored = !p.exception;
  }
  return ignored;
}

/** Every file of the repository (without node_modules and .git), relative, with `/`. */
export function repositoryFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === '.git') continue;
      const rel = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  walk('');
  return out;
}

// ---- label selectors ---------------------------------------------------------------------

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    if (e.operator === 'In' && !(has && (e.values ?? []).includes(value!))) return false;
    if (e.operator === 'NotIn' && has && (e.values ?? []).includes(value!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}
