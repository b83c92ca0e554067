import { randomUUID } from 'node:crypto';
import { kubeStatus, type KubeHandler, type KubeRequest, type KubeResponse } from './server.js';

/**
 * Core/v1 Secrets for the Kubernetes API double, answering as the API server
 * does (k8s.io/apiserver's generic registry and the Secret strategy):
 *
 * - GET, POST (create), PUT (update), PATCH (JSON merge patch and strategic
 *   merge patch, which for a Secret's maps are the same), DELETE;
 * - `metadata.resourceVersion` is a counter shared by every object, bumped on
 *   every change; a PUT or PATCH that names an older one is answered 409
 *   Conflict and changes nothing (a PUT without one is unconditional, as the
 *   Secret strategy allows);
 * - Status objects for 404 NotFound, 409 AlreadyExists/Conflict, 403
 *   Forbidden (per verb and object, see `deny`), 400, 415 and 422 with the API
 *   server's reasons and wording;
 * - `data` values must be base64, keys `[-._a-zA-Z0-9]+`, the whole data at
 *   most 1 MiB; `stringData` is merged into `data` on write and never stored.
 */

export type SecretVerb = 'get' | 'list' | 'create' | 'update' | 'patch' | 'delete';

export interface SecretObject {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  };
  type: string;
  data?: Record<string, string>;
}

export interface SeedSecret {
  name: string;
  /** Plain values; stored base64-encoded as `data`. */
  values?: Record<string, string>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: SecretObject['metadata']['ownerReferences'];
}

export interface SecretsApi {
  handler: KubeHandler;
  /** Creates or replaces a Secret directly, as an operator's `kubectl apply` would (no RBAC, new resourceVersion). */
  seed(namespace: string, secret: SeedSecret): SecretObject;
  /** A copy of the stored object, or undefined. */
  get(namespace: string, name: string): SecretObject | undefined;
  /** The stored data, base64-decoded; undefined when the Secret does not exist. */
  values(namespace: string, name: string): Record<string, string> | undefined;
  /** Answers `verb` on the named Secret (any Secret when name is omitted) with 403 Forbidden from now on. */
  deny(verb: SecretVerb, namespace: string, name?: string): void;
  /** Lifts every deny. */
  allowAll(): void;
  /** The service account the 403 messages name. */
  readonly user: string;
}

/** What the API server accepts as a Secret's total data size (sum of keys' decoded values). */
export const MAX_SECRET_BYTES = 1024 * 1024;
const KEY_PATTERN = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const ITEM = /^\/api\/v1\/namespaces\/([^/]+)\/secrets\/([^/]+)$/;
const COLLECTION = /^\/api\/v1\/namespaces\/([^/]+)\/secrets$/;
const MERGE_TYPES = new Set(['application/merge-patch+json', 'application/strategic-merge-patch+json']);

let resourceVersions = 1000;

