import type { ApiAnswer, KubernetesApiClient } from './api-client.js';
import { KubernetesStoreError } from './errors.js';

/** A Secret as read: its resourceVersion and its data, decoded. */
export interface SecretSnapshot {
  resourceVersion: string;
  data: ReadonlyMap<string, string>;
  labels: Readonly<Record<string, string>>;
  ownerReferences: readonly { kind?: string; name?: string; controller?: boolean }[];
}

/** What one attempt of an update wants: keys to set (string) or delete (null), and what to return once they are stored. */
export interface UpdatePlan<T> {
  changes: ReadonlyMap<string, string | null>;
  result: T;
}

export interface StoreLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

export interface SecretResourceOptions {
  /** Attempts of one update before giving up on other writers (409 each time). */
  maxAttempts: number;
  /** What a 404 means for this Secret and what to do about it. */
  notFoundHint: string;
  logger?: StoreLogger;
}

export type Verb = 'get' | 'create' | 'patch';

const MERGE_PATCH = 'application/merge-patch+json';
/** Backoff after a lost race: random up to this many ms times 2^attempt, capped. */
const BACKOFF_UNIT_MS = 5;
const BACKOFF_CAP_MS = 250;

/**
 * One named Secret, read and changed through the API server with
 * compare-and-swap: every change is a JSON merge patch that carries the
 * resourceVersion it was computed from, so the API server applies it only if
 * nobody changed the Secret since (else 409 Conflict: read again, plan again,
 * a bounded number of times). A merge patch touches only the keys it names,
 * so keys this code does not know survive.
 */
export class SecretResource {
  readonly path: string;

  constructor(
    private readonly client: KubernetesApiClient,
    readonly namespace: string,
    readonly name: string,
    private readonly opts: SecretResourceOptions,
  ) {
    this.path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`;
  }

  /** `secret/<namespace>/<name>`, plus `#<key>` for one key. */
  location(key?: string): string {
    return `secret/${this.namespace}/${this.name}${key === undefined ? '' : `#${key}`}`;
  }

  /** The Secret, or undefined when it does not exist. */
  async get(): Promise<SecretSnapshot | undefined> {
    const answer = await this.client.send({ method: 'GET', path: this.path });
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) throw this.failure(answer, 'get', []);
    return snapshotOf(answer.body, this.location());
  }

  /** The Secret, or a store_not_found error that says who creates it. */
  async require(): Promise<SecretSnapshot> {
    const snapshot = await this.get();
    if (!snapshot) throw this.notFound();
    return snapshot;
  }

