import type { RedisClient } from '@caracal-rotation/bus';
import type { HoldersConfig } from '@caracal-rotation/contracts';
import type { SecretStore } from '@caracal-rotation/secrets';
import type { WriterRegistry } from '../secret-writer.js';
import { FileWriter } from './file-writer.js';
import { PostgresRoleWriter } from './postgres-role-writer.js';
import { RedisAclWriter } from './redis-acl-writer.js';
import { ZoneKeyWriter } from './zone-key-writer.js';

/**
 * The writers this secret-writer can run: files always; the others only when
 * the holders file says where their targets are. A plan naming a writer that
 * is absent ends on `failed` with a message that says so.
 */
export function buildWriters(store: SecretStore, holders: HoldersConfig | undefined, redis: RedisClient, streamPrefix: string): WriterRegistry {
  const writers: WriterRegistry = { file: new FileWriter(store) };
  if (!holders) return writers;
  if (holders.zones || holders.holders.sts) writers['sts-zone-key'] = new ZoneKeyWriter(store, holders, redis, streamPrefix);
  if (holders.postgres) writers['postgres-role'] = new PostgresRoleWriter(store, holders.postgres);
  if (holders.redis_acl) writers['redis-acl'] = new RedisAclWriter(store, holders.redis_acl);
  return writers;
}
