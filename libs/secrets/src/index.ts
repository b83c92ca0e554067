/**
 * @caracal-rotation/secrets: the file-backed secret store of the rotation
 * orchestrator (DESIGN.md §4) and the helpers around it. Nothing exported
 * here puts a secret value into an error, and ids/fingerprints are the only
 * derived values meant for logs and events.
 */
export { resolveSecretsDir } from './dir.js';
export { readSecretFromEnv } from './env.js';
export { keyIdOf, fingerprintOf, secretIdOf } from './ids.js';
export { generateKeyHex, generatePasswordHex, generateKekHex, KEY_BYTES, PASSWORD_BYTES, KEK_BYTES } from './generate.js';
export { assertHexKey, isCleanHex, type HexKeyRules } from './hex.js';
export { isWeakKek } from './weak-kek.js';
export { SecretsError, UnsafeSecretsDirError, type SecretsErrorCode, type UnsafeReason } from './errors.js';
export { SECRET_NAME_PATTERN, PREVIOUS_SUFFIX, assertSecretName, previousName } from './names.js';
export { isWithin } from './safety.js';
export { SecretStore, SECRET_FILE_MODE, type SecretStoreOptions } from './store.js';
export { HISTORY_DIR, type VersionMeta, type VersionInfo, type RecordResult } from './history.js';