  /** Creates the Secret empty with these labels; true when this call created it, false when it already existed. */
  async create(labels: Record<string, string>, annotations: Record<string, string>): Promise<boolean> {
    const collection = this.path.slice(0, this.path.lastIndexOf('/'));
    const answer = await this.client.send({
      method: 'POST',
      path: collection,
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: this.name, namespace: this.namespace, labels, annotations }, type: 'Opaque' },
    });
    if (answer.status === 201 || answer.status === 200) {
      this.opts.logger?.info({ secret: this.location() }, 'created the Secret');
      return true;
    }
    if (answer.status === 409) return false;
    throw this.failure(answer, 'create', []);
  }

  /**
   * Read, plan, patch under the resourceVersion read; on 409 start over. The
   * plan may throw to refuse (its error propagates unchanged); a plan with no
   * changes returns at once. `what` names the operation in errors and logs.
   */
  async update<T>(what: string, plan: (snapshot: SecretSnapshot) => UpdatePlan<T>): Promise<T> {
    for (let attempt = 1; attempt <= this.opts.maxAttempts; attempt++) {
      const snapshot = await this.require();
      const { changes, result } = plan(snapshot);
      if (changes.size === 0) return result;

      const data: Record<string, string | null> = {};
      const sent: string[] = [];
      for (const [key, value] of changes) {
        if (value === null) {
          data[key] = null;
          continue;
        }
        const encoded = Buffer.from(value, 'utf8').toString('base64');
        data[key] = encoded;
        sent.push(value, encoded);
      }
      const answer = await this.client.send({
        method: 'PATCH',
        path: this.path,
        contentType: MERGE_PATCH,
        body: { metadata: { resourceVersion: snapshot.resourceVersion }, data },
      });
      if (answer.status === 200) return result;
      if (answer.status !== 409) throw this.failure(answer, 'patch', sent);

      this.opts.logger?.debug({ secret: this.location(), operation: what, attempt }, 'the Secret changed under us (409 Conflict); reading it again');
      if (attempt < this.opts.maxAttempts) await sleep(Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_UNIT_MS * 2 ** attempt));
    }
    throw new KubernetesStoreError(
      'store_conflict',
      `gave up ${what} on Secret ${this.namespace}/${this.name} after ${this.opts.maxAttempts} attempts: each time another writer had changed it first (409 Conflict on resourceVersion)`,
      409,
      true,
    );
  }

  notFound(): KubernetesStoreError {
    return new KubernetesStoreError('store_not_found', `Secret ${this.namespace}/${this.name} does not exist. ${this.opts.notFoundHint}`, 404, false);
  }

  /**
   * The error for an answer other than the one expected. The API server's
   * message is quoted only for answers whose wording is fixed and names no
   * data (401, 403, 404, 409), or for requests that sent none: a validation
   * message about a request that carried values could quote one. Whatever is
   * quoted has every value `sent` (plain and base64) cut out first, in case a
   * proxy or a misbehaving server echoes the request.
   */
  private failure(answer: ApiAnswer, verb: Verb, sent: readonly string[]): KubernetesStoreError {
    const status = statusOf(answer.body);
    const quotable = sent.length === 0 || [401, 403, 404, 409].includes(answer.status);
    const quoted = quotable && status.message ? redact(status.message, sent).slice(0, 300) : undefined;
    const said = `${answer.status}${status.reason ? ` ${status.reason}` : ''}${quoted ? `: ${quoted}` : ''}`;
    const target = `Secret ${this.namespace}/${this.name}`;
    switch (answer.status) {
      case 401:
        return new KubernetesStoreError(
          'store_unauthorized',
          `the API server did not accept the orchestrator's credentials to ${verb} ${target} (${said}): the token is missing, expired or from another cluster`,
          401,
          false,
        );
      case 403:
        return new KubernetesStoreError(
          'store_forbidden',
          verb === 'create'
            ? `the orchestrator's service account may not create ${target} (${said}); create the Secret yourself, or grant "create" on secrets in its Role (create cannot be limited by resourceNames; see docs/architecture.md §8)`
            : `the orchestrator's service account may not ${verb} ${target} (${said}); grant "${verb}" on secrets with resourceNames [${this.name}] in its Role (see docs/architecture.md §8)`,
          403,
          false,
        );
      case 404:
        return this.notFound();
      default:
        return new KubernetesStoreError(
          'store_api',
          `the API server refused to ${verb} ${target} (${said})`,
          answer.status,
          answer.status >= 500 || answer.status === 429,
        );
    }
  }
}

function redact(text: string, values: readonly string[]): string {
  let out = text;
  for (const value of [...values].sort((a, b) => b.length - a.length)) if (value.length > 0) out = out.split(value).join('[redacted]');
  return out;
}

function statusOf(body: unknown): { reason?: string; message?: string } {
  if (typeof body !== 'object' || body === null) return {};
  const { reason, message } = body as { reason?: unknown; message?: unknown };
  // A reason is one CamelCase word (NotFound, Conflict); anything else is not quoted.
  const word = typeof reason === 'string' && /^[A-Za-z]{1,64}$/.test(reason);
  return { ...(word ? { reason: reason as string } : {}), ...(typeof message === 'string' ? { message } : {}) };
}

function snapshotOf(body: unknown, where: string): SecretSnapshot {
  const obj = (typeof body === 'object' && body !== null ? body : {}) as {
    metadata?: { resourceVersion?: unknown; labels?: unknown; ownerReferences?: unknown };
    data?: unknown;
  };
  const resourceVersion = obj.metadata?.resourceVersion;
  if (typeof resourceVersion !== 'string' || resourceVersion === '') {
    throw new KubernetesStoreError('store_api', `the API server answered a GET of ${where} without a resourceVersion`, 200, false);
  }
  const data = new Map<string, string>();
  if (typeof obj.data === 'object' && obj.data !== null) {
    for (const [key, value] of Object.entries(obj.data as Record<string, unknown>)) {
      if (typeof value === 'string') data.set(key, Buffer.from(value, 'base64').toString('utf8'));
    }
  }
  const labels = (typeof obj.metadata?.labels === 'object' && obj.metadata.labels !== null ? obj.metadata.labels : {}) as Record<string, string>;
  const ownerReferences = Array.isArray(obj.metadata?.ownerReferences) ? (obj.metadata.ownerReferences as SecretSnapshot['ownerReferences']) : [];
  return { resourceVersion, data, labels, ownerReferences };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
