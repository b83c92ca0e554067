import type { HoldersConfig, Plan } from '@caracal-rotation/contracts';
import type { SecretStore } from '@caracal-rotation/secrets';
import { FileWriter } from './file-writer.js';
import type { MaterialWriter } from './material-writer.js';
import { PostgresRoleWriter } from './postgres-role-writer.js';
import { RedisPasswordWriter } from './redis-password-writer.js';
import { ZoneKeyWriter } from './zone-key-writer.js';

export type WriterRegistry = Partial<Record<Plan['writer'], MaterialWriter>>;

/**
 * The writers this secret-writer can run: files always; the others only where
 * the holders file says where their targets are. A plan naming a writer that
 * is absent ends on `failed` with a message that says so.
 */
export function buildWriters(store: SecretStore, holders: HoldersConfig): WriterRegistry {
  return {
    file: new FileWriter(store),
    ...(holders.services.sts ? { 'sts-zone-key': new ZoneKeyWriter(store, holders) } : {}),
    ...(holders.postgres ? { 'postgres-role': new PostgresRoleWriter(store, holders.postgres) } : {}),
    ...(holders.redis ? { 'redis-password': new RedisPasswordWriter(store, holders.redis) } : {}),
  };
}
