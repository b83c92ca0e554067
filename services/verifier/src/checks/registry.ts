import { auditNewKeyAccepted, auditOldKeyRefused } from './audit-key.js';
import { auditIngest, gatewayExchange, holdersReady, revocationPropagation } from './baseline.js';
import { busKeyLoaded } from './bus-key.js';
import type { CheckRegistry } from './context.js';
import { gatewayNewKeyAccepted, gatewayOldKeyRefused } from './gateway-key.js';
import { holdersRestarted } from './holders-restarted.js';
import { kekReseal, kekRowsOnNewKek, kekZoneKeysOpen } from './kek.js';
import { postgresLoginNew, postgresLoginOldRefused, redisAuthNew, redisAuthOldRefused } from './passwords.js';
import { streamsNewKeyAccepted, streamsOldKeyRefused } from './streams-key.js';
import { adminTokenAccepted, adminTokenOldRefused, coordinatorTokenAccepted, coordinatorTokenOldRefused } from './tokens.js';
import { jwksKeysValid, jwksNewKid } from './zone-keys.js';

/** Every check of libs/contracts CHECK_NAMES, each with Caracal's own probes (docs/caracal-contract.md). */
export const CHECKS: CheckRegistry = {
  holders_ready: holdersReady,
  audit_ingest: auditIngest,
  revocation_propagation: revocationPropagation,
  gateway_exchange: gatewayExchange,
  holders_restarted: holdersRestarted,
  audit_new_key_accepted: auditNewKeyAccepted,
  audit_old_key_refused: auditOldKeyRefused,
  streams_new_key_accepted: streamsNewKeyAccepted,
  streams_old_key_refused: streamsOldKeyRefused,
  gateway_new_key_accepted: gatewayNewKeyAccepted,
  gateway_old_key_refused: gatewayOldKeyRefused,
  admin_token_accepted: adminTokenAccepted,
  admin_token_old_refused: adminTokenOldRefused,
  coordinator_token_accepted: coordinatorTokenAccepted,
  coordinator_token_old_refused: coordinatorTokenOldRefused,
  jwks_new_kid: jwksNewKid,
  jwks_keys_valid: jwksKeysValid,
  kek_reseal: kekReseal,
  kek_rows_on_new_kek: kekRowsOnNewKek,
  kek_zone_keys_open: kekZoneKeysOpen,
  postgres_login_new: postgresLoginNew,
  postgres_login_old_refused: postgresLoginOldRefused,
  redis_auth_new: redisAuthNew,
  redis_auth_old_refused: redisAuthOldRefused,
  bus_key_loaded: busKeyLoaded,
};

/** Checks that walk all of Caracal's data and get the long bound. */
export const LONG_CHECKS: ReadonlySet<string> = new Set(['kek_reseal', 'kek_zone_keys_open']);
