/**
 * KubernetesSecretStore: Caracal's secrets as the keys of the Secret its Helm
 * chart mounts into every service (`caracal-runtime`: infra/helm/caracal
 * templates/secret.yaml, named by `secrets.runtimeSecretName` in
 * templates/_helpers.tpl, mounted at /run/secrets by templates/deployments.yaml),
 * and the orchestrator's version history and rotation records in a Secret of
 * its own (`caracal-rotation-history`) that no Caracal pod mounts, because it
 * holds old and new values side by side.
 *
 * RBAC the orchestrator's service account needs (a Role in Caracal's
 * namespace; resourceNames keep it to exactly these two Secrets):
 *
 *   - apiGroups: [""]
 *     resources: [secrets]
 *     resourceNames: [caracal-runtime, caracal-rotation-history]
 *     verbs: [get, patch]
 *   # only if the store may create the history Secret itself
 *   # (createHistorySecret, the default); Kubernetes cannot limit create by
 *   # resourceNames, so prefer creating the Secret at install time instead:
 *   - apiGroups: [""]
 *     resources: [secrets]
 *     verbs: [create]
 *
 * Writes are JSON merge patches, which RBAC authorizes as `patch`; `update`
 * (PUT) is never sent, so it need not be granted. Readers that only read
 * (the verifier) need `get` alone.
 *
 * Every change is a compare-and-swap on the Secret's resourceVersion (see
 * SecretResource): concurrent writers of one Secret never lose each other's
 * keys, and a 409 is retried from a fresh read a bounded number of times.
 * No value is ever logged or put into an error.
 */
import { SecretsError, UnsafeStoreError } from '../errors.js';
import { secretIdOf } from '../ids.js';
import { assertSecretName } from '../names.js';
import {
  RecordConflictError,
  assertOlderThan,
  assertRotationId,
  nextRevision,
  type RotationRecord,
  type StoredRotationRecord,
} from '../records.js';
import type { SecretStore, WriteResult } from '../secret-store.js';
import { assertStorableValue } from '../value.js';
import {
  assertVersionMeta,
  findStep,
  newestWithKid,
  sameStep,
  serializeVersion,
  withoutValue,
  type RecordResult,
  type VersionInfo,
  type VersionMeta,
} from '../versions.js';
import { KubernetesApiClient } from './api-client.js';
import { resolveKubernetesConnection, type KubernetesConnectionOptions } from './connection.js';
import { excessVersionKeys, recordIn, recordKey, sizeAfter, staleRecordKeys, versionKey, versionsIn } from './history-layout.js';
import { SecretResource, type SecretSnapshot, type StoreLogger, type UpdatePlan } from './secret-resource.js';

export const DEFAULT_RUNTIME_SECRET = 'caracal-runtime';
export const DEFAULT_HISTORY_SECRET = 'caracal-rotation-history';
export const DEFAULT_VERSIONS_PER_SECRET = 5;
/** Records older than the bus's de-duplication horizon can no longer be replayed against (docs/architecture.md §4). */
export const DEFAULT_RECORD_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
export const DEFAULT_MAX_ATTEMPTS = 10;
/** The API server's limit on a Secret's data. */
export const MAX_SECRET_BYTES = 1024 * 1024;

/** Labels that mark the history Secret as the orchestrator's; a Secret of that name without them is refused. */
export const HISTORY_SECRET_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/name': 'caracal-rotation',
  'app.kubernetes.io/part-of': 'caracal-rotation',
  'app.kubernetes.io/component': 'rotation-history',
};
const HISTORY_SECRET_ANNOTATIONS = {
  'caracal-rotation/purpose': 'Version history and rotation records of the rotation orchestrator; holds old secret values. Never mount it into a pod.',
};