export function createSecretsApi(options: { user?: string } = {}): SecretsApi {
  const user = options.user ?? 'system:serviceaccount:caracal:caracal-rotation';
  const objects = new Map<string, SecretObject>();
  const denied = new Set<string>();
  const key = (namespace: string, name: string) => `${namespace}/${name}`;

  const isDenied = (verb: SecretVerb, namespace: string, name?: string) =>
    denied.has(`${verb} ${namespace}/*`) || (name !== undefined && denied.has(`${verb} ${namespace}/${name}`));

  const forbidden = (verb: SecretVerb, namespace: string, name?: string): KubeResponse =>
    withDetails(
      kubeStatus(
        403,
        'Forbidden',
        `secrets${name ? ` "${name}"` : ''} is forbidden: User "${user}" cannot ${verb} resource "secrets" in API group "" in the namespace "${namespace}"`,
      ),
      name,
    );

  const store = (obj: SecretObject): SecretObject => {
    obj.metadata.resourceVersion = String(++resourceVersions);
    objects.set(key(obj.metadata.namespace, obj.metadata.name), obj);
    return structuredClone(obj);
  };

  function handle(req: KubeRequest): KubeResponse | undefined {
    const item = ITEM.exec(req.path);
    const collection = item ? undefined : COLLECTION.exec(req.path);
    if (!item && !collection) return undefined;
    const namespace = decodeURIComponent((item ?? collection)![1]!);
    const name = item ? decodeURIComponent(item[2]!) : undefined;

    if (collection) {
      if (req.method === 'POST') return create(namespace, req.body);
      if (req.method === 'GET') {
        if (isDenied('list', namespace)) return forbidden('list', namespace);
        const items = [...objects.values()].filter((o) => o.metadata.namespace === namespace).map((o) => structuredClone(o));
        return { status: 200, body: { kind: 'SecretList', apiVersion: 'v1', metadata: { resourceVersion: String(resourceVersions) }, items } };
      }
      return methodNotAllowed(req.method);
    }

    const current = objects.get(key(namespace, name!));
    switch (req.method) {
      case 'GET':
        if (isDenied('get', namespace, name)) return forbidden('get', namespace, name);
        return current ? { status: 200, body: structuredClone(current) } : notFound(name!);
      case 'PUT':
        if (isDenied('update', namespace, name)) return forbidden('update', namespace, name);
        return update(namespace, name!, current, req.body);
      case 'PATCH':
        if (isDenied('patch', namespace, name)) return forbidden('patch', namespace, name);
        return patch(name!, current, req);
      case 'DELETE':
        if (isDenied('delete', namespace, name)) return forbidden('delete', namespace, name);
        if (!current) return notFound(name!);
        objects.delete(key(namespace, name!));
        return { status: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: 'secrets', uid: current.metadata.uid } } };
      default:
        return methodNotAllowed(req.method);
    }
  }

  function create(namespace: string, body: unknown): KubeResponse {
    const input = asSecretInput(body);
    const name = input?.metadata?.name;
    if (isDenied('create', namespace, typeof name === 'string' ? name : undefined)) return forbidden('create', namespace, typeof name === 'string' ? name : undefined);
    if (!input || typeof name !== 'string' || name === '') return invalid(undefined, 'metadata.name: Required value: name or generateName is required');
    if (input.metadata?.namespace !== undefined && input.metadata.namespace !== namespace) {
      return badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    if (objects.has(key(namespace, name))) return withDetails(kubeStatus(409, 'AlreadyExists', `secrets "${name}" already exists`), name);
    const data = dataOf(input, name);
    if ('status' in data) return data;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const obj: SecretObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace,
        uid: randomUUID(),
        resourceVersion: '',
        creationTimestamp: now,
        ...(input.metadata?.labels ? { labels: { ...input.metadata.labels } } : {}),
        ...(input.metadata?.annotations ? { annotations: { ...input.metadata.annotations } } : {}),
        ...(input.metadata?.ownerReferences ? { ownerReferences: structuredClone(input.metadata.ownerReferences) } : {}),
      },
      type: typeof input.type === 'string' && input.type !== '' ? input.type : 'Opaque',
      ...(Object.keys(data.data).length > 0 ? { data: data.data } : {}),
    };
    return { status: 201, body: store(obj) };
  }

  function update(namespace: string, name: string, current: SecretObject | undefined, body: unknown): KubeResponse {
    const input = asSecretInput(body);
    if (!input) return badRequest('the body of the request was not a Secret');
    if (input.metadata?.name !== undefined && input.metadata.name !== name) {
      return badRequest(`the name of the object (${String(input.metadata.name)}) does not match the name on the URL (${name})`);
    }
    if (!current) return notFound(name);
    const rv = input.metadata?.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) return conflict(name);
    if (input.type !== undefined && input.type !== current.type) return invalid(name, 'type: Invalid value: field is immutable');
    const data = dataOf(input, name);
    if ('status' in data) return data;
    const next: SecretObject = structuredClone(current);
    next.metadata.labels = input.metadata?.labels ? { ...input.metadata.labels } : undefined;
    next.metadata.annotations = input.metadata?.annotations ? { ...input.metadata.annotations } : undefined;
    next.metadata.ownerReferences = input.metadata?.ownerReferences ? structuredClone(input.metadata.ownerReferences) : undefined;
    if (Object.keys(data.data).length > 0) next.data = data.data;
    else delete next.data;
    return { status: 200, body: store(clean(next)) };
  }

  function patch(name: string, current: SecretObject | undefined, req: KubeRequest): KubeResponse {
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (!MERGE_TYPES.has(type)) {
      return kubeStatus(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json`);
    }
    if (!current) return notFound(name);
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return badRequest('the patch is not a JSON object');
    const rv = (body as { metadata?: { resourceVersion?: unknown } }).metadata?.resourceVersion;
    if (rv !== undefined && rv !== null && rv !== current.metadata.resourceVersion) return conflict(name);
    const merged = mergePatch(structuredClone(current), body) as SecretObject;
    if (merged.metadata?.name !== name || merged.metadata.namespace !== current.metadata.namespace) return badRequest('metadata.name and metadata.namespace cannot be changed');
    if (merged.type !== current.type) return invalid(name, 'type: Invalid value: field is immutable');
    const data = dataOf(merged as SecretInput, name);
    if ('status' in data) return data;
    const next = clean({ ...merged, metadata: { ...merged.metadata, uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp } });
    if (Object.keys(data.data).length > 0) next.data = data.data;
    else delete next.data;
    delete (next as { stringData?: unknown }).stringData;
    return { status: 200, body: store(next) };
  }

  return {
    handler: handle,
    user,
    seed(namespace, secret) {
      const existing = objects.get(key(namespace, secret.name));
      const data = Object.fromEntries(Object.entries(secret.values ?? {}).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
      return store(
        clean({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: {
            name: secret.name,
            namespace,
            uid: existing?.metadata.uid ?? randomUUID(),
            resourceVersion: '',
            creationTimestamp: existing?.metadata.creationTimestamp ?? new Date().toISOString(),
            labels: secret.labels,
            annotations: secret.annotations,
            ownerReferences: secret.ownerReferences,
          },
          type: 'Opaque',
          data,
        }),
      );
    },
    get: (namespace, name) => {
      const obj = objects.get(key(namespace, name));
      return obj && structuredClone(obj);
    },
    values: (namespace, name) => {
      const obj = objects.get(key(namespace, name));
      if (!obj) return undefined;
      return Object.fromEntries(Object.entries(obj.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    },
    deny: (verb, namespace, name) => {
      denied.add(`${verb} ${namespace}/${name ?? '*'}`);
    },
    allowAll: () => denied.clear(),
  };
}

interface SecretInput {
  metadata?: {
    name?: unknown;
    namespace?: unknown;
    resourceVersion?: unknown;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: SecretObject['metadata']['ownerReferences'];
  };
  type?: unknown;
  data?: unknown;
  stringData?: unknown;
}

function asSecretInput(body: unknown): SecretInput | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const kind = (body as { kind?: unknown }).kind;
  if (kind !== undefined && kind !== 'Secret') return undefined;
  return body as SecretInput;
}

/** `data` merged with `stringData`, validated as the Secret strategy does. */
function dataOf(input: SecretInput, name: string): { data: Record<string, string> } | KubeResponse {
  const data: Record<string, string> = {};
  const problems: string[] = [];
  for (const [field, encode] of [
    ['data', false],
    ['stringData', true],
  ] as const) {
    const map = input[field];
    if (map === undefined || map === null) continue;
    if (typeof map !== 'object' || Array.isArray(map)) return badRequest(`${field} must be a map of strings`);
    for (const [k, v] of Object.entries(map as Record<string, unknown>)) {
      if (v === null) continue;
      if (typeof v !== 'string') return badRequest(`${field}[${k}] must be a string`);
      if (!KEY_PATTERN.test(k)) problems.push(`${field}[${k}]: Invalid value: "${k}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`);
      if (!encode && (!BASE64.test(v) || v.length % 4 !== 0)) return badRequest(`illegal base64 data in ${field}[${k}]`);
      data[k] = encode ? Buffer.from(v, 'utf8').toString('base64') : v;
    }
  }
  const total = Object.values(data).reduce((sum, v) => sum + Buffer.from(v, 'base64').length, 0);
  if (total > MAX_SECRET_BYTES) problems.push(`data: Too long: must have at most ${MAX_SECRET_BYTES} bytes`);
  if (problems.length > 0) return invalid(name, problems.join(', '));
  return { data };
}

