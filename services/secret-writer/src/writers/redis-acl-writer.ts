import { createHash } from 'node:crypto';
import type { redisAclTargetSchema } from '@caracal-rotation/contracts';
import { keyIdOf, type SecretStore } from '@caracal-rotation/secrets';
import { Redis } from 'ioredis';
import type { z } from 'zod';
import type { MaterialWriter, WriteContext, WriteOutcome } from './material-writer.js';
import { renderUrlTemplate } from './postgres-role-writer.js';
import type { Phase } from './types.js';
import { RotationHistory } from './rotation-history.js';
import { WriteRefused } from './write-refused.js';

export type RedisAclTarget = z.infer<typeof redisAclTargetSchema>;

export interface RedisAclWriterOptions {
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

/** How Redis ACL names a password: the SHA-256 hex of its text (`ACL GETUSER` lists these). */
export const aclPasswordHash = (password: string): string => createHash('sha256').update(password, 'utf8').digest('hex');

/**
 * Rotates the password of a Redis ACL user (catalog writer `redis-acl`).
 * ACL keeps several passwords per user, which gives the overlap window:
 *
 * - stage: the new password is added to the user (the old one stays), so
 *   both authenticate;
 * - deploy: `redisPassword` and the derived `redisUrl` are written with the
 *   new password (the new password is added too, when stage was skipped);
 * - retire: the old password is removed by its hash (`!<sha256>`), so its
 *   cleartext is never sent again;
 * - rollback: the new password is removed by its hash, the old one is kept
 *   (added back if it is missing) and the files are restored exactly.
 *
 * The state before the rotation and the new password are recorded in the
 * version history once, as FileWriter does, so every phase can be repeated.
 * Each ACL change looks at `ACL GETUSER` first and only adds or removes what
 * is missing or present. The user must exist (bootstrap creates it).
 * Redis echoes a rejected ACL modifier in its error, so every error is
 * replaced by one naming the user and the Redis error code only.
 */
export class RedisAclWriter implements MaterialWriter {
  private readonly history: RotationHistory;

  constructor(
    private readonly store: SecretStore,
    private readonly target: RedisAclTarget,
    private readonly options: RedisAclWriterOptions = {},
  ) {
    this.history = new RotationHistory(store);
  }

  async write(phase: Phase, { rotationId, plan }: WriteContext): Promise<WriteOutcome> {
    if (!plan.secret) throw new WriteRefused(`${plan.material} has no secret file in its plan`);
    const file = plan.secret.file;
    const derived = plan.derived;
    const { user } = this.target;

    const before = await this.history.snapshot(rotationId, file, derived);
    const next = await this.history.newValue(rotationId, file, plan.format);
    const location = this.store.pathOf(file);
    const forward: WriteOutcome = { new: { kid: keyIdOf(next), location }, previous: { kid: keyIdOf(before.primary) }, changed: true };

    switch (phase) {
      case 'stage':
        // Holders still use the old password; the server accepts both.
        await this.withAdmin(async (acl) => acl.addPassword(next));
        return forward;
      case 'deploy':
        await this.withAdmin(async (acl) => acl.addPassword(next));
        await this.store.write(file, next);
        for (const name of derived) await this.store.write(name, renderUrlTemplate(this.target.url_template, user, next));
        return forward;
      case 'retire':
        await this.withAdmin(async (acl) => acl.removePassword(before.primary));
        return forward;
      case 'rollback':
        await this.withAdmin(async (acl) => {
          await acl.addPassword(before.primary);
          await acl.removePassword(next);
        });
        await this.history.restore(file, derived, before);
        return { new: { kid: keyIdOf(before.primary), location }, previous: { kid: keyIdOf(next) }, changed: true };
    }
  }

  /** Opens the admin connection, checks that the user exists, runs `fn`, closes. */
  private async withAdmin(fn: (acl: AclUser) => Promise<void>): Promise<void> {
    const { user, admin_url_file: urlFile } = this.target;
    const url = await this.store.read(urlFile);
    if (!url) throw new WriteRefused(`the Redis admin URL file ${this.store.pathOf(urlFile)} is missing or empty`);
    let redis: Redis;
    try {
      redis = new Redis(url, {
        protocol: 2,
        lazyConnect: true,
        connectionName: 'caracal-secret-writer',
        connectTimeout: this.options.connectTimeoutMs ?? 5000,
        commandTimeout: this.options.commandTimeoutMs ?? 5000,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
    } catch {
      throw new WriteRefused(`the Redis admin URL in ${urlFile} is not a valid Redis URL`);
    }
    // Without retries, connect() rejects with "Connection is closed"; the cause arrives as an `error` event.
    let socketError: unknown;
    redis.on('error', (err: unknown) => {
      socketError = err;
    });
    try {
      try {
        await redis.connect();
      } catch (err) {
        throw new Error(`cannot connect to Redis with ${urlFile} to change the passwords of ACL user ${user} (${redisErrorCode(socketError ?? err)})`);
      }
      const acl = new AclUser(redis, user);
      await acl.assertExists();
      await fn(acl);
    } finally {
      redis.disconnect();
    }
  }
}

/** The ACL commands of one user, each with a sanitized error. */
class AclUser {
  constructor(
    private readonly redis: Redis,
    readonly user: string,
  ) {}

  async assertExists(): Promise<void> {
    if ((await this.passwordHashes()) === undefined) throw new WriteRefused(`Redis ACL user ${this.user} does not exist; bootstrap creates it`);
  }

  /** Adds the password unless the user has it already (ACL SETUSER on >password). */
  async addPassword(password: string): Promise<void> {
    const hashes = await this.passwordHashes();
    if (hashes?.includes(aclPasswordHash(password))) return;
    await this.run('SETUSER', ['on', `>${password}`]);
  }

  /** Removes the password by its hash (ACL SETUSER !sha256) when the user has it. */
  async removePassword(password: string): Promise<void> {
    const hash = aclPasswordHash(password);
    const hashes = await this.passwordHashes();
    if (!hashes?.includes(hash)) return;
    await this.run('SETUSER', [`!${hash}`]);
  }

  /** The user's password hashes, or undefined when there is no such user. */
  private async passwordHashes(): Promise<string[] | undefined> {
    const reply = await this.run('GETUSER', []);
    if (reply === null) return undefined;
    if (!Array.isArray(reply)) throw new Error(`ACL GETUSER ${this.user} answered in an unexpected form`);
    const at = reply.indexOf('passwords');
    const passwords: unknown = at >= 0 ? reply[at + 1] : undefined;
    return Array.isArray(passwords) ? passwords.map(String) : [];
  }

  private async run(subcommand: 'GETUSER' | 'SETUSER', args: string[]): Promise<unknown> {
    try {
      return await this.redis.call('ACL', subcommand, this.user, ...args);
    } catch (err) {
      const code = redisErrorCode(err);
      if (code === 'NOPERM') throw new WriteRefused(`the Redis admin connection may not run ACL ${subcommand} (NOPERM) for user ${this.user}`);
      throw new Error(`ACL ${subcommand} ${this.user} failed (${code})`);
    }
  }
}

/** The Redis error code (`ERR`, `NOPERM`, `WRONGPASS`…) or the socket errno name: never the message, which may quote the command. */
function redisErrorCode(err: unknown): string {
  const errno = (err as { code?: unknown } | undefined)?.code;
  if (typeof errno === 'string' && /^[A-Z0-9_]{1,32}$/.test(errno)) return errno;
  const message = err instanceof Error ? err.message : '';
  return /^[A-Z]{2,32}(?=\s|$)/.exec(message)?.[0] ?? 'no code';
}