export interface KubernetesSecretStoreOptions extends KubernetesConnectionOptions {
  /** The Secret Caracal mounts; default caracal-runtime. */
  secret?: string;
  /** The orchestrator's own Secret for history and records; default caracal-rotation-history. */
  historySecret?: string;
  /** Versions kept per secret name (at least 2: a rotation records the value before it and its new one); default 5. */
  versionsPerSecret?: number;
  /** Records last written longer ago than this are deleted on the next history write; default 7 days. */
  recordRetentionMs?: number;
  /** Whether the store may create a missing history Secret (needs `create` on secrets); default true. */
  createHistorySecret?: boolean;
  /** Attempts of one compare-and-swap before giving up on concurrent writers; default 10. */
  maxAttempts?: number;
  requestTimeoutMs?: number;
  logger?: StoreLogger;
  /** Clock for record times; tests pin it. */
  now?: () => Date;
}

const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export class KubernetesSecretStore implements SecretStore {
  readonly kind = 'kubernetes' as const;
  readonly namespace: string;
  private readonly runtime: SecretResource;
  private readonly history: SecretResource;
  private readonly versionsPerSecret: number;
  private readonly recordRetentionMs: number;
  private readonly createHistorySecret: boolean;
  private readonly now: () => Date;

  constructor(opts: KubernetesSecretStoreOptions = {}) {
    const secret = opts.secret ?? DEFAULT_RUNTIME_SECRET;
    const historySecret = opts.historySecret ?? DEFAULT_HISTORY_SECRET;
    for (const [variable, name] of [
      ['CARACAL_K8S_SECRET', secret],
      ['CARACAL_K8S_HISTORY_SECRET', historySecret],
    ] as const) {
      if (name.length > 253 || !SECRET_NAME.test(name)) {
        throw new SecretsError('invalid_config', `${variable} must be a Kubernetes object name (${SECRET_NAME.source}, at most 253 characters)`);
      }
    }
    if (secret === historySecret) {
      throw new SecretsError('invalid_config', `the history Secret must not be the Secret Caracal mounts (${secret}): it holds old values that no Caracal pod may read`);
    }
    this.versionsPerSecret = opts.versionsPerSecret ?? DEFAULT_VERSIONS_PER_SECRET;
    if (!Number.isSafeInteger(this.versionsPerSecret) || this.versionsPerSecret < 2) {
      throw new SecretsError('invalid_config', 'versions per secret must be an integer of at least 2 (a rotation records the value before it and its new value)');
    }
    this.recordRetentionMs = opts.recordRetentionMs ?? DEFAULT_RECORD_RETENTION_MS;
    this.createHistorySecret = opts.createHistorySecret ?? true;
    this.now = opts.now ?? (() => new Date());
    const maxAttempts = opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) throw new SecretsError('invalid_config', 'max attempts must be a positive integer');

    const connection = resolveKubernetesConnection(opts);
    this.namespace = connection.namespace;
    const client = new KubernetesApiClient(connection, { requestTimeoutMs: opts.requestTimeoutMs });
    this.runtime = new SecretResource(client, this.namespace, secret, {
      maxAttempts,
      logger: opts.logger,
      notFoundHint:
        `Caracal's Helm chart creates it (infra/helm/caracal, templates/secret.yaml, with secrets.create=true), or your secret manager does ` +
        `under the name in secrets.runtimeSecretName; set CARACAL_K8S_SECRET and CARACAL_K8S_NAMESPACE to the Secret Caracal mounts.`,
    });
    this.history = new SecretResource(client, this.namespace, historySecret, {
      maxAttempts,
      logger: opts.logger,
      notFoundHint: this.createHistorySecret
        ? 'The orchestrator creates it on first use.'
        : `Create it with the labels ${labelList()} (the store was told not to create it).`,
    });
  }

  location(name: string): string {
    assertSecretName(name);
    return this.runtime.location(name);
  }

  async ensureReady(): Promise<void> {
    if (this.createHistorySecret && !(await this.history.get())) {
      await this.history.create({ ...HISTORY_SECRET_LABELS }, HISTORY_SECRET_ANNOTATIONS);
    }
    await this.assertSafe();
  }

  /**
   * The runtime Secret exists and no controller owns it (an ExternalSecret
   * or a SealedSecret would put the old value back at its next sync); the
   * history Secret is ours by its labels, or absent and ours to create.
   */
  async assertSafe(): Promise<void> {
    this.assertRuntimeOurs(await this.runtime.require());
    const history = await this.history.get();
    if (history) this.assertHistoryOurs(history);
    else if (!this.createHistorySecret) {
      throw new UnsafeStoreError('missing', this.history.location(), `${this.history.notFound().message}`);
    }
  }

  async read(name: string): Promise<string | undefined> {
    assertSecretName(name);
    const value = (await this.runtime.require()).data.get(name);
    return value?.replace(/(?:\r?\n)+$/, '');
  }

  async write(name: string, value: string): Promise<WriteResult> {
    assertSecretName(name);
    assertStorableValue(value, name);
    const result = { location: this.runtime.location(name), kid: secretIdOf(value) };
    return this.runtime.update(`writing ${name}`, (snapshot) => {
      this.assertRuntimeOurs(snapshot);
      // An unchanged key is not patched: no new resourceVersion, no kubelet resync.
      return { changes: new Map(snapshot.data.get(name) === value ? [] : [[name, value]]), result };
    });
  }

  async remove(name: string): Promise<void> {
    assertSecretName(name);
    await this.runtime.update(`removing ${name}`, (snapshot) => {
      this.assertRuntimeOurs(snapshot);
      return { changes: new Map(snapshot.data.has(name) ? [[name, null]] : []), result: undefined };
    });
  }

  async recordVersion(name: string, value: string, meta: VersionMeta): Promise<RecordResult> {
    assertSecretName(name);
    assertStorableValue(value, `history of ${name}`);
    assertVersionMeta(meta);
    const kid = secretIdOf(value);
    return this.updateHistory(`recording a version of ${name}`, (snapshot) => {
      const versions = this.versionsOf(snapshot, name);
      const same = findStep(versions, meta);
      if (same) return { changes: new Map(), result: sameStep(same, kid) };

      const seq = (versions.at(-1)?.seq ?? 0) + 1;
      const key = versionKey(name, seq);
      const recordedAt = this.now().toISOString();
      const changes = new Map<string, string | null>([[key, serializeVersion(value, kid, meta, recordedAt)]]);
      // The new version counts against the limit; the oldest go.
      for (const old of excessVersionKeys(versions, this.versionsPerSecret - 1)) changes.set(old, null);
      const result: RecordResult = { name, seq, kid, rotationId: meta.rotationId, phase: meta.phase, recordedAt, location: this.history.location(key), recorded: true };
      return { changes, result };
    });
  }

  async listVersions(name: string): Promise<VersionInfo[]> {
    assertSecretName(name);
    const snapshot = await this.historySnapshot();
    return snapshot ? this.versionsOf(snapshot, name).map(withoutValue) : [];
  }

  async findVersion(name: string, meta: VersionMeta): Promise<VersionInfo | undefined> {
    assertSecretName(name);
    assertVersionMeta(meta);
    const snapshot = await this.historySnapshot();
    const version = snapshot && findStep(this.versionsOf(snapshot, name), meta);
    return version ? withoutValue(version) : undefined;
  }

  async readVersion(name: string, kid: string): Promise<string | undefined> {
    assertSecretName(name);
    const snapshot = await this.historySnapshot();
    return snapshot ? newestWithKid(this.versionsOf(snapshot, name), kid) : undefined;
  }

  async readRecord(rotationId: string): Promise<StoredRotationRecord | undefined> {
    assertRotationId(rotationId);
    const snapshot = await this.historySnapshot();
    return snapshot ? recordIn(snapshot.data, rotationId, (key) => this.history.location(key)) : undefined;
  }

  async writeRecord(record: RotationRecord, expectedRevision = 0): Promise<StoredRotationRecord> {
    const { stored, text } = nextRevision(record, expectedRevision, this.now());
    return this.updateHistory(`writing the record of rotation ${stored.rotationId}`, (snapshot) => {
      const current = recordIn(snapshot.data, stored.rotationId, (key) => this.history.location(key));
      if ((current?.revision ?? 0) !== expectedRevision) throw new RecordConflictError(stored.rotationId, expectedRevision, current?.revision ?? 0);
      return { changes: new Map([[recordKey(stored.rotationId), text]]), result: stored };
    });
  }

  async pruneRecords(olderThan: Date): Promise<number> {
    assertOlderThan(olderThan);
    if (!(await this.historySnapshot())) return 0;
    return this.updateHistory('pruning rotation records', (snapshot) => {
      const stale = staleRecordKeys(snapshot.data, olderThan.getTime(), (key) => this.history.location(key));
      return { changes: new Map(stale.map((key) => [key, null])), result: stale.length };
    });
  }

  /**
   * A compare-and-swap on the history Secret that also deletes records past
   * the retention (so the Secret stays far below 1 MiB without a separate
   * job), refuses a foreign Secret and checks the size before sending. A
   * missing Secret is created first when allowed.
   */
  private async updateHistory<T>(what: string, plan: (snapshot: SecretSnapshot) => UpdatePlan<T>): Promise<T> {
    const planned = (snapshot: SecretSnapshot): UpdatePlan<T> => {
      this.assertHistoryOurs(snapshot);
      const { changes, result } = plan(snapshot);
      if (changes.size === 0) return { changes, result };
      const all = new Map(changes);
      const horizon = this.now().getTime() - this.recordRetentionMs;
      for (const key of staleRecordKeys(snapshot.data, horizon, (k) => this.history.location(k))) if (!all.has(key)) all.set(key, null);
      const size = sizeAfter(snapshot.data, all);
      if (size > MAX_SECRET_BYTES) {
        throw new SecretsError(
          'history_full',
          `${what} would grow Secret ${this.namespace}/${this.history.name} to ${size} bytes, past the API server's ${MAX_SECRET_BYTES}; ` +
            'lower CARACAL_K8S_HISTORY_VERSIONS or prune rotation records',
        );
      }
      return { changes: all, result };
    };
    try {
      return await this.history.update(what, planned);
    } catch (err) {
      if (!(err instanceof SecretsError && err.code === 'store_not_found' && this.createHistorySecret)) throw err;
      await this.history.create({ ...HISTORY_SECRET_LABELS }, HISTORY_SECRET_ANNOTATIONS);
      return this.history.update(what, planned);
    }
  }

  private async historySnapshot(): Promise<SecretSnapshot | undefined> {
    const snapshot = await this.history.get();
    if (snapshot) this.assertHistoryOurs(snapshot);
    return snapshot;
  }

  private versionsOf(snapshot: SecretSnapshot, name: string) {
    return versionsIn(snapshot.data, name, (key) => this.history.location(key));
  }

  private assertRuntimeOurs(snapshot: SecretSnapshot): void {
    const controller = snapshot.ownerReferences.find((ref) => ref.controller === true);
    if (controller) {
      throw new UnsafeStoreError(
        'managed_elsewhere',
        this.runtime.location(),
        `Secret ${this.namespace}/${this.runtime.name} is controlled by ${controller.kind ?? 'an object'} ${controller.name ?? ''}, which would put the old values back at its next sync; ` +
          'rotate at that source, or let the orchestrator own the Secret',
      );
    }
  }

  private assertHistoryOurs(snapshot: SecretSnapshot): void {
    const missing = Object.entries(HISTORY_SECRET_LABELS).filter(([k, v]) => snapshot.labels[k] !== v);
    if (missing.length > 0) {
      throw new UnsafeStoreError(
        'foreign_history',
        this.history.location(),
        `Secret ${this.namespace}/${this.history.name} exists but is not the orchestrator's history (it lacks the labels ${labelList()}); ` +
          'it may be mounted by other pods, so old values must not go there. Set CARACAL_K8S_HISTORY_SECRET to another name, or label it if it is ours',
      );
    }
  }
}

function labelList(): string {
  return Object.entries(HISTORY_SECRET_LABELS)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}
