/**
 * @caracal-rotation/secrets: the secret stores of the rotation orchestrator
 * (docs/architecture.md §8) and the helpers around them. Nothing exported
 * here puts a secret value into an error, and ids/fingerprints are the only
 * derived values meant for logs and events.
 */
export { resolveSecretsDir, resolveRotationDir } from './dir.js';
export { readSecretFromEnv } from './env.js';
export { keyIdOf, fingerprintOf, secretIdOf } from './ids.js';
export { generateKeyHex, generatePasswordHex, generateKekHex, KEY_BYTES, PASSWORD_BYTES, KEK_BYTES } from './generate.js';
export { assertHexKey, isCleanHex, type HexKeyRules } from './hex.js';
export { isWeakKek } from './weak-kek.js';
export { SecretsError, UnsafeStoreError, UnsafeSecretsDirError, type SecretsErrorCode, type UnsafeReason } from './errors.js';
export { SECRET_NAME_PATTERN, PREVIOUS_SUFFIX, assertSecretName, previousName } from './names.js';
export { isWithin } from './safety.js';
export type { SecretStore, WriteResult } from './secret-store.js';
export { FileSecretStore, SECRET_FILE_MODE, type FileSecretStoreOptions, type FileWriteResult } from './file-store.js';
export { HISTORY_DIR } from './history.js';
export { RECORDS_DIR } from './file-records.js';
export type { VersionMeta, VersionInfo, RecordResult } from './versions.js';
export {
  RecordConflictError,
  ROTATION_ID_PATTERN,
  MAX_RECORD_BYTES,
  type JsonValue,
  type RotationRecord,
  type StoredRotationRecord,
} from './records.js';
export { KubernetesSecretStore, HISTORY_SECRET_LABELS, DEFAULT_RUNTIME_SECRET, DEFAULT_HISTORY_SECRET, DEFAULT_VERSIONS_PER_SECRET, DEFAULT_RECORD_RETENTION_MS, type KubernetesSecretStoreOptions } from './kubernetes/store.js';
export { resolveKubernetesConnection, SERVICE_ACCOUNT_DIR, type KubernetesConnection, type KubernetesConnectionOptions } from './kubernetes/connection.js';
export { KubernetesStoreError } from './kubernetes/errors.js';
export type { StoreLogger } from './kubernetes/secret-resource.js';
export { secretStoreConfigSchema, SECRET_STORE_KINDS, type SecretStoreConfig, type SecretStoreKind } from './config.js';
export { createSecretStore, type CreateSecretStoreOptions } from './create-store.js';
export { writeFileAtomic } from './atomic-write.js';