/** RFC 7386: objects merge recursively, null deletes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Drops empty optional metadata maps, as the API server's serialization does. */
function clean(obj: SecretObject): SecretObject {
  for (const field of ['labels', 'annotations', 'ownerReferences'] as const) {
    const v = obj.metadata[field];
    if (v === undefined || (Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0)) delete obj.metadata[field];
  }
  return obj;
}

function withDetails(res: KubeResponse, name: string | undefined): KubeResponse {
  (res.body as Record<string, unknown>).details = { ...(name ? { name } : {}), kind: 'secrets' };
  return res;
}

function notFound(name: string): KubeResponse {
  return withDetails(kubeStatus(404, 'NotFound', `secrets "${name}" not found`), name);
}

function conflict(name: string): KubeResponse {
  return withDetails(
    kubeStatus(409, 'Conflict', `Operation cannot be fulfilled on secrets "${name}": the object has been modified; please apply your changes to the latest version and try again`),
    name,
  );
}

function invalid(name: string | undefined, detail: string): KubeResponse {
  return withDetails(kubeStatus(422, 'Invalid', `Secret "${name ?? ''}" is invalid: ${detail}`), name);
}

function badRequest(message: string): KubeResponse {
  return kubeStatus(400, 'BadRequest', message);
}

function methodNotAllowed(method: string): KubeResponse {
  return kubeStatus(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${method})`);
}
